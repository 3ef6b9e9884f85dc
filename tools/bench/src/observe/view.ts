/** Reading the query service's JSON (GET /posts and the stream's payloads) without trusting its shape. */
import { postsOfView } from '@blog/common/api';
import type { Sightings } from './sightings';

/** Records every post and comment of a whole view as seen at `at`; a malformed view records nothing. */
export function recordView(view: unknown, at: number, sightings: Sightings): void {
  for (const post of postsOfView(view) ?? []) {
    sightings.post(post.id, post.title, at);
    for (const comment of post.comments) sightings.comment(comment.id, post.id, comment.content, comment.status, at);
  }
}
