import type { PostWithComments } from '@blog/common/api';
import type { LiveChange } from '../src/liveChanges';
import {
  DEFAULT_PING_MS,
  FIRST_RETRY_MS,
  MAX_RETRY_MS,
  PostsStream,
  type EventSourceLike,
  type StreamState,
} from '../src/postsStream';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/** Stands in for the browser's EventSource: the test fires its events. */
class FakeSource implements EventSourceLike {
  readyState = CONNECTING;
  closed = false;
  private readonly listeners = new Map<string, ((event: Event) => void)[]>();

  constructor(readonly url: string) {}

  addEventListener(type: string, listener: (event: Event) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
    this.readyState = CLOSED;
  }

  fire(type: string, data?: string): void {
    const event = data === undefined ? new Event(type) : new MessageEvent(type, { data });
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  open(): void {
    this.readyState = OPEN;
    this.fire('open');
  }

  /** A dropped connection the EventSource retries by itself. */
  drop(): void {
    this.readyState = CONNECTING;
    this.fire('error');
  }

  /** An error answer (e.g. 404 or 502): the EventSource gives up. */
  fail(): void {
    this.readyState = CLOSED;
    this.fire('error');
  }
}

function setup() {
  const sources: FakeSource[] = [];
  const states: StreamState[] = [];
  const snapshots: PostWithComments[][] = [];
  const changes: LiveChange[] = [];
  const olderPosts: string[] = [];
  const timers: { run: () => void; ms: number; cleared: boolean }[] = [];
  const silences: { run: () => void; ms: number; cleared: boolean }[] = [];
  const stream = new PostsStream({
    url: '/posts/stream',
    openSource: (url) => {
      const source = new FakeSource(url);
      sources.push(source);
      return source;
    },
    onSnapshot: (posts) => snapshots.push(posts),
    onOlderPosts: (path) => olderPosts.push(path),
    onChange: (change) => changes.push(change),
    onState: (state) => states.push(state),
    setTimer: (run, ms) => {
      const timer = { run, ms, cleared: false };
      timers.push(timer);
      return timer;
    },
    clearTimer: (timer) => {
      const found = timers.find((t) => t === timer);
      if (found) found.cleared = true;
    },
    watchdog: {
      setTimer: (run, ms) => {
        const timer = { run, ms, cleared: false };
        silences.push(timer);
        return timer;
      },
      clearTimer: (timer) => {
        const found = silences.find((t) => t === timer);
        if (found) found.cleared = true;
      },
    },
  });
  /** Lets the pending silence watchdog fire: nothing came for its whole time. */
  const beSilent = (): number => {
    const timer = silences.find((t) => !t.cleared);
    if (!timer) throw new Error('no watchdog is pending');
    timer.cleared = true;
    timer.run();
    return timer.ms;
  };
  const latest = (): FakeSource => {
    const source = sources.at(-1);
    if (!source) throw new Error('no EventSource was opened');
    return source;
  };
  /** Runs the pending retry timer. */
  const elapse = (): void => {
    const timer = timers.find((t) => !t.cleared);
    if (!timer) throw new Error('no retry is pending');
    timer.cleared = true;
    timer.run();
  };
  return { stream, sources, states, snapshots, changes, olderPosts, timers, silences, latest, elapse, beSilent };
}

const status = (states: StreamState[]) =>
  states.map((state) => `${state.status}${state.pollingFallback ? '+poll' : ''}`);

describe('PostsStream', () => {
  it('takes a stream that stays silent for two ping intervals for dead: says Reconnecting… and opens a new one', () => {
    const { stream, latest, sources, states, silences, beSilent } = setup();
    stream.open();
    latest().open();
    latest().fire('snapshot', JSON.stringify({}));
    expect(silences.filter((timer) => !timer.cleared).map((timer) => timer.ms)).toEqual([2 * DEFAULT_PING_MS]);
    // A ping says how often pings come; each message restarts the watchdog.
    latest().fire('ping', JSON.stringify({ everyMs: 1_000 }));
    expect(silences.filter((timer) => !timer.cleared).map((timer) => timer.ms)).toEqual([2_000]);
    expect(status(states)).toEqual(['connecting', 'live']);

    expect(beSilent()).toBe(2_000);
    expect(sources[0]?.closed).toBe(true);
    expect(sources).toHaveLength(2);
    expect(status(states)).toEqual(['connecting', 'live', 'reconnecting']);
    // The new connection is live again once it opens.
    latest().open();
    expect(status(states)).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    stream.close();
    expect(silences.every((timer) => timer.cleared)).toBe(true);
  });

  it('keeps a quiet stream that pings alive', () => {
    const { stream, latest, sources, silences } = setup();
    stream.open();
    latest().open();
    for (let i = 0; i < 5; i++) latest().fire('ping', JSON.stringify({ everyMs: 15_000 }));
    expect(silences.filter((timer) => !timer.cleared)).toHaveLength(1);
    expect(sources).toHaveLength(1);
    stream.close();
  });

  it('opens the relative stream URL and passes on the snapshot, then each change', () => {
    const { stream, latest, states, snapshots, changes } = setup();
    stream.open();
    expect(latest().url).toBe('/posts/stream');
    latest().open();
    latest().fire('snapshot', JSON.stringify({ a: { id: 'a', title: 'A', comments: [] } }));
    latest().fire('PostCreated', JSON.stringify({ id: 'b', title: 'B' }));
    latest().fire('CommentUpdated', JSON.stringify({ id: 'c', postId: 'b', content: 'x', status: 'approved' }));
    expect(status(states)).toEqual(['connecting', 'live']);
    expect(snapshots).toEqual([[{ id: 'a', title: 'A', comments: [] }]]);
    expect(changes.map((change) => change.type)).toEqual(['PostCreated', 'CommentUpdated']);
  });

  it("passes on where the posts older than the snapshot are, and only a path of the blog's own", () => {
    const { stream, latest, olderPosts } = setup();
    stream.open();
    latest().open();
    latest().fire('snapshot', JSON.stringify({ b: { id: 'b', title: 'B', comments: [] } }));
    latest().fire('older-posts', JSON.stringify('/posts?limit=1000&before=7'));
    latest().fire('older-posts', JSON.stringify('https://elsewhere.example/posts?before=7'));
    latest().fire('older-posts', 'not json');
    expect(olderPosts).toEqual(['/posts?limit=1000&before=7']);
    stream.close();
  });

  it('shows a dropped connection as reconnecting and leaves the retry (with Last-Event-ID) to the EventSource', () => {
    const { stream, latest, sources, states, timers } = setup();
    stream.open();
    latest().open();
    latest().drop();
    latest().open();
    expect(status(states)).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    expect(sources).toHaveLength(1);
    expect(timers).toEqual([]);
  });

  it('when the EventSource gives up, polls meanwhile and opens a new one after a backoff that doubles up to a cap', () => {
    const { stream, latest, sources, states, timers, elapse } = setup();
    stream.open();
    latest().open();
    for (let i = 0; i < 6; i += 1) {
      latest().fail();
      elapse();
    }
    expect(timers.map((timer) => timer.ms)).toEqual([FIRST_RETRY_MS, 2_000, 4_000, 8_000, MAX_RETRY_MS, MAX_RETRY_MS]);
    expect(sources.slice(0, -1).every((source) => source.closed)).toBe(true);
    expect(status(states)).toEqual(['connecting', 'live', 'reconnecting+poll']);

    latest().open();
    expect(status(states).at(-1)).toBe('live');
    latest().fail();
    expect(timers.at(-1)?.ms).toBe(FIRST_RETRY_MS);
  });

  it('falls back to polling when the stream never opens (an older query service answers 404)', () => {
    const { stream, latest, states } = setup();
    stream.open();
    latest().fail();
    expect(status(states)).toEqual(['connecting', 'polling+poll']);
  });

  it('starts over from a snapshot when a message cannot be read, rather than leave a gap', () => {
    const { stream, latest, sources, changes, elapse } = setup();
    stream.open();
    const first = latest();
    first.open();
    first.fire('CommentCreated', '{"id":"c"}');
    expect(first.closed).toBe(true);
    expect(changes).toEqual([]);
    elapse();
    expect(sources).toHaveLength(2);
  });

  it('retries at once when asked, and stops everything on close', () => {
    const { stream, latest, sources, timers } = setup();
    stream.open();
    latest().fail();
    stream.retryNow();
    expect(sources).toHaveLength(2);
    expect(timers[0]?.cleared).toBe(true);
    latest().fail();
    stream.close();
    expect(timers.every((timer) => timer.cleared)).toBe(true);
    stream.retryNow();
    expect(sources).toHaveLength(2);
  });
});
