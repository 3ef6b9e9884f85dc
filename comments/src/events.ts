import { insertBySeq, reactionId, Reactor, removeBySeq, type Comment, type CommentStatus, type EventHandlers, type EventPublisher, type Logger } from '@blog/common';

interface StoredComment extends Comment {
  postId: string;
  /** Position of its CommentCreated in the log: the order a post's comments are listed in. */
  seq: number;
  /** Status of the last CommentUpdated in the log for this comment, if any. */
  publishedStatus?: CommentStatus;
  /** Seq of the CommentModerated that set the current status. */
  decidedAt?: number;
}

/** Comments by post, plus the posts known from PostCreated; rebuilt from the event history at start. */
export class CommentStore {
  private readonly byPost = new Map<string, StoredComment[]>();
  private readonly byId = new Map<string, StoredComment>();

  addPost(postId: string): void {
    if (!this.byPost.has(postId)) this.byPost.set(postId, []);
  }

  hasPost(postId: string): boolean {
    return this.byPost.has(postId);
  }

  /**
   * Adds a comment unless it is already known (a replayed or echoed CommentCreated). Of two with one
   * comment id, the first in the log wins on every replica, even on one that added the later one first (a
   * keyed create it published itself while behind the log: docs/architecture.md); its state stays.
   */
  addComment(postId: string, comment: Comment, seq: number): void {
    const known = this.byId.get(comment.id);
    if (known && known.seq <= seq) return;
    if (known) {
      removeBySeq(this.byPost.get(known.postId) ?? [], known);
      Object.assign(known, { content: comment.content, postId, seq });
    }
    const stored: StoredComment = known ?? { id: comment.id, content: comment.content, status: comment.status, postId, seq };
    this.byId.set(comment.id, stored);
    this.addPost(postId);
    const comments = this.byPost.get(postId);
    if (comments) insertBySeq(comments, stored);
  }

  get(commentId: string): StoredComment | undefined {
    return this.byId.get(commentId);
  }

  /** The comments of a post in the order of the log; empty for an unknown post. */
  commentsOf(postId: string): Comment[] {
    return (this.byPost.get(postId) ?? []).map(({ id, content, status }) => ({ id, content, status }));
  }
}

/**
 * On CommentModerated the comment takes the moderation's status and a CommentUpdated is due — unless the
 * log already holds one with that status, which is what makes replaying history emit nothing again.
 */
export function commentEventHandlers(store: CommentStore, updates: Reactor): EventHandlers {
  return {
    PostCreated: ({ id }) => store.addPost(id),
    CommentCreated: ({ id, postId, content, status }, { seq }) => store.addComment(postId, { id, content, status }, seq),
    CommentModerated: ({ id, postId, content, status }, { seq }) => {
      store.addComment(postId, { id, content, status }, seq);
      const comment = store.get(id);
      if (!comment) return;
      comment.status = status;
      comment.decidedAt = seq;
      if (comment.publishedStatus !== status) updates.need(id);
    },
    CommentUpdated: ({ id, status }) => {
      const comment = store.get(id);
      if (!comment) return;
      comment.publishedStatus = status;
      // This echo settles the update that was in flight; if the status moved on meanwhile, another is due.
      updates.done(id);
      if (comment.status !== status) updates.need(id);
    },
  };
}

/** The reactor that publishes a CommentUpdated with the comment's current state whenever one is due. */
export function commentUpdates(store: CommentStore, bus: EventPublisher, logger: Logger): Reactor {
  return new Reactor({
    logger,
    react: async (commentId) => {
      const comment = store.get(commentId);
      if (!comment) return;
      const { id, postId, content, status, decidedAt } = comment;
      // One update per decision: a retried publish carries the same id, so the bus stores it once.
      await bus.publish({ type: 'CommentUpdated', data: { id, postId, content, status } }, { id: reactionId(`CommentUpdated:${id}@${decidedAt ?? 0}`) });
    },
  });
}
