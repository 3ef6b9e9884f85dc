import { withStreamPushSpan, type PostsView, type StreamChange } from '@blog/common';
import type { Request, Response } from 'express';

/** A change to the posts view, as applied: the event's type and payload, with the event's seq. */
export type Change = StreamChange & { seq: number };

/** The stream's path, as the span of each push names it. */
const STREAM_PATH = '/posts/stream';

/** What a new subscriber without a usable Last-Event-ID is sent first. */
export interface Snapshot {
  /** Seq of the last event applied to the view. */
  position: number;
  /** The first page of the view. */
  view: PostsView;
  /** Where the older posts are, when there are more than the first page holds. */
  olderPosts?: string;
}

export interface ChangeFeedOptions {
  /** How many recent changes are kept for subscribers resuming with Last-Event-ID. */
  capacity?: number;
  /** A comment line is sent this often so that proxies and clients see an idle stream is alive. */
  pingIntervalMs?: number;
  /** A subscriber with more than this unsent is cut off; it reconnects and resumes. */
  maxBufferedBytes?: number;
  /**
   * The position the view starts from (a state resumed from disk or a snapshot): the changes up to it
   * were never published here, so a subscriber resuming from before it gets a snapshot.
   */
  heldAfter?: number;
}

/**
 * The live feed of the posts view as Server-Sent Events: a snapshot, then every change as it is applied,
 * each with its seq as the SSE id. A subscriber reconnecting with `Last-Event-ID` gets exactly the changes
 * after that seq when they are still held, and a fresh snapshot when they are not, so it never misses a
 * change nor sees one twice.
 */
export class ChangeFeed {
  /** The newest changes, between capacity and twice that many (trimmed by halves, which is cheap). */
  private recent: Change[] = [];
  /** Every change with seq greater than this is in `recent`. */
  private heldAfter: number;
  private readonly subscribers = new Set<Response>();
  private pinger: NodeJS.Timeout | undefined;
  private readonly capacity: number;
  private readonly pingIntervalMs: number;
  private readonly maxBufferedBytes: number;

  constructor({
    capacity = 10_000,
    pingIntervalMs = 15_000,
    maxBufferedBytes = 1 << 20,
    heldAfter = 0,
  }: ChangeFeedOptions = {}) {
    this.heldAfter = heldAfter;
    this.capacity = capacity;
    this.pingIntervalMs = pingIntervalMs;
    this.maxBufferedBytes = maxBufferedBytes;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * Records a change and sends it to every subscriber. A change at or before the last one published is
   * passed over: events applied again after their transaction was undone publish their changes again.
   */
  publish(change: Change): void {
    const newest = this.recent.at(-1)?.seq ?? this.heldAfter;
    if (change.seq <= newest) return;
    this.recent.push(change);
    if (this.recent.length > 2 * this.capacity) {
      const dropped = this.recent.length - this.capacity;
      this.heldAfter = (this.recent[dropped - 1] as Change).seq;
      this.recent = this.recent.slice(dropped);
    }
    if (this.subscribers.size === 0) return;
    const message = formatChange(change);
    withStreamPushSpan(STREAM_PATH, { seq: change.seq, type: change.type, readers: this.subscribers.size }, () => {
      for (const res of this.subscribers) this.send(res, message);
    });
  }

  /** Serves one subscriber: `GET` with `Accept: text/event-stream`, optionally `Last-Event-ID`. */
  attach(req: Request, res: Response, snapshot: () => Snapshot): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // Tells nginx (the ingress) to pass each message on at once instead of buffering the response.
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const current = snapshot();
    const missed = this.changesAfter(lastEventId(req), current.position);
    const opening = missed ?? [
      `id: ${current.position}\nevent: snapshot\ndata: ${JSON.stringify(current.view)}\n\n`,
      // Its own message (no id, so Last-Event-ID stays the snapshot's), which a page that does not know it ignores.
      ...(current.olderPosts === undefined
        ? []
        : [`event: older-posts\ndata: ${JSON.stringify(current.olderPosts)}\n\n`]),
    ];
    // Tells EventSource how long to wait before reconnecting after the stream ends.
    res.write(`retry: 1000\n\n${opening.join('')}`);
    this.subscribers.add(res);
    res.on('close', () => this.detach(res));
    this.pinger ??= setInterval(() => this.ping(), this.pingIntervalMs).unref();
  }

  /** Ends every stream (the service is shutting down); subscribers reconnect elsewhere or later. */
  close(): void {
    for (const res of this.subscribers) res.end();
    this.subscribers.clear();
    this.stopPinging();
  }

  /** The messages after `lastId`, or undefined when they are not all held (or there is no usable id). */
  private changesAfter(lastId: number | undefined, position: number): string[] | undefined {
    if (lastId === undefined || lastId < this.heldAfter || lastId > position) return undefined;
    const first = this.recent.findIndex((entry) => entry.seq > lastId);
    return first === -1 ? [] : this.recent.slice(first).map(formatChange);
  }

  private send(res: Response, message: string): void {
    if (res.writableLength > this.maxBufferedBytes) {
      // Too slow to keep up: cut it off rather than buffer without bound; it resumes from its last id.
      res.destroy();
      return;
    }
    res.write(message);
  }

  /**
   * A message the page sees (an SSE comment never reaches EventSource listeners): without it, a quiet
   * stream and a dead one look the same. It says how often it comes; no id, so Last-Event-ID is unchanged.
   */
  private ping(): void {
    for (const res of this.subscribers)
      this.send(res, `event: ping\ndata: ${JSON.stringify({ everyMs: this.pingIntervalMs })}\n\n`);
  }

  private detach(res: Response): void {
    this.subscribers.delete(res);
    if (this.subscribers.size === 0) this.stopPinging();
  }

  private stopPinging(): void {
    clearInterval(this.pinger);
    this.pinger = undefined;
  }
}

function formatChange({ seq, type, data }: Change): string {
  return `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

function lastEventId(req: Request): number | undefined {
  const header = req.get('last-event-id');
  if (header === undefined || !/^\d{1,15}$/.test(header.trim())) return undefined;
  return Number(header.trim());
}
