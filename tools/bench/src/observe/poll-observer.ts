/**
 * Visibility by polling `GET /posts` back to back, for targets without the live feed. A change is stamped
 * when the first answer that shows it has arrived, so a sighting is late by up to about two round trips
 * (it happened after the previous answer was generated): the round trips are reported as the resolution.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { describeRequestError } from '@blog/common';
import { summarize } from '@blog/testkit';
import { JsonClient, parseJson } from '../http';
import type { QueryObserver, Resolution } from './observer';
import type { Sightings } from './sightings';
import { recordView } from './view';

/** Back off after a failed poll instead of hammering a target that is down. */
const RETRY_AFTER_FAILURE_MS = 50;
const MAX_PROBLEMS_KEPT = 10;

export class PollObserver implements QueryObserver {
  readonly method = 'poll';
  readonly problems: string[] = [];
  private readonly client: JsonClient;
  private readonly roundTripsMs: number[] = [];
  private closing = false;
  private loop: Promise<void> | undefined;
  failedPolls = 0;

  constructor(
    queryUrl: string,
    readonly sightings: Sightings,
    private readonly fallbackReason: string,
  ) {
    this.client = new JsonClient(queryUrl, { connections: 1 });
  }

  /** Polls once (the first view), then keeps polling in the background until closed. */
  async start(): Promise<void> {
    await this.pollOnce();
    this.loop = this.pollUntilClosed();
  }

  resolution(): Resolution {
    const pollRoundTripMs = summarize(this.roundTripsMs);
    return {
      method: 'poll',
      fallbackReason: this.fallbackReason,
      pollRoundTripMs,
      description:
        `polling GET /posts back to back (${this.fallbackReason}): a change is stamped when the first answer showing it arrives; ` +
        `resolution ≈ one poll round trip (p50 ${pollRoundTripMs.p50?.toFixed(1) ?? '?'} ms, max ${pollRoundTripMs.max?.toFixed(1) ?? '?'} ms), always late, up to about two round trips`,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.loop;
    await this.client.close();
  }

  private async pollUntilClosed(): Promise<void> {
    while (!this.closing) {
      const ok = await this.pollOnce();
      if (!ok) await delay(RETRY_AFTER_FAILURE_MS);
    }
  }

  private async pollOnce(): Promise<boolean> {
    const sentAt = performance.now();
    try {
      const { status, text, receivedAt } = await this.client.getText('/posts');
      if (status !== 200) throw new Error(`GET /posts answered ${status}`);
      this.roundTripsMs.push(receivedAt - sentAt);
      recordView(parseJson(text), receivedAt, this.sightings);
      return true;
    } catch (err) {
      this.failedPolls++;
      if (this.problems.length < MAX_PROBLEMS_KEPT)
        this.problems.push(`a poll of GET /posts failed: ${describeRequestError(err)}`);
      return false;
    }
  }
}
