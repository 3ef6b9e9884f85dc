/**
 * A subscription to `GET /posts/stream` that keeps itself open. The browser's EventSource resumes a
 * dropped stream on its own (sending `Last-Event-ID`, so the server sends exactly what was missed); when
 * it gives up for good (an error answer: the service is down behind the proxy, or an older query
 * service without the stream answers 404) a new EventSource is opened after a capped backoff, which
 * starts again from a snapshot. Meanwhile the caller is told to fall back to polling.
 * No React here: the EventSource and the timers are injected, so it runs under test in node.
 */
import { isPagePath, type PostWithComments } from '@blog/common/api';
import { LIVE_CHANGE_TYPES, parseChange, parseSnapshot, type LiveChange } from './liveChanges';

/** What the connection indicator shows. */
export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting' | 'polling';

export interface StreamState {
  status: ConnectionStatus;
  /** True from a failure the EventSource does not recover from until a stream is open again. */
  pollingFallback: boolean;
}

/** The part of the browser's EventSource used here. */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: Event) => void): void;
  close(): void;
}

/** `EventSource.CLOSED`: the EventSource will not reconnect by itself. */
const CLOSED = 2;
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 10_000;
/** How often query says it sends a `ping`, until a ping says otherwise. */
export const DEFAULT_PING_MS = 15_000;
/** Silent for this many ping intervals: the stream is taken for dead. */
export const SILENT_INTERVALS = 2;

interface Timers {
  setTimer: (run: () => void, ms: number) => unknown;
  clearTimer: (timer: unknown) => void;
}

export interface PostsStreamOptions {
  url: string;
  openSource: (url: string) => EventSourceLike;
  onSnapshot: (posts: PostWithComments[]) => void;
  /** Where the posts older than the snapshot are (the message after it, when it holds a first page only). */
  onOlderPosts?: (path: string) => void;
  onChange: (change: LiveChange) => void;
  onState: (state: StreamState) => void;
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
  /** The timers of the silence watchdog (the retry's by default). */
  watchdog?: Timers;
}

/** The path an `older-posts` message names; undefined unless it is one of the blog's own. */
function parseOlderPosts(data: string): string | undefined {
  try {
    const path: unknown = JSON.parse(data);
    return isPagePath(path, 'posts') ? path : undefined;
  } catch {
    return undefined;
  }
}

function messageData(event: Event): string | undefined {
  const data: unknown = (event as Partial<MessageEvent>).data;
  return typeof data === 'string' ? data : undefined;
}

export class PostsStream {
  private source: EventSourceLike | undefined;
  private retryTimer: unknown;
  private retryDelayMs = FIRST_RETRY_MS;
  private wasLive = false;
  private closed = false;
  private state: StreamState = { status: 'connecting', pollingFallback: false };
  private readonly setTimer: (run: () => void, ms: number) => unknown;
  private readonly clearTimer: (timer: unknown) => void;
  private readonly watchdog: Timers;
  private silenceTimer: unknown;
  private pingEveryMs = DEFAULT_PING_MS;

  constructor(private readonly options: PostsStreamOptions) {
    this.setTimer = options.setTimer ?? ((run, ms) => setTimeout(run, ms));
    this.clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer as ReturnType<typeof setTimeout>));
    this.watchdog = options.watchdog ?? { setTimer: this.setTimer, clearTimer: this.clearTimer };
  }

  /** Opens the stream; call once. */
  open(): void {
    this.options.onState(this.state);
    this.connect();
  }

  /** Opens a new stream at once if none is open (e.g. the user asked to try again). */
  retryNow(): void {
    if (this.closed || this.source) return;
    this.clearTimer(this.retryTimer);
    this.connect();
  }

  /** Closes the stream for good and cancels any pending retry. */
  close(): void {
    this.closed = true;
    this.clearTimer(this.retryTimer);
    this.watchdog.clearTimer(this.silenceTimer);
    this.source?.close();
    this.source = undefined;
  }

  private connect(): void {
    if (this.closed) return;
    const source = this.options.openSource(this.options.url);
    this.source = source;
    this.heardFrom(source);
    source.addEventListener('open', () => {
      if (source !== this.source) return;
      this.heardFrom(source);
      this.wasLive = true;
      this.retryDelayMs = FIRST_RETRY_MS;
      this.setState({ status: 'live', pollingFallback: false });
    });
    source.addEventListener('error', () => {
      if (source !== this.source) return;
      if (source.readyState === CLOSED) this.giveUp(source);
      else this.setState({ ...this.state, status: 'reconnecting' });
    });
    source.addEventListener('ping', (event) => {
      if (source !== this.source) return;
      const everyMs = pingInterval(messageData(event));
      if (everyMs !== undefined) this.pingEveryMs = everyMs;
      this.heardFrom(source);
    });
    source.addEventListener('snapshot', (event) => {
      if (source !== this.source) return;
      this.heardFrom(source);
      const posts = parseSnapshot(messageData(event) ?? '');
      if (posts) this.options.onSnapshot(posts);
      else this.giveUp(source);
    });
    source.addEventListener('older-posts', (event) => {
      if (source !== this.source) return;
      this.heardFrom(source);
      const path = parseOlderPosts(messageData(event) ?? '');
      if (path !== undefined) this.options.onOlderPosts?.(path);
    });
    for (const type of LIVE_CHANGE_TYPES) {
      source.addEventListener(type, (event) => {
        if (source !== this.source) return;
        this.heardFrom(source);
        const change = parseChange(type, messageData(event) ?? '');
        // A change that cannot be read would leave a gap: start over from a snapshot instead.
        if (change) this.options.onChange(change);
        else this.giveUp(source);
      });
    }
  }

  /**
   * Something came on `source` (or it was just opened): it is alive. If nothing more comes for two ping
   * intervals, the service stopped answering without closing the connection (frozen, or a dead peer the
   * network never reported): the indicator says so and a new connection is opened.
   */
  private heardFrom(source: EventSourceLike): void {
    this.watchdog.clearTimer(this.silenceTimer);
    this.silenceTimer = this.watchdog.setTimer(() => {
      if (source !== this.source || this.closed) return;
      source.close();
      this.source = undefined;
      this.setState({ ...this.state, status: 'reconnecting' });
      this.connect();
    }, SILENT_INTERVALS * this.pingEveryMs);
  }

  /** This EventSource is done: fall back to polling and open a new one after the backoff. */
  private giveUp(source: EventSourceLike): void {
    source.close();
    this.source = undefined;
    this.watchdog.clearTimer(this.silenceTimer);
    this.setState({ status: this.wasLive ? 'reconnecting' : 'polling', pollingFallback: true });
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_MS);
    this.retryTimer = this.setTimer(() => this.connect(), delay);
  }

  private setState(next: StreamState): void {
    if (next.status === this.state.status && next.pollingFallback === this.state.pollingFallback) return;
    this.state = next;
    this.options.onState(next);
  }
}

/** The interval a `ping` announces (`{"everyMs": n}`), if it is a usable one. */
function pingInterval(data: string | undefined): number | undefined {
  try {
    const everyMs = (JSON.parse(data ?? '') as { everyMs?: unknown } | null)?.everyMs;
    return typeof everyMs === 'number' && Number.isFinite(everyMs) && everyMs >= 100 ? everyMs : undefined;
  } catch {
    return undefined;
  }
}
