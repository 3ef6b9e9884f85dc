import { MAX_EVENT_BYTES, silentLogger } from '@blog/common';
import request from 'supertest';
import { createApp } from '../src/app';
import { Deliverer } from '../src/delivery/deliverer';
import { SubscriberDelivery } from '../src/delivery/subscriber-delivery';
import { SoleLease } from '../src/file-storage/sole-lease';
import { StreamChangedError } from '../src/jetstream/jetstream-event-log';
import { EventLogUnavailableError, EventLogUnconfirmedError } from '../src/log/errors';
import { BusMetrics } from '../src/metrics';
import { MemoryEventLog } from '../src/testing';

function setup({ recentIds }: { recentIds?: number } = {}) {
  const log = new MemoryEventLog({ recentIds });
  const subscribers = new Deliverer(
    [new SubscriberDelivery('http://127.0.0.1:9', { log, logger: silentLogger() })],
    new SoleLease(),
    silentLogger(),
  );
  return { log, app: createApp({ log, subscribers, logger: silentLogger() }) };
}

/** A bus with no pushed-to subscribers. */
const none = new Deliverer([], new SoleLease(), silentLogger());

const postCreated = { type: 'PostCreated', data: { id: 'p1', title: 'Hello' } };

describe('event bus HTTP API', () => {
  it('with `wait`, holds a read that has nothing new until an event is stored, and answers [] when the wait is over', async () => {
    const { log, app } = setup();
    await request(app).get('/events?after=0&wait=50').expect(200, []);
    const waiting = request(app).get('/events?after=0&wait=10000');
    setTimeout(
      () =>
        void log.append({
          id: 'e1',
          type: 'PostCreated',
          data: { id: 'p1', title: 'Hello' },
          time: '2026-01-01T00:00:00.000Z',
        }),
      50,
    );
    const { body } = await waiting.expect(200);
    expect(body).toEqual([expect.objectContaining({ id: 'e1', seq: 1 })]);
    // Something to read already: no waiting at all.
    await request(app)
      .get('/events?after=0&wait=30000')
      .expect(200)
      .expect(({ body: events }) => expect(events).toHaveLength(1));
    const { body: error } = await request(app).get('/events?after=0&wait=30001').expect(400);
    expect(error.error).toMatch(/wait/);
  });

  it('answers a waiting read at once when the bus begins to shut down', async () => {
    const draining = new AbortController();
    const app = createApp({
      log: new MemoryEventLog(),
      subscribers: none,
      logger: silentLogger(),
      draining: draining.signal,
    });
    const waiting = request(app).get('/events?after=0&wait=30000');
    setTimeout(() => draining.abort(), 50);
    await waiting.expect(200, []);
  });

  it('answers 503 JSON with Retry-After when the log cannot store, and stores nothing of a refused batch', async () => {
    const log = new MemoryEventLog();
    log.append = () => Promise.reject(new EventLogUnavailableError("no space left on the bus's volume (ENOSPC)"));
    const app = createApp({ log, subscribers: none, logger: silentLogger() });
    for (const [path, body] of [
      ['/events', postCreated],
      ['/events/batch', [postCreated, postCreated]],
    ] as const) {
      const res = await request(app).post(path).send(body).expect(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).toEqual({
        error:
          "event log cannot store events (no space left on the bus's volume (ENOSPC)); nothing was stored, try again",
        code: 'unavailable',
      });
    }
    await request(app).get('/events').expect(200, []);
    await request(app).get('/healthz').expect(200);
  });

  it.each([
    ['did not confirm the event', () => new EventLogUnconfirmedError('timeout'), 504, 'outcome_unknown', '1'],
    ['was changed under the bus', () => new StreamChangedError(['max_age set']), 503, 'stream_changed', '30'],
    ['failed unexpectedly', () => new Error('bug'), 500, 'internal', undefined],
  ] as const)('answers a publish whose log %s with its code', async (_name, fault, status, code, retryAfter) => {
    const log = new MemoryEventLog();
    log.append = () => Promise.reject(fault());
    const app = createApp({ log, subscribers: none, logger: silentLogger() });
    const res = await request(app).post('/events').send(postCreated).expect(status);
    expect(res.body).toEqual({ error: expect.any(String), code });
    expect(res.headers['retry-after']).toBe(retryAfter);
  });

  it('sequences each accepted event and answers 201 {seq}', async () => {
    const { app } = setup();
    await request(app).post('/events').send(postCreated).expect(201, { seq: 1, idsFrom: 1 });
    await request(app)
      .post('/events')
      .send({ ...postCreated, id: 'evt-2', time: '2026-01-02T03:04:05.000Z' })
      .expect(201, { seq: 2, idsFrom: 1 });
    const history = await request(app).get('/events').expect(200);
    expect(history.body).toEqual([
      { ...postCreated, id: expect.any(String), time: expect.any(String), seq: 1 },
      { ...postCreated, id: 'evt-2', time: '2026-01-02T03:04:05.000Z', seq: 2 },
    ]);
  });

  it('stores an event id once: a publisher sending it again gets the original seq and the event stored under it', async () => {
    const { app, log } = setup();
    const first = { ...postCreated, id: 'evt-1', time: '2026-01-02T03:04:05.000Z' };
    await request(app).post('/events').send(first).expect(201, { seq: 1, idsFrom: 1 });
    const stored = { ...first, seq: 1 };
    await request(app).post('/events').send(first).expect(201, { seq: 1, idsFrom: 1, duplicate: true, event: stored });
    expect(log.lastSeq).toBe(1);
  });

  it('refuses another body under a stored event id with 409 JSON naming the stored event, and stores nothing', async () => {
    const { app, log } = setup();
    const first = { ...postCreated, id: 'evt-1', time: '2026-01-02T03:04:05.000Z' };
    await request(app).post('/events').send(first).expect(201, { seq: 1, idsFrom: 1 });
    const stored = { ...first, seq: 1 };
    const otherData = { ...first, data: { id: 'p1', title: 'Another title' }, time: '2026-01-03T00:00:00.000Z' };
    const otherType = {
      ...first,
      type: 'CommentCreated',
      data: { id: 'c1', postId: 'p1', content: 'hi', status: 'pending' },
    };
    for (const other of [otherData, otherType]) {
      const res = await request(app).post('/events').send(other).expect(409);
      expect(res.body).toEqual({
        error: 'another event is stored under id evt-1; nothing was stored',
        code: 'event_id_taken',
        seq: 1,
        idsFrom: 1,
        event: stored,
      });
    }
    expect(log.lastSeq).toBe(1);
    // A publisher without ids (the course's services) is never refused.
    await request(app).post('/events').send(postCreated).expect(201, { seq: 2, idsFrom: 1 });
    await request(app).post('/events').send(postCreated).expect(201, { seq: 3, idsFrom: 1 });
  });

  it('says from which seq on it remembers event ids (idsFrom): an older id is stored again', async () => {
    const { app } = setup({ recentIds: 2 });
    const post = (n: number) => ({ ...postCreated, id: `evt-${n}` });
    await request(app).post('/events').send(post(1)).expect(201, { seq: 1, idsFrom: 1 });
    await request(app).post('/events').send(post(2)).expect(201, { seq: 2, idsFrom: 1 });
    await request(app)
      .post('/events/batch')
      .send([post(3), post(4)])
      .expect(201, { seqs: [3, 4], idsFrom: 3 });
    const again = await request(app).post('/events').send(post(3)).expect(201);
    expect(again.body).toMatchObject({ seq: 3, idsFrom: 3, duplicate: true, event: { id: 'evt-3', seq: 3 } });
    await request(app).post('/events').send(post(2)).expect(201, { seq: 5, idsFrom: 4 });
  });

  it('stores events of types it does not know, so producers can add types', async () => {
    const { app } = setup();
    await request(app)
      .post('/events')
      .send({ type: 'PostLiked', data: { id: 'p1' } })
      .expect(201, { seq: 1, idsFrom: 1 });
  });

  it('ignores a seq sent by the publisher: the bus assigns it', async () => {
    const { app } = setup();
    await request(app)
      .post('/events')
      .send({ ...postCreated, seq: 99 })
      .expect(201, { seq: 1, idsFrom: 1 });
  });

  it.each([
    ['a known type with a bad payload', { type: 'PostCreated', data: { id: 'p1' } }],
    ['a missing type', { data: {} }],
    ['a non-string type', { type: 5, data: {} }],
    ['a bad time', { ...postCreated, time: 'now' }],
    ['an array', [postCreated]],
  ])('rejects %s with 400 JSON and stores nothing', async (_name, body) => {
    const { app, log } = setup();
    const res = await request(app).post('/events').send(body).expect(400);
    expect(res.body).toEqual({ error: expect.any(String), code: 'invalid_request' });
    expect(log.lastSeq).toBe(0);
  });

  it('pages the history with after and limit', async () => {
    const { app } = setup();
    for (let i = 1; i <= 5; i++)
      await request(app)
        .post('/events')
        .send({ type: 'PostCreated', data: { id: `p${i}`, title: 't' } });
    const page = await request(app).get('/events?after=1&limit=2').expect(200);
    expect((page.body as { seq: number }[]).map((event) => event.seq)).toEqual([2, 3]);
    const rest = await request(app).get('/events?after=3').expect(200);
    expect((rest.body as { seq: number }[]).map((event) => event.seq)).toEqual([4, 5]);
    await request(app).get('/events?after=5').expect(200, []);
  });

  it.each(['after=-1', 'after=abc', 'limit=0', 'limit=100001', 'after=1&after=2', 'after=1.5'])(
    'rejects the query %s with 400 JSON',
    async (query) => {
      const { app } = setup();
      const res = await request(app).get(`/events?${query}`).expect(400);
      expect(res.body).toEqual({ error: expect.any(String), code: 'invalid_request' });
    },
  );

  it('shows where each subscriber stands', async () => {
    const { app } = setup();
    await request(app).post('/events').send(postCreated);
    const res = await request(app).get('/subscribers').expect(200);
    expect(res.body).toEqual([{ url: 'http://127.0.0.1:9', delivered: 0, lag: 1, failures: 0, lastError: null }]);
  });

  it('with an events token, shows the subscribers only to a request that carries it (401 JSON otherwise)', async () => {
    const token = 'a-token-of-sixteen-or-more';
    const app = createApp({
      log: new MemoryEventLog(),
      subscribers: none,
      logger: silentLogger(),
      eventsToken: token,
      metrics: new BusMetrics(),
    });
    const refused = await request(app).get('/subscribers').expect(401);
    expect(refused.body).toEqual({ error: expect.stringMatching(/Authorization: Bearer/), code: 'unauthorized' });
    await request(app).get('/subscribers').set('authorization', 'Bearer wrong-token-of-sixteen').expect(401);
    await request(app).get('/subscribers').set('authorization', `Bearer ${token}`).expect(200, []);
    // Prometheus scrapes /metrics without a token: it stays open (it names no event, only counts).
    await request(app).get('/metrics').expect(200);
  });

  it('is always ready and answers health', async () => {
    const { app } = setup();
    await request(app).get('/readyz').expect(200);
    await request(app).get('/healthz').expect(200);
  });

  it('streams a long history whole, in seq order, across its read pages', async () => {
    const { app, log } = setup();
    for (let i = 1; i <= 12_000; i++)
      await log.append({
        id: `e${i}`,
        type: 'PostCreated',
        data: { id: `p${i}`, title: 't' },
        time: '2026-01-01T00:00:00.000Z',
      });
    const all = await request(app).get('/events').expect(200).expect('content-type', /json/);
    expect((all.body as { seq: number }[]).map((event) => event.seq)).toEqual(
      Array.from({ length: 12_000 }, (_, i) => i + 1),
    );
    const page = await request(app).get('/events?after=100&limit=10000').expect(200);
    expect(page.body).toHaveLength(10_000);
    expect((page.body as { id: string }[])[0]?.id).toBe('e101');
    await request(app).get('/events?after=12000').expect(200, []);
  });

  it('stores a batch of events in order and answers 201 {seqs}', async () => {
    const { app } = setup();
    await request(app).post('/events').send(postCreated).expect(201, { seq: 1, idsFrom: 1 });
    const batch = [
      { ...postCreated, id: 'b1' },
      { type: 'PostCreated', data: { id: 'p2', title: 'Two' }, id: 'b2' },
    ];
    await request(app)
      .post('/events/batch')
      .send(batch)
      .expect(201, { seqs: [2, 3], idsFrom: 1 });
    const history = await request(app).get('/events?after=1').expect(200);
    const [b1, b2] = history.body as { id: string; seq: number }[];
    expect([b1, b2].map((event) => [event?.id, event?.seq])).toEqual([
      ['b1', 2],
      ['b2', 3],
    ]);
    // A retried batch (its answer lost) stores nothing twice: every event is named as a duplicate, with what is stored.
    await request(app)
      .post('/events/batch')
      .send(batch)
      .expect(201, {
        seqs: [2, 3],
        idsFrom: 1,
        duplicates: [
          { index: 0, event: b1 },
          { index: 1, event: b2 },
        ],
      });
    // A batch with one stored id and one new: the stored one named.
    await request(app)
      .post('/events/batch')
      .send([{ ...postCreated, id: 'b3' }, batch[1]])
      .expect(201, { seqs: [4, 3], idsFrom: 1, duplicates: [{ index: 1, event: b2 }] });
  });

  it('refuses a batch holding an event larger than a stored event may be (413, naming its index) and stores nothing', async () => {
    const { app, log } = setup();
    const huge = { type: 'Huge', data: 'x'.repeat(MAX_EVENT_BYTES) };
    const res = await request(app).post('/events/batch').send([postCreated, huge]).expect(413);
    expect(res.body).toEqual({
      error: expect.stringMatching(
        new RegExp(`^event at index 1: event is \\d+ bytes; an event may take at most ${MAX_EVENT_BYTES}$`),
      ),
      code: 'payload_too_large',
    });
    expect(log.lastSeq).toBe(0);
  });

  it.each([
    ['an object instead of an array', postCreated, /JSON array/],
    ['an empty array', [], /JSON array/],
    ['one invalid event', [postCreated, { type: 'PostCreated', data: { id: 'p2' } }], /index 1/],
  ])('refuses %s with 400 JSON and stores nothing', async (_name, body, message) => {
    const { app, log } = setup();
    const res = await request(app).post('/events/batch').send(body).expect(400);
    expect(res.body).toEqual({ error: expect.stringMatching(message), code: 'invalid_request' });
    expect(log.lastSeq).toBe(0);
  });

  it('serves its metrics: appended events by type, log size and each subscriber lag', async () => {
    const log = new MemoryEventLog();
    const subscribers = new Deliverer(
      [new SubscriberDelivery('http://127.0.0.1:9', { log, logger: silentLogger() })],
      new SoleLease(),
      silentLogger(),
    );
    const metrics = new BusMetrics();
    metrics.observe(log, subscribers);
    const app = createApp({ log, subscribers, logger: silentLogger(), metrics });
    await request(app).post('/events').send(postCreated).expect(201);
    await request(app)
      .post('/events/batch')
      .send([postCreated, { type: 'PostLiked', data: {} }])
      .expect(201);
    const { text } = await request(app).get('/metrics').expect(200);
    const line = (name: string) => text.split('\n').find((l) => l.startsWith(name));
    expect(line('events_appended_total{type="PostCreated"')).toMatch(/ 2$/);
    expect(line('events_appended_total{type="PostLiked"')).toMatch(/ 1$/);
    expect(line('event_log_events')).toMatch(/ 3$/);
    expect(line('subscriber_lag_events{subscriber="http://127.0.0.1:9"')).toMatch(/ 3$/);
    expect(line('event_log_writable')).toMatch(/ 1$/);
    // A subscriber's metrics (applied, skipped, catch-up) would always read 0 here: the bus has none.
    expect(text).not.toMatch(/events_applied_total|events_skipped_total|catch_up_duration_seconds/);
  });

  it('serves the log health for alerts: writable 0 while it refuses appends, and the refused writes by fault', async () => {
    const log = new MemoryEventLog();
    log.health = () => ({ writable: false, reason: 'ENOSPC' });
    const metrics = new BusMetrics();
    metrics.observe(log, none);
    metrics.logWriteFaults.inc({ code: 'ENOSPC' });
    const { text } = await request(createApp({ log, subscribers: none, logger: silentLogger(), metrics }))
      .get('/metrics')
      .expect(200);
    expect(text).toMatch(/^event_log_writable 0$/m);
    expect(text).toMatch(/^event_log_write_faults_total\{code="ENOSPC"\} 1$/m);
  });
});
