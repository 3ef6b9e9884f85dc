import { insertBySeq, type EventHandlers, type Post } from '@blog/common';

interface StoredPost extends Post {
  /** Position of its PostCreated in the log: the order posts are listed in. */
  seq: number;
}

/** The posts this service has created, rebuilt from the event history at start. */
export class PostStore {
  private readonly ids = new Set<string>();
  private readonly posts: StoredPost[] = [];

  /** Adds a post unless it is already known (a replayed or echoed PostCreated). */
  add(post: Post, seq: number): void {
    if (this.ids.has(post.id)) return;
    this.ids.add(post.id);
    insertBySeq(this.posts, { id: post.id, title: post.title, seq });
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
