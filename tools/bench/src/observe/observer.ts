import type { Summary } from '@blog/testkit';
import type { Sightings } from './sightings';

/** How the moments of visibility were taken. */
export type Resolution =
  | {
      method: 'stream';
      description: string;
    }
  | {
      method: 'poll';
      description: string;
      /** Round trips of GET /posts: how coarse each sighting can be. */
      pollRoundTripMs: Summary;
      /** Why the stream was not used. */
      fallbackReason: string;
    };

/** Watches the query service and records when this phase's posts and comments become visible in it. */
export interface QueryObserver {
  readonly method: Resolution['method'];
  readonly sightings: Sightings;
  /** Anything that makes the sightings incomplete (the stream ended early, polls failed…). */
  readonly problems: string[];
  resolution(): Resolution;
  close(): Promise<void>;
}
