import { idReused, type EventHandlers } from '@blog/common';
import type { PostStore } from './store';

/** A PostCreated that reuses an earlier post's id for another title is rejected: the first in the log is the post. */
export function postEventHandlers(store: PostStore): EventHandlers {
  return {
    PostCreated: (post, { seq }) => {
      const known = store.stored(post.id);
      if (known && known.seq < seq && known.title !== post.title) return idReused('post', post.id);
      store.add(post, seq);
    },
  };
}
