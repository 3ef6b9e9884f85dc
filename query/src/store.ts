import {
  nextPagePath,
  pageOf,
  PAGES,
  type Comment,
  type CommentIdentity,
  type CommentStatus,
  type PageRequest,
  type PostsView,
} from '@blog/common';
import { StateDb, type StateSchema } from '@blog/common/state';

export const QUERY_SCHEMA: StateSchema = {
  service: 'query',
  version: 1,
  // seq: the position of the PostCreated or CommentCreated, the order posts and a post's comments are shown in.
  tables: `
    CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY, title TEXT NOT NULL, seq INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS posts_by_seq ON posts (seq);
    CREATE TABLE IF NOT EXISTS comments (
      id TEXT PRIMARY KEY,
      post_id TEXT NOT NULL,
      content TEXT NOT NULL,
      status TEXT NOT NULL,
      seq INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS comments_of_post ON comments (post_id, seq);
  `,
};

function queryStatements({ db }: StateDb) {
  return {
    addPost: db.prepare<[string, string, number]>('INSERT OR IGNORE INTO posts (id, title, seq) VALUES (?, ?, ?)'),
    post: db.prepare<[string], { title: string }>('SELECT title FROM posts WHERE id = ?'),
    comment: db.prepare<[string], CommentIdentity>('SELECT post_id AS postId, content FROM comments WHERE id = ?'),
    addComment: db.prepare<[string, string, string, CommentStatus, number]>(
      'INSERT OR IGNORE INTO comments (id, post_id, content, status, seq) VALUES (?, ?, ?, ?, ?)',
    ),
    updateComment: db.prepare<[string, CommentStatus, string]>(
      'UPDATE comments SET content = ?, status = ? WHERE id = ?',
    ),
    postsNewestFirst: db.prepare<[number, number], { id: string; title: string; seq: number }>(
      'SELECT id, title, seq FROM posts WHERE seq < ? ORDER BY seq DESC LIMIT ?',
    ),
    commentsNewestFirst: db.prepare<[string, number], Comment & { seq: number }>(
      'SELECT id, content, status, seq FROM comments WHERE post_id = ? ORDER BY seq DESC LIMIT ?',
    ),
  };
}

/** The read model the client shows: every post with its comments, joined from the events, in its own database. */
export class QueryStore {
  private readonly statements: ReturnType<typeof queryStatements>;

  constructor(readonly state: StateDb = StateDb.open({ file: ':memory:', schema: QUERY_SCHEMA })) {
    this.statements = queryStatements(state);
  }

  /** Adds a post; false when it was known already. */
  addPost(id: string, title: string, seq: number): boolean {
    return this.statements.addPost.run(id, title, seq).changes === 1;
  }

  postTitle(id: string): string | undefined {
    return this.statements.post.get(id)?.title;
  }

  comment(id: string): CommentIdentity | undefined {
    return this.statements.comment.get(id);
  }

  /** Adds a comment to its post; false when it was known already. */
  addComment(postId: string, id: string, content: string, status: CommentStatus, seq: number): boolean {
    if (this.postTitle(postId) === undefined) throw new Error(`comment ${id} belongs to unknown post ${postId}`);
    return this.statements.addComment.run(id, postId, content, status, seq).changes === 1;
  }

  updateComment(id: string, content: string, status: CommentStatus): void {
    if (this.statements.updateComment.run(content, status, id).changes === 0)
      throw new Error(`update for unknown comment ${id}`);
  }

  /**
   * A page of the view: the newest `limit` posts before the cursor, in creation order, each with its
   * newest comments (up to PAGES.commentsPerPost) and, when it has more, where the older ones are.
   */
  page({ limit, before }: PageRequest): { view: PostsView; olderBefore: number | undefined } {
    const posts = pageOf(this.statements.postsNewestFirst.all(before ?? Number.MAX_SAFE_INTEGER, limit + 1), limit);
    const view: PostsView = {};
    for (const { id, title } of posts.items) {
      const comments = pageOf(
        this.statements.commentsNewestFirst.all(id, PAGES.commentsPerPost + 1),
        PAGES.commentsPerPost,
      );
      view[id] = {
        id,
        title,
        comments: comments.items.map(({ id: commentId, content, status }) => ({ id: commentId, content, status })),
        ...(comments.olderBefore === undefined
          ? {}
          : {
              olderComments: nextPagePath(
                `/posts/${encodeURIComponent(id)}/comments`,
                PAGES.commentsPerPost,
                comments.olderBefore,
              ),
            }),
      };
    }
    return { view, olderBefore: posts.olderBefore };
  }
}
