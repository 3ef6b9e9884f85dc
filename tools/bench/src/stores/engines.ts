/**
 * Two embedded stores doing what query's state does, written here for the comparison alone (not query's
 * code): SQLite through better-sqlite3, and LMDB through lmdb-js. The same work for each: apply a page
 * of events in one transaction (a post, a comment, a comment's status), and read the view's first page
 * (the newest 1,000 posts, each with its newest 100 comments).
 */
import Database from 'better-sqlite3';
import { open as openLmdb, type RootDatabase } from 'lmdb';

export interface StoreEvent {
  type: string;
  seq: number;
  data: { id: string; postId?: string; title?: string; content?: string; status?: string };
}

export interface StoreEngine {
  /** Applies events in one transaction. */
  apply(events: readonly StoreEvent[]): void;
  /** Reads the first page of the view; returns how many posts and comments it holds. */
  firstPage(): { posts: number; comments: number };
  close(): void;
}

export const ENGINES = ['sqlite', 'lmdb'] as const;
export type EngineName = (typeof ENGINES)[number];

const PAGE_POSTS = 1_000;
const PAGE_COMMENTS = 100;

export function openEngine(name: EngineName, dir: string): StoreEngine {
  return name === 'sqlite' ? new SqliteEngine(`${dir}/state.sqlite`) : new LmdbEngine(`${dir}/state.lmdb`);
}

/** As the services keep it: WAL, synchronous NORMAL (a crash may lose the last commits, never corrupt), a 16 MiB cache. */
class SqliteEngine implements StoreEngine {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly inTransaction: (events: readonly StoreEvent[]) => void;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('cache_size = -16384');
    this.db.exec(`
      CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT NOT NULL, seq INTEGER NOT NULL);
      CREATE INDEX posts_by_seq ON posts (seq);
      CREATE TABLE comments (id TEXT PRIMARY KEY, post_id TEXT NOT NULL, content TEXT NOT NULL, status TEXT NOT NULL, seq INTEGER NOT NULL);
      CREATE INDEX comments_of_post ON comments (post_id, seq);
    `);
    this.statements = {
      post: this.db.prepare<[string, string, number]>('INSERT OR IGNORE INTO posts (id, title, seq) VALUES (?, ?, ?)'),
      comment: this.db.prepare<[string, string, string, string, number]>(
        'INSERT OR IGNORE INTO comments (id, post_id, content, status, seq) VALUES (?, ?, ?, ?, ?)',
      ),
      update: this.db.prepare<[string, string]>('UPDATE comments SET status = ? WHERE id = ?'),
      newestPosts: this.db.prepare<[number], { id: string; title: string }>(
        'SELECT id, title FROM posts ORDER BY seq DESC LIMIT ?',
      ),
      newestComments: this.db.prepare<[string, number], { id: string; content: string; status: string }>(
        'SELECT id, content, status FROM comments WHERE post_id = ? ORDER BY seq DESC LIMIT ?',
      ),
    };
    this.inTransaction = this.db.transaction((events: readonly StoreEvent[]) => {
      for (const { type, seq, data } of events) {
        if (type === 'PostCreated') this.statements.post.run(data.id, data.title ?? '', seq);
        else if (type === 'CommentCreated')
          this.statements.comment.run(data.id, data.postId ?? '', data.content ?? '', data.status ?? '', seq);
        else if (type === 'CommentUpdated') this.statements.update.run(data.status ?? '', data.id);
      }
    });
  }

  apply(events: readonly StoreEvent[]): void {
    this.inTransaction(events);
  }

  firstPage(): { posts: number; comments: number } {
    let comments = 0;
    const posts = this.statements.newestPosts.all(PAGE_POSTS);
    for (const post of posts) comments += this.statements.newestComments.all(post.id, PAGE_COMMENTS).length;
    return { posts: posts.length, comments };
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Ordered keys: a post under ['post', seq] (and its seq under ['post-id', id]), a comment under
 * ['comment', postId, seq] (and where it is under ['comment-id', id]). noSync: a crash may lose the last
 * commits, as with SQLite's synchronous NORMAL.
 */
class LmdbEngine implements StoreEngine {
  private readonly db: RootDatabase;

  constructor(path: string) {
    this.db = openLmdb({ path, noSync: true });
  }

  apply(events: readonly StoreEvent[]): void {
    this.db.transactionSync(() => {
      for (const { type, seq, data } of events) {
        if (type === 'PostCreated') {
          if (this.db.get(['post-id', data.id]) !== undefined) continue;
          this.db.putSync(['post-id', data.id], seq);
          this.db.putSync(['post', seq], { id: data.id, title: data.title });
        } else if (type === 'CommentCreated') {
          if (this.db.get(['comment-id', data.id]) !== undefined) continue;
          this.db.putSync(['comment-id', data.id], [data.postId, seq]);
          this.db.putSync(['comment', data.postId ?? '', seq], {
            id: data.id,
            content: data.content,
            status: data.status,
          });
        } else if (type === 'CommentUpdated') {
          const at = this.db.get(['comment-id', data.id]) as [string, number] | undefined;
          if (!at) continue;
          const key = ['comment', at[0], at[1]];
          const comment = this.db.get(key) as { id: string; content: string; status: string };
          this.db.putSync(key, { ...comment, status: data.status });
        }
      }
    });
  }

  firstPage(): { posts: number; comments: number } {
    let posts = 0;
    let comments = 0;
    for (const { value } of this.db.getRange({
      start: ['post', Number.MAX_SAFE_INTEGER],
      end: ['post', 0],
      reverse: true,
      limit: PAGE_POSTS,
    })) {
      posts++;
      const { id } = value as { id: string };
      for (const _comment of this.db.getRange({
        start: ['comment', id, Number.MAX_SAFE_INTEGER],
        end: ['comment', id, 0],
        reverse: true,
        limit: PAGE_COMMENTS,
      }))
        comments++;
    }
    return { posts, comments };
  }

  close(): void {
    void this.db.close();
  }
}
