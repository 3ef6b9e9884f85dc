import type { Comment, CommentStatus, EventHandlers, PostsView, PostWithComments } from '@blog/common';

/** The read model the client shows: every post with its comments, joined from the events. */
export class QueryStore {
  private readonly posts = new Map<string, PostWithComments>();
  private readonly comments = new Map<string, Comment>();

  addPost(id: string, title: string): void {
    if (!this.posts.has(id)) this.posts.set(id, { id, title, comments: [] });
  }

  addComment(postId: string, id: string, content: string, status: CommentStatus): void {
    if (this.comments.has(id)) return;
    const post = this.posts.get(postId);
    if (!post) throw new Error(`comment ${id} belongs to unknown post ${postId}`);
    const comment = { id, content, status };
    post.comments.push(comment);
    this.comments.set(id, comment);
  }

  updateComment(id: string, content: string, status: CommentStatus): void {
    const comment = this.comments.get(id);
    if (!comment) throw new Error(`update for unknown comment ${id}`);
    comment.content = content;
    comment.status = status;
  }

  /** Every post with its comments, by id, in creation order. */
  view(): PostsView {
    return Object.fromEntries(this.posts);
  }
}

export function queryEventHandlers(store: QueryStore): EventHandlers {
  return {
    PostCreated: ({ id, title }) => store.addPost(id, title),
    CommentCreated: ({ id, postId, content, status }) => store.addComment(postId, id, content, status),
    CommentUpdated: ({ id, content, status }) => store.updateComment(id, content, status),
  };
}
