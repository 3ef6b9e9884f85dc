import type { QueryObserver } from './observer';
import { PollObserver } from './poll-observer';
import { Sightings } from './sightings';
import { openStream } from './stream-observer';

export type { QueryObserver, Resolution } from './observer';
export type { CommentSighting, PostSighting } from './sightings';

const SNAPSHOT_TIMEOUT_MS = 15_000;

/**
 * Starts watching the query service for posts and comments whose title or content starts with `prefix`:
 * through its live feed when it has one, else by polling GET /posts. Resolves once the first view is in,
 * so that everything created afterwards is seen arriving.
 */
export async function observeQuery(queryUrl: string, prefix: string): Promise<QueryObserver> {
  const sightings = new Sightings(prefix);
  const attempt = await openStream(queryUrl, sightings, SNAPSHOT_TIMEOUT_MS);
  if ('observer' in attempt) return attempt.observer;
  const poller = new PollObserver(queryUrl, sightings, attempt.unavailable);
  await poller.start();
  return poller;
}
