import type { Change } from './feed';
import type { Comment, CommentStatus, EventHandlers, PostsView, PostWithComments } from '@blog/common';

/** The read model the client shows: every post with its comments, joined from the events. */
export class QueryStore {
  private readonly posts = new Map<string, PostWithComments>();
  private readonly comments = new Map<string, Comment>();

  /** Adds a post; false when it was known already. */
  addPost(id: string, title: string): boolean {
    if (this.posts.has(id)) return false;
    this.posts.set(id, { id, title, comments: [] });
    return true;
  }

  /** Adds a comment to its post; false when it was known already. */
  addComment(postId: string, id: string, content: string, status: CommentStatus): boolean {
    if (this.comments.has(id)) return false;
    const post = this.posts.get(postId);
    if (!post) throw new Error(`comment ${id} belongs to unknown post ${postId}`);
    const comment = { id, content, status };
    post.comments.push(comment);
    this.comments.set(id, comment);
    return true;
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

/** Applies the events to the store; `onChange` hears of each change made, e.g. to stream it. */
export function queryEventHandlers(store: QueryStore, onChange: (change: Change) => void = () => undefined): EventHandlers {
  return {
    PostCreated: (post, { seq }) => {
      if (store.addPost(post.id, post.title)) onChange({ seq, type: 'PostCreated', data: post });
    },
    CommentCreated: (comment, { seq }) => {
      const { id, postId, content, status } = comment;
      if (store.addComment(postId, id, content, status)) onChange({ seq, type: 'CommentCreated', data: comment });
    },
    CommentUpdated: (comment, { seq }) => {
      store.updateComment(comment.id, comment.content, comment.status);
      onChange({ seq, type: 'CommentUpdated', data: comment });
    },
  };
}
