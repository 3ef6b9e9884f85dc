/**
 * Query's whole view, however long: `GET /posts` pages followed by their Link headers, and the older
 * comments of each post that has more than its page shows read from the comments service. A service
 * that answers everything at once (the course's) is read in one request.
 */
import { isComment, postsOfView, type Comment, type PostsView } from '@blog/common/api';
import type { JsonClient } from './http';

export async function readWholeView(query: JsonClient, comments: JsonClient): Promise<PostsView> {
  const pages: PostsView[] = [];
  for (let path: string | undefined = '/posts'; path !== undefined;) {
    const { status, body, nextPage } = await query.get(path);
    if (status !== 200) throw new Error(`GET ${path} on query answered ${status}`);
    const posts = postsOfView(body);
    if (!posts) throw new Error(`GET ${path} on query answered something else than posts`);
    const page: PostsView = {};
    for (const post of posts) {
      const older = post.olderComments === undefined ? [] : await readOlderComments(comments, post.olderComments);
      page[post.id] = { id: post.id, title: post.title, comments: [...older, ...post.comments] };
    }
    pages.push(page);
    path = nextPage;
  }
  // Each page is older than the one before it; the view lists the oldest first.
  return Object.assign({}, ...pages.reverse()) as PostsView;
}

async function readOlderComments(comments: JsonClient, first: string): Promise<Comment[]> {
  const pages: Comment[][] = [];
  for (let path: string | undefined = first; path !== undefined;) {
    const { status, body, nextPage } = await comments.get(path);
    if (status !== 200 || !Array.isArray(body) || !body.every(isComment))
      throw new Error(`GET ${path} on comments answered ${status} without a list of comments`);
    pages.push(body);
    path = nextPage;
  }
  return pages.reverse().flat();
}
