import { pageOf, type Page, type PageRequest, type Post } from '@blog/common';
import { type SqlStatement, StateDb, type StateSchema } from '@blog/common/state';

export const POSTS_SCHEMA: StateSchema = {
  service: 'posts',
  version: 1,
  // seq: the position of the post's PostCreated in the log, the order posts are listed in.
  tables: `
    CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY, title TEXT NOT NULL, seq INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS posts_by_seq ON posts (seq);
  `,
};

/** The posts this service has created, built from the event log, in its own database. */
export class PostStore {
  private readonly upsert: SqlStatement<[string, string, number]>;
  private readonly byId: SqlStatement<[string], Post>;
  private readonly createdAt: SqlStatement<[string], { title: string; seq: number }>;
  private readonly newestFirst: SqlStatement<[number, number], Post & { seq: number }>;

  constructor(readonly state: StateDb = StateDb.open({ file: ':memory:', schema: POSTS_SCHEMA })) {
    const { db } = state;
    // Of two PostCreated with one post id, the first in the log wins on every replica, even on one that
    // added the later one first (a keyed create it published itself while behind the log: docs/architecture.md).
    this.upsert = db.prepare(`
      INSERT INTO posts (id, title, seq) VALUES (?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET title = excluded.title, seq = excluded.seq WHERE excluded.seq < posts.seq`);
    this.byId = db.prepare('SELECT id, title FROM posts WHERE id = ?');
    this.createdAt = db.prepare('SELECT title, seq FROM posts WHERE id = ?');
    this.newestFirst = db.prepare('SELECT id, title, seq FROM posts WHERE seq < ? ORDER BY seq DESC LIMIT ?');
  }

  /** Adds a post unless it is already known (a replayed or echoed PostCreated). */
  add(post: Post, seq: number): void {
    this.upsert.run(post.id, post.title, seq);
  }

  /** The post's title and the seq of the PostCreated that gave it. */
  stored(id: string): { title: string; seq: number } | undefined {
    return this.createdAt.get(id);
  }

  get(id: string): Post | undefined {
    return this.byId.get(id);
  }

  /** The newest `limit` posts before the cursor, in the order of the log. */
  page({ limit, before }: PageRequest): Page<Post> {
    const { items, olderBefore } = pageOf(this.newestFirst.all(before ?? Number.MAX_SAFE_INTEGER, limit + 1), limit);
    return { items: items.map(({ id, title }) => ({ id, title })), olderBefore };
  }
}
