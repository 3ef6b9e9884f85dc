import {
  commentContradiction,
  idReused,
  reactionId,
  Reactor,
  type CommentStatus,
  type EventData,
  type EventHandlers,
  type EventPublisher,
  type Logger,
} from '@blog/common';
import { StateDb, type StateSchema } from '@blog/common/state';

type CommentData = EventData<'CommentCreated'>;

/** The words that get a comment rejected unless BLOCKED_WORDS says otherwise. */
export const DEFAULT_BLOCKED_WORDS: readonly string[] = ['orange'];

/** Approved unless the content contains one of the blocked words (case-insensitive). */
export function moderate(content: string, blockedWords: readonly string[]): Exclude<CommentStatus, 'pending'> {
  const text = content.toLowerCase();
  return blockedWords.some((word) => text.includes(word.toLowerCase())) ? 'rejected' : 'approved';
}

export const MODERATION_SCHEMA: StateSchema = {
  service: 'moderation',
  // 2: a decision that contradicts its comment no longer settles it: a state built by version 1 is rebuilt.
  version: 2,
  // A comment waits (decided = 0) from its first CommentCreated until its CommentModerated is in the log.
  tables: `
    CREATE TABLE IF NOT EXISTS comments (
      id TEXT PRIMARY KEY,
      post_id TEXT NOT NULL,
      content TEXT NOT NULL,
      status TEXT NOT NULL,
      decided INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS comments_awaiting ON comments (id) WHERE decided = 0;
  `,
};

function moderationStatements({ db }: StateDb) {
  return {
    // Of two CommentCreated with one comment id, the first in the log is the comment, as everywhere else.
    created: db.prepare<[string, string, string, string]>('INSERT OR IGNORE INTO comments (id, post_id, content, status) VALUES (?, ?, ?, ?)'),
    // A decision can be in the log without its comment (a CommentCreated skipped as invalid): it is kept, so no later copy waits.
    moderated: db.prepare<[string]>(`
      INSERT INTO comments (id, post_id, content, status, decided) VALUES (?, '', '', '', 1)
      ON CONFLICT (id) DO UPDATE SET decided = 1`),
    // The placeholder of a decision without its comment has no post.
    comment: db.prepare<[string], { postId: string; content: string }>("SELECT post_id AS postId, content FROM comments WHERE id = ? AND post_id != ''"),
    awaiting: db.prepare<[string], CommentData>('SELECT id, post_id AS postId, content, status FROM comments WHERE id = ? AND decided = 0'),
    allAwaiting: db.prepare<[], string>('SELECT id FROM comments WHERE decided = 0').pluck(),
  };
}

/** Comments still waiting for a decision, and the ids already decided (their CommentModerated is in the log). */
export class ModerationStore {
  private readonly statements: ReturnType<typeof moderationStatements>;

  constructor(readonly state: StateDb = StateDb.open({ file: ':memory:', schema: MODERATION_SCHEMA })) {
    this.statements = moderationStatements(state);
  }

  /** Returns true when the comment still needs a decision (its first CommentCreated, not yet decided). */
  commentCreated(comment: CommentData): boolean {
    return this.statements.created.run(comment.id, comment.postId, comment.content, comment.status).changes === 1;
  }

  /** The post and content of a comment its CommentCreated gave. */
  comment(id: string): { postId: string; content: string } | undefined {
    return this.statements.comment.get(id);
  }

  commentModerated(id: string): void {
    this.statements.moderated.run(id);
  }

  awaitingDecision(id: string): CommentData | undefined {
    return this.statements.awaiting.get(id);
  }

  /** Every comment still waiting for its decision. */
  allAwaiting(): string[] {
    return this.statements.allAwaiting.all();
  }
}

/**
 * A CommentCreated asks for a decision unless the log already holds its CommentModerated, so replaying the
 * history never moderates a comment twice. A CommentCreated that reuses a comment's id for another body,
 * and a decision that names another post or content than its comment's, are rejected: the comment keeps
 * waiting for its own decision. Moderation does not follow posts; a comment on an unknown post is
 * decided, and that decision is rejected by comments, which knows the posts.
 */
export function moderationEventHandlers(store: ModerationStore, decisions: Reactor): EventHandlers {
  return {
    CommentCreated: (comment) => {
      const known = store.comment(comment.id);
      if (known && (known.postId !== comment.postId || known.content !== comment.content)) return idReused('comment', comment.id);
      if (store.commentCreated(comment)) decisions.need(comment.id);
    },
    CommentModerated: (decision) => {
      const { id } = decision;
      const known = store.comment(id);
      if (known) {
        const rejection = commentContradiction(decision, known);
        if (rejection) return rejection;
      }
      store.commentModerated(id);
      decisions.done(id);
    },
  };
}

/** The reactor that decides a waiting comment and publishes CommentModerated. */
export function moderationDecisions(store: ModerationStore, bus: EventPublisher, blockedWords: readonly string[], logger: Logger): Reactor {
  return new Reactor({
    logger,
    outstanding: () => store.allAwaiting(),
    react: async (commentId) => {
      const comment = store.awaitingDecision(commentId);
      if (!comment) return;
      const decision = { type: 'CommentModerated' as const, data: { ...comment, status: moderate(comment.content, blockedWords) } };
      // One decision per comment: a retried publish carries the same id, so the bus stores it once.
      await bus.publish(decision, { id: reactionId(`CommentModerated:${comment.id}`) });
    },
  });
}
