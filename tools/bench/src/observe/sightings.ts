/**
 * What a reader of the query service has seen of this bench's own posts and comments, and when
 * (performance.now()). Only titles and contents starting with the phase's prefix are recorded.
 */
import type { CommentStatus } from '@blog/common/api';

export interface PostSighting {
  id: string;
  /** When the post was first seen. */
  at: number;
}

export interface CommentSighting {
  id: string;
  postId: string;
  /** When each status was first seen. */
  firstAt: Partial<Record<CommentStatus, number>>;
  /** The status seen last. */
  status: CommentStatus;
}

export class Sightings {
  /** By title. */
  readonly posts = new Map<string, PostSighting>();
  /** By content. */
  readonly comments = new Map<string, CommentSighting>();
  /** Titles or contents seen under a second id: a create applied twice. */
  readonly duplicates = new Set<string>();

  constructor(readonly prefix: string) {}

  post(id: string, title: string, at: number): void {
    if (!title.startsWith(this.prefix)) return;
    const known = this.posts.get(title);
    if (!known) this.posts.set(title, { id, at });
    else if (known.id !== id) this.duplicates.add(title);
  }

  comment(id: string, postId: string, content: string, status: CommentStatus, at: number): void {
    if (!content.startsWith(this.prefix)) return;
    let known = this.comments.get(content);
    if (!known) {
      known = { id, postId, firstAt: {}, status };
      this.comments.set(content, known);
    } else if (known.id !== id) {
      this.duplicates.add(content);
      return;
    }
    known.status = status;
    known.firstAt[status] ??= at;
  }
}
