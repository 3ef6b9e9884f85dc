import { insertBySeq, removeBySeq, type EventHandlers, type Post } from '@blog/common';

interface StoredPost extends Post {
  /** Position of its PostCreated in the log: the order posts are listed in. */
  seq: number;
}

/** The posts this service has created, rebuilt from the event history at start. */
export class PostStore {
  private readonly byId = new Map<string, StoredPost>();
  private readonly posts: StoredPost[] = [];

  /**
   * Adds a post unless it is already known (a replayed or echoed PostCreated). Of two PostCreated with one
   * post id, the first in the log wins on every replica, even on one that added the later one first (a
   * keyed create it published itself while behind the log: docs/architecture.md).
   */
  add(post: Post, seq: number): void {
    const known = this.byId.get(post.id);
    if (known && known.seq <= seq) return;
    if (known) removeBySeq(this.posts, known);
    const stored = { id: post.id, title: post.title, seq };
    this.byId.set(post.id, stored);
    insertBySeq(this.posts, stored);
  }

  get(id: string): Post | undefined {
    const found = this.byId.get(id);
    return found && { id: found.id, title: found.title };
  }

  /** All posts as a map by id, in the order of the log. */
  all(): Record<string, Post> {
    return Object.fromEntries(this.posts.map(({ id, title }) => [id, { id, title }]));
  }
}

export function postEventHandlers(store: PostStore): EventHandlers {
  return {
    PostCreated: (post, { seq }) => store.add(post, seq),
  };
}
