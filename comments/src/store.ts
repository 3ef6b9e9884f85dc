import { pageOf, PAGES, type Comment, type Page, type PageRequest, type CommentStatus } from '@blog/common';
import { StateDb, type StateSchema } from '@blog/common/state';

export const COMMENTS_SCHEMA: StateSchema = {
  service: 'comments',
  // 2: posts come from PostCreated alone (version 1 also took a CommentCreated's post), and events that
  // contradict the state are rejected: a state built by version 1 is rebuilt from the log.
  version: 2,
  // seq: the position of the comment's CommentCreated, the order a post's comments are listed in;
  // published_status: the status of the last CommentUpdated in the log for it; decided_at: the seq of the
  // CommentModerated that set the current status. An update is due while the two statuses differ.
  tables: `
    CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS comments (
      id TEXT PRIMARY KEY,
      post_id TEXT NOT NULL,
      content TEXT NOT NULL,
      status TEXT NOT NULL,
      seq INTEGER NOT NULL,
      published_status TEXT,
      decided_at INTEGER
    );
    CREATE INDEX IF NOT EXISTS comments_of_post ON comments (post_id, seq);
    CREATE INDEX IF NOT EXISTS comments_update_due ON comments (id) WHERE decided_at IS NOT NULL AND published_status IS NOT status;
  `,
};

export interface StoredComment extends Comment {
  postId: string;
  /** Seq of the CommentModerated that set the current status. */
  decidedAt?: number;
  /** Status of the last CommentUpdated in the log for this comment, if any. */
  publishedStatus?: CommentStatus;
}

interface CommentRow {
  id: string;
  postId: string;
  content: string;
  status: CommentStatus;
  decidedAt: number | null;
  publishedStatus: CommentStatus | null;
}

const COMMENT_COLUMNS =
  'id, post_id AS postId, content, status, decided_at AS decidedAt, published_status AS publishedStatus';

function commentStatements({ db }: StateDb) {
  return {
    addPost: db.prepare<[string]>('INSERT OR IGNORE INTO posts (id) VALUES (?)'),
    hasPost: db.prepare<[string], unknown>('SELECT 1 FROM posts WHERE id = ?'),
    // Of two CommentCreated with one comment id, the first in the log wins on every replica, even on one
    // that added the later one first (a keyed create it published itself while behind the log:
    // docs/architecture.md); its moderation state stays.
    addComment: db.prepare<[string, string, string, CommentStatus, number]>(`
      INSERT INTO comments (id, post_id, content, status, seq) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET post_id = excluded.post_id, content = excluded.content, seq = excluded.seq
      WHERE excluded.seq < comments.seq`),
    get: db.prepare<[string], CommentRow>(`SELECT ${COMMENT_COLUMNS} FROM comments WHERE id = ?`),
    createdAt: db.prepare<[string], { seq: number }>('SELECT seq FROM comments WHERE id = ?'),
    ofPostNewestFirst: db.prepare<[string, number, number], Comment & { seq: number }>(
      'SELECT id, content, status, seq FROM comments WHERE post_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ),
    decide: db.prepare<[CommentStatus, number, string]>('UPDATE comments SET status = ?, decided_at = ? WHERE id = ?'),
    published: db.prepare<[CommentStatus, string]>('UPDATE comments SET published_status = ? WHERE id = ?'),
    updatesDue: db
      .prepare<[], string>('SELECT id FROM comments WHERE decided_at IS NOT NULL AND published_status IS NOT status')
      .pluck(),
  };
}

/** Comments by post, plus the posts known from PostCreated; built from the event log, in its own database. */
export class CommentStore {
  private readonly statements: ReturnType<typeof commentStatements>;

  constructor(readonly state: StateDb = StateDb.open({ file: ':memory:', schema: COMMENTS_SCHEMA })) {
    this.statements = commentStatements(state);
  }

  addPost(postId: string): void {
    this.statements.addPost.run(postId);
  }

  hasPost(postId: string): boolean {
    return this.statements.hasPost.get(postId) !== undefined;
  }

  /** Adds a comment unless it is already known (a replayed or echoed CommentCreated); its post must be known. */
  addComment(postId: string, comment: Comment, seq: number): void {
    this.statements.addComment.run(comment.id, postId, comment.content, comment.status, seq);
  }

  /** The seq of the CommentCreated that made the comment (its place in the log). */
  createdAt(commentId: string): number | undefined {
    return this.statements.createdAt.get(commentId)?.seq;
  }

  get(commentId: string): StoredComment | undefined {
    const row = this.statements.get.get(commentId);
    if (!row) return undefined;
    const { decidedAt, publishedStatus, ...comment } = row;
    return {
      ...comment,
      ...(decidedAt === null ? {} : { decidedAt }),
      ...(publishedStatus === null ? {} : { publishedStatus }),
    };
  }

  /** The newest `limit` comments of a post before the cursor, in the order of the log; none for an unknown post. */
  commentsOf(
    postId: string,
    { limit, before }: PageRequest = { limit: PAGES.defaultLimit, before: undefined },
  ): Page<Comment> {
    const { items, olderBefore } = pageOf(
      this.statements.ofPostNewestFirst.all(postId, before ?? Number.MAX_SAFE_INTEGER, limit + 1),
      limit,
    );
    return { items: items.map(({ id, content, status }) => ({ id, content, status })), olderBefore };
  }

  /** The moderation's decision, made by the CommentModerated at `seq`. */
  decide(commentId: string, status: CommentStatus, seq: number): void {
    this.statements.decide.run(status, seq, commentId);
  }

  /** The status the log's last CommentUpdated for the comment carries. */
  published(commentId: string, status: CommentStatus): void {
    this.statements.published.run(status, commentId);
  }

  /** The comments whose status differs from the one their last CommentUpdated published. */
  updatesDue(): string[] {
    return this.statements.updatesDue.all();
  }
}
