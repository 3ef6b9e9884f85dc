/**
 * Visibility from the query service's live feed, `GET /posts/stream` (Server-Sent Events): a `snapshot`
 * first, then one message per applied change. Each network chunk is stamped with performance.now() as it
 * arrives, before it is parsed, so a sighting is late only by this process's own event-loop delay.
 * If the stream drops (the server cuts off a reader that falls behind), it reconnects with Last-Event-ID;
 * the reconnections are counted, since what arrives on a resumed stream is stamped late.
 */
import { Client, type Dispatcher } from 'undici';
import { asStreamChange } from '@blog/common/api';
import { parseJson } from '../http';
import { SseParser, type SseMessage } from '../sse';
import type { QueryObserver, Resolution } from './observer';
import type { Sightings } from './sightings';
import { recordView } from './view';

const STREAM_PATH = '/posts/stream';
const MAX_RECONNECTS = 5;

export type StreamAttempt = { observer: StreamObserver } | { unavailable: string };

/** Opens the stream; `unavailable` (with the reason) when the target does not serve one. */
export async function openStream(
  queryUrl: string,
  sightings: Sightings,
  readyTimeoutMs: number,
): Promise<StreamAttempt> {
  const observer = new StreamObserver(queryUrl, sightings);
  const unavailable = await observer.connect().catch(async (err: unknown) => {
    await observer.close();
    throw err;
  });
  if (unavailable !== undefined) {
    await observer.close();
    return { unavailable };
  }
  await observer.waitForSnapshot(readyTimeoutMs);
  return { observer };
}

export class StreamObserver implements QueryObserver {
  readonly method = 'stream';
  readonly problems: string[] = [];
  private readonly client: Client;
  private readonly abort = new AbortController();
  private parser = new SseParser();
  private decoder = new TextDecoder();
  private lastEventId = '';
  private closing = false;
  private snapshotSeen = false;
  private endReason: string | undefined;
  private onSnapshot: (() => void) | undefined;
  private onEnd: ((reason: string) => void) | undefined;
  reconnects = 0;
  /** Messages of types this reader does not know (counted, not an error). */
  otherMessages = 0;

  constructor(
    queryUrl: string,
    readonly sightings: Sightings,
  ) {
    this.client = new Client(queryUrl, { bodyTimeout: 0, headersTimeout: 5_000 });
  }

  /** Sends the request and wires the body; returns why the target has no stream, if it has none. */
  async connect(): Promise<string | undefined> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.lastEventId !== '') headers['last-event-id'] = this.lastEventId;
    const response = await this.client.request({
      method: 'GET',
      path: STREAM_PATH,
      headers,
      signal: this.abort.signal,
    });
    const contentType = String(response.headers['content-type'] ?? '');
    if (response.statusCode !== 200 || !contentType.startsWith('text/event-stream')) {
      await response.body.dump().catch(() => undefined);
      return `GET ${STREAM_PATH} answered ${response.statusCode} ${contentType || '(no content type)'}`;
    }
    this.parser = new SseParser();
    this.decoder = new TextDecoder();
    this.listen(response.body);
    return undefined;
  }

  waitForSnapshot(timeoutMs: number): Promise<void> {
    if (this.snapshotSeen) return Promise.resolve();
    if (this.endReason !== undefined)
      return Promise.reject(new Error(`${STREAM_PATH} ended before its snapshot (${this.endReason})`));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no snapshot on ${STREAM_PATH} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.onSnapshot = () => {
        clearTimeout(timer);
        resolve();
      };
      this.onEnd = (reason) => {
        clearTimeout(timer);
        reject(new Error(`${STREAM_PATH} ended before its snapshot (${reason})`));
      };
    }).catch(async (err: unknown) => {
      await this.close();
      throw err;
    });
  }

  resolution(): Resolution {
    const resumed =
      this.reconnects === 0
        ? ''
        : `; the stream dropped and was resumed ${this.reconnects} time(s), changes replayed on resuming are stamped late`;
    return {
      method: 'stream',
      description:
        `live feed GET ${STREAM_PATH} (Server-Sent Events): performance.now() when the network chunk carrying the change arrives, ` +
        `minus performance.now() just before the create request was sent; sub-millisecond timer, late only by the event-loop delay of the bench process${resumed}`,
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.abort.abort();
    await this.client.destroy();
  }

  private listen(body: Dispatcher.ResponseData['body']): void {
    body.on('data', (chunk: Buffer) => {
      const at = performance.now();
      for (const message of this.parser.push(this.decoder.decode(chunk, { stream: true }))) this.apply(message, at);
    });
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      void this.ended(reason);
    };
    body.on('error', (err: Error) => end(err.message));
    body.on('end', () => end('the server ended it'));
  }

  private async ended(reason: string): Promise<void> {
    if (this.closing) return;
    if (!this.snapshotSeen || this.reconnects >= MAX_RECONNECTS) {
      this.endReason = reason;
      this.problems.push(`the stream stopped before the bench closed it (${reason})`);
      this.onEnd?.(reason);
      return;
    }
    this.reconnects++;
    try {
      const unavailable = await this.connect();
      if (unavailable !== undefined) throw new Error(unavailable);
    } catch (err) {
      if (this.closing) return;
      this.endReason = reason;
      this.problems.push(
        `the stream stopped (${reason}) and could not be resumed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  private apply(message: SseMessage, at: number): void {
    this.lastEventId = message.id;
    if (message.event === 'snapshot') {
      recordView(parseJson(message.data), at, this.sightings);
      if (!this.snapshotSeen) {
        this.snapshotSeen = true;
        this.onSnapshot?.();
      }
      return;
    }
    // Skip parsing the changes to other posts and comments (the prefix has no characters JSON escapes).
    if (!message.data.includes(this.sightings.prefix)) return;
    switch (message.event) {
      case 'PostCreated':
      case 'CommentCreated':
      case 'CommentUpdated': {
        const change = asStreamChange(message.event, parseJson(message.data));
        if (change?.type === 'PostCreated') this.sightings.post(change.data.id, change.data.title, at);
        else if (change)
          this.sightings.comment(change.data.id, change.data.postId, change.data.content, change.data.status, at);
        break;
      }
      default:
        this.otherMessages++;
    }
  }
}
