import { ConnectionIndicator } from './components/ConnectionIndicator';
import { PostCreate } from './components/PostCreate';
import { PostList } from './components/PostList';
import { usePosts } from './usePosts';

export function App() {
  const {
    posts,
    loaded,
    loadError,
    connection,
    createPost,
    createComment,
    refresh,
    hasOlderPosts,
    loadOlderPosts,
    loadOlderComments,
  } = usePosts();

  return (
    <div className="app">
      <header className="app-header">
        <h1>Blog</h1>
        <ConnectionIndicator status={connection} />
      </header>
      <main className="app-main">
        <section className="panel" aria-labelledby="create-post-heading">
          <h2 id="create-post-heading">Create Post</h2>
          <PostCreate onCreate={createPost} />
        </section>
        <section aria-labelledby="posts-heading">
          <h2 id="posts-heading">Posts</h2>
          <PostList
            posts={posts}
            loaded={loaded}
            loadError={loadError}
            onRetry={refresh}
            onCreateComment={createComment}
            hasOlderPosts={hasOlderPosts}
            onLoadOlderPosts={loadOlderPosts}
            onLoadOlderComments={loadOlderComments}
          />
        </section>
      </main>
    </div>
  );
}
