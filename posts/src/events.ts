import type { EventHandlers, Post } from '@blog/common';

/** The posts this service has created, rebuilt from the event history at start. */
export class PostStore {
  private readonly posts = new Map<string, Post>();

  /** Adds a post unless it is already known (a replayed or echoed PostCreated). */
  add(post: Post): void {
    if (!this.posts.has(post.id)) this.posts.set(post.id, { id: post.id, title: post.title });
  }

  /** All posts as a map by id, in creation order. */
  all(): Record<string, Post> {
    return Object.fromEntries(this.posts);
  }
}

export function postEventHandlers(store: PostStore): EventHandlers {
  return {
    PostCreated: (post) => store.add(post),
  };
}
