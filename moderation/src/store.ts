import type { EventData } from '@blog/common';
import { StateDb, type StateSchema } from '@blog/common/state';

type CommentData = EventData<'CommentCreated'>;

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
    created: db.prepare<[string, string, string, string]>(
      'INSERT OR IGNORE INTO comments (id, post_id, content, status) VALUES (?, ?, ?, ?)',
    ),
    // A decision can be in the log without its comment (a CommentCreated skipped as invalid): it is kept, so no later copy waits.
    moderated: db.prepare<[string]>(`
      INSERT INTO comments (id, post_id, content, status, decided) VALUES (?, '', '', '', 1)
      ON CONFLICT (id) DO UPDATE SET decided = 1`),
    // The placeholder of a decision without its comment has no post.
    comment: db.prepare<[string], { postId: string; content: string }>(
      "SELECT post_id AS postId, content FROM comments WHERE id = ? AND post_id != ''",
    ),
    awaiting: db.prepare<[string], CommentData>(
      'SELECT id, post_id AS postId, content, status FROM comments WHERE id = ? AND decided = 0',
    ),
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
