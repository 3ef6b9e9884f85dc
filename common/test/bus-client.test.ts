import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BusClient,
  BusIncompatibleError,
  BusUnavailableError,
  BusUnconfirmedError,
  EventIdTakenError,
  runWithRequestId,
  ServiceMetrics,
} from '@blog/common';
import { recordingLogger } from '@blog/common/testing';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function fakeBus(handler: Handler): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function busAnswering(handler: Handler) {
  const bus = await fakeBus(handler);
  servers.push(bus.server);
  return bus.url;
}

describe('BusClient log lines', () => {
  it('name the request each publish was made for, also when one batch carries the publishes of several', async () => {
    const { logger, lines } = recordingLogger();
    const batches: number[] = [];
    let nextSeq = 1;
    const url = await busAnswering((req, body, res) => {
      const events = req.url === '/events/batch' ? (JSON.parse(body) as unknown[]) : [JSON.parse(body)];
      batches.push(events.length);
      const seqs = events.map(() => nextSeq++);
      const answer = req.url === '/events/batch' ? { seqs } : { seq: seqs[0] };
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
    const bus = new BusClient(url, { logger });
    const publishFor = (reqId: string, postId: string) =>
      runWithRequestId(reqId, () =>
        bus.publish({ type: 'PostCreated', data: { id: postId, title: 't' } }, { id: `event-${postId}` }),
      );
    await Promise.all([publishFor('request-a', 'a'), publishFor('request-b', 'b')]);
    expect(batches).toEqual([2]);
    const published = lines().filter((line) => line.msg === 'event published');
    expect(published.map(({ eventId, reqId }) => ({ eventId, reqId }))).toEqual([
      { eventId: 'event-a', reqId: 'request-a' },
      { eventId: 'event-b', reqId: 'request-b' },
    ]);
  });
});

describe('BusClient', () => {
  it('publishes an envelope with id and time and returns it with the seq the bus gave', async () => {
    let received: unknown;
    const url = await busAnswering((req, body, res) => {
      received = { method: req.method, url: req.url, type: req.headers['content-type'], body: JSON.parse(body) };
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 42 }));
    });
    const envelope = await new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } });
    expect(envelope).toEqual({
      type: 'PostCreated',
      data: { id: 'p1', title: 'T' },
      id: expect.any(String),
      time: expect.any(String),
      seq: 42,
    });
    expect(received).toEqual({
      method: 'POST',
      url: '/events',
      type: 'application/json',
      body: { id: envelope.id, type: 'PostCreated', data: { id: 'p1', title: 'T' }, time: envelope.time },
    });
  });

  it('sends its events token with publishes and history reads, and says so when the bus refuses it', async () => {
    const token = 'the-token-of-this-blog';
    const seen: (string | undefined)[] = [];
    const url = await busAnswering((req, _body, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== `Bearer ${token}`)
        return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"wrong events token"}');
      res
        .writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' })
        .end(req.method === 'POST' ? '{"seq":1}' : '[]');
    });
    await new BusClient(url, { token }).publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } });
    await new BusClient(url, { token }).readAfter(0, 10);
    expect(seen).toEqual([`Bearer ${token}`, `Bearer ${token}`]);

    const wrong = new BusClient(url, { token: 'not-the-token-of-this-blog' });
    const refusal = /503|bus refused our events token; EVENTS_TOKEN must be one the bus knows/;
    await expect(wrong.publish({ type: 'PostCreated', data: { id: 'p2', title: 'T' } })).rejects.toThrow(
      BusUnavailableError,
    );
    await expect(wrong.publish({ type: 'PostCreated', data: { id: 'p3', title: 'T' } })).rejects.toThrow(refusal);
    await expect(wrong.readAfter(0, 10)).rejects.toThrow(BusUnavailableError);
  });

  it('counts and logs each event the bus stored, and nothing it did not', async () => {
    const { logger, lines } = recordingLogger();
    const metrics = new ServiceMetrics();
    let nextSeq = 1;
    const url = await busAnswering((req, body, res) => {
      const answer =
        req.url === '/events/batch'
          ? { seqs: (JSON.parse(body) as unknown[]).map(() => nextSeq++) }
          : { seq: nextSeq++ };
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
    const bus = new BusClient(url, { logger, metrics });
    const stored = await bus.publish({ type: 'PostCreated', data: { id: 'p', title: 't' } }, { id: 'event-1' });
    expect(stored.seq).toBe(1);
    expect(lines()).toContainEqual(
      expect.objectContaining({ msg: 'event published', eventId: 'event-1', type: 'PostCreated', seq: 1 }),
    );
    expect(await metrics.registry.getSingleMetricAsString('events_published_total')).toMatch(
      /type="PostCreated"[^\n]* 1$/m,
    );

    const unreachable = new BusClient('http://127.0.0.1:9', { logger, metrics, confirmWithinMs: 0 });
    await expect(unreachable.publish({ type: 'PostCreated', data: { id: 'q', title: 't' } })).rejects.toThrow();
    expect(lines().filter((line) => line.msg === 'event published')).toHaveLength(1);
    expect(await metrics.registry.getSingleMetricAsString('events_published_total')).toMatch(
      /type="PostCreated"[^\n]* 1$/m,
    );
  });

  it('reads a page of the history', async () => {
    const url = await busAnswering((req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ asked: req.url }]));
    });
    expect(await new BusClient(url).readAfter(10, 500)).toEqual([{ asked: '/events?after=10&limit=500' }]);
  });

  it('reports an unreachable bus as 503 BusUnavailableError', async () => {
    const url = await busAnswering(() => undefined);
    servers.pop()?.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(
      new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p', title: 't' } }),
    ).rejects.toBeInstanceOf(BusUnavailableError);
  });

  it('reports a bus answering 5xx or too slowly as unavailable', async () => {
    const failing = await busAnswering((_req, _body, res) => res.writeHead(500).end());
    await expect(new BusClient(failing).readAfter(0, 1)).rejects.toMatchObject({
      status: 503,
      message: expect.stringMatching(/HTTP 500/),
    });
    const silent = await busAnswering(() => undefined);
    await expect(new BusClient(silent, { timeoutMs: 50 }).readAfter(0, 1)).rejects.toMatchObject({
      status: 503,
      message: expect.stringMatching(/timed out/),
    });
  });

  it('passes on why the bus refused to store an event, and its Retry-After', async () => {
    const url = await busAnswering((_req, _body, res) =>
      res
        .writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' })
        .end('{"error":"event log cannot store events (disk full); nothing was stored"}'),
    );
    const publishing = new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p', title: 't' } });
    await expect(publishing).rejects.toBeInstanceOf(BusUnavailableError);
    await expect(publishing).rejects.toMatchObject({
      status: 503,
      retryAfterSeconds: 2,
      message:
        'event bus unavailable (HTTP 503: event log cannot store events (disk full); nothing was stored); nothing was changed, try again',
    });
  });

  it('reports a refused event as a plain error (a bug, not an outage)', async () => {
    const url = await busAnswering((_req, _body, res) => res.writeHead(400).end('{"error":"malformed event"}'));
    const publishing = new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p', title: 't' } });
    await expect(publishing).rejects.toThrow(/refused POST \/events: HTTP 400/);
    await expect(publishing).rejects.not.toBeInstanceOf(BusUnavailableError);
  });

  it('sends the same event again when the answer was lost, until the bus confirms it', async () => {
    const ids: string[] = [];
    const url = await busAnswering((req, body, res) => {
      ids.push((JSON.parse(body) as { id: string }).id);
      if (ids.length < 3) req.socket.destroy();
      else res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 7 }));
    });
    const envelope = await new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } });
    expect(envelope.seq).toBe(7);
    expect(ids).toEqual([envelope.id, envelope.id, envelope.id]);
  });

  it('sends the same event again when the bus answers 504 (its replicated log did not confirm), until it does', async () => {
    const ids: string[] = [];
    const url = await busAnswering((_req, body, res) => {
      ids.push((JSON.parse(body) as { id: string }).id);
      if (ids.length < 2)
        res
          .writeHead(504, { 'content-type': 'application/json' })
          .end('{"error":"event log did not confirm the event (timeout); it may have been stored"}');
      else res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 3 }));
    });
    const envelope = await new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } });
    expect(envelope.seq).toBe(3);
    expect(ids).toEqual([envelope.id, envelope.id]);
  });

  it('with several bus URLs (replicas), passes over one that cannot be reached, and stays on the one that answered', async () => {
    const dead = await busAnswering(() => undefined);
    servers.pop()?.close();
    let requests = 0;
    const live = await busAnswering((req, _body, res) => {
      requests++;
      if (req.method === 'GET') res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
      else res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 1 }));
    });
    const bus = new BusClient([dead, live]);
    expect((await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } })).seq).toBe(1);
    expect(await bus.readAfter(0, 10)).toEqual([]);
    expect(requests).toBe(2);
    await expect(new BusClient([dead, dead]).readAfter(0, 1)).rejects.toBeInstanceOf(BusUnavailableError);
  });

  it('with several bus URLs, sends the same event to another replica when one leaves it unanswered, and stays there', async () => {
    const ids: string[] = [];
    const silent = await busAnswering(
      (_req, body) => void ids.push(`silent ${(JSON.parse(body) as { id: string }).id}`),
    );
    const live = await busAnswering((_req, body, res) => {
      ids.push(`live ${(JSON.parse(body) as { id: string }).id}`);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 5 }));
    });
    const bus = new BusClient([silent, live], { timeoutMs: 100 });
    const first = await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } });
    expect(first.seq).toBe(5);
    expect(ids).toEqual([`silent ${first.id}`, `live ${first.id}`]);
    const second = await bus.publish({ type: 'PostCreated', data: { id: 'p2', title: 'T' } });
    expect(ids.at(-1)).toBe(`live ${second.id}`);
  });

  it('with several bus URLs, asks another replica when one refuses to store (5xx), and says unavailable only when every one refused', async () => {
    const refusing = () =>
      busAnswering((_req, _body, res) =>
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"no quorum; nothing was stored"}'),
      );
    const storing = await busAnswering((_req, _body, res) =>
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 9 })),
    );
    expect(
      (
        await new BusClient([await refusing(), storing]).publish({
          type: 'PostCreated',
          data: { id: 'p1', title: 'T' },
        })
      ).seq,
    ).toBe(9);
    await expect(
      new BusClient([await refusing(), await refusing()]).publish({
        type: 'PostCreated',
        data: { id: 'p2', title: 'T' },
      }),
    ).rejects.toMatchObject({
      status: 503,
      message: expect.stringMatching(/nothing was changed/),
    });
  });

  it("answers a clear 502 when the bus is not this blog's (it takes the event but gives no seq, as the course's does)", async () => {
    const courseBus = await busAnswering((req, _body, res) => {
      if (req.url === '/events/batch') res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"OK"}');
    });
    const publishing = new BusClient(courseBus).publish({ type: 'PostCreated', data: { id: 'p', title: 't' } });
    await expect(publishing).rejects.toBeInstanceOf(BusIncompatibleError);
    await expect(publishing).rejects.toMatchObject({
      status: 502,
      message: expect.stringMatching(/no seq: it is not this blog's event bus/),
    });
  });

  it('fails at once when the bus is unreachable: nothing was sent', async () => {
    const url = await busAnswering(() => undefined);
    servers.pop()?.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const publishing = new BusClient(url, { confirmWithinMs: 60_000 }).publish({
      type: 'PostCreated',
      data: { id: 'p', title: 't' },
    });
    await expect(publishing).rejects.toBeInstanceOf(BusUnavailableError);
  });

  it('says the outcome is unknown when the answer stays lost past the deadline', async () => {
    const url = await busAnswering((req) => req.socket.destroy());
    const publishing = new BusClient(url, { confirmWithinMs: 100 }).publish({
      type: 'PostCreated',
      data: { id: 'p', title: 't' },
    });
    await expect(publishing).rejects.toBeInstanceOf(BusUnconfirmedError);
    await expect(publishing).rejects.toMatchObject({
      status: 503,
      code: 'outcome_unknown',
      message: expect.stringMatching(/may or may not/),
    });
  });

  describe("decides on the code of the bus's answer, not its status or words", () => {
    const refuse = (res: ServerResponse, status: number, code: string, error = 'refused') =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error, code }));

    it('sends the same event again on outcome_unknown, whatever the status, until the bus confirms it', async () => {
      const ids: string[] = [];
      const url = await busAnswering((_req, body, res) => {
        ids.push((JSON.parse(body) as { id: string }).id);
        if (ids.length < 2) refuse(res, 503, 'outcome_unknown');
        else res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 3 }));
      });
      const envelope = await new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } });
      expect(ids).toEqual([envelope.id, envelope.id]);
    });

    it('gives up at once on unavailable, even from a 504 that reads "may have been stored"', async () => {
      let requests = 0;
      const url = await busAnswering((_req, _body, res) => {
        requests++;
        refuse(res, 504, 'unavailable', 'it may have been stored');
      });
      const publishing = new BusClient(url, { confirmWithinMs: 60_000 }).publish({
        type: 'PostCreated',
        data: { id: 'p', title: 't' },
      });
      await expect(publishing).rejects.toBeInstanceOf(BusUnavailableError);
      await expect(publishing).rejects.toMatchObject({ status: 503, code: 'unavailable' });
      expect(requests).toBe(1);
    });

    it('asks another replica when one says its stream changed, and reads from another too', async () => {
      const changed = await busAnswering((_req, _body, res) => refuse(res, 503, 'stream_changed'));
      const live = await busAnswering((req, _body, res) => {
        if (req.method === 'GET') res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
        else res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 4 }));
      });
      expect(
        (await new BusClient([changed, live]).publish({ type: 'PostCreated', data: { id: 'p', title: 't' } })).seq,
      ).toBe(4);
      const reader = new BusClient([changed, live]);
      await expect(reader.readAfter(0, 1)).rejects.toBeInstanceOf(BusUnavailableError);
      await expect(reader.readAfter(0, 1)).resolves.toEqual([]);
    });

    it('settles a publish as a taken id only on event_id_taken; another 409 is a plain error', async () => {
      const stored = {
        id: 'event-1',
        type: 'PostCreated',
        data: { id: 'p1', title: 'First' },
        time: '2026-01-01T00:00:00.000Z',
        seq: 7,
      };
      const answering = (code: string) =>
        busAnswering((_req, _body, res) =>
          res
            .writeHead(409, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: 'taken', code, seq: 7, idsFrom: 1, event: stored })),
        );
      const taken = new BusClient(await answering('event_id_taken')).publish(
        { type: 'PostCreated', data: { id: 'p1', title: 'Second' } },
        { id: 'event-1' },
      );
      await expect(taken).rejects.toBeInstanceOf(EventIdTakenError);
      await expect(taken).rejects.toMatchObject({ status: 409, code: 'event_id_taken' });
      const conflict = new BusClient(await answering('conflict')).publish(
        { type: 'PostCreated', data: { id: 'p1', title: 'Second' } },
        { id: 'event-1' },
      );
      await expect(conflict).rejects.toThrow(/refused POST \/events: HTTP 409/);
      await expect(conflict).rejects.not.toBeInstanceOf(EventIdTakenError);
    });

    it('says a refused token is the misconfiguration it is, for publishes and reads', async () => {
      const url = await busAnswering((_req, _body, res) => refuse(res, 401, 'unauthorized', 'unknown events token'));
      const refusal = /bus refused our events token; EVENTS_TOKEN must be one the bus knows/;
      await expect(new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p', title: 't' } })).rejects.toThrow(
        refusal,
      );
      await expect(new BusClient(url).readAfter(0, 1)).rejects.toThrow(refusal);
    });
  });

  describe('an id the bus had already', () => {
    const storedEarlier = {
      id: 'event-1',
      type: 'PostCreated',
      data: { id: 'p1', title: 'First' },
      time: '2026-01-01T00:00:00.000Z',
      seq: 7,
    };
    const busHolding = (stored: typeof storedEarlier) =>
      busAnswering((req, body, res) => {
        const answer = (item: unknown, index: number) =>
          (item as { id: string }).id === stored.id ? { index, event: stored } : undefined;
        if (req.url === '/events/batch') {
          const events = JSON.parse(body) as unknown[];
          const duplicates = events.map(answer).filter((found) => found !== undefined);
          const seqs = events.map((item, index) => (answer(item, index) ? stored.seq : 100 + index));
          return void res
            .writeHead(201, { 'content-type': 'application/json' })
            .end(JSON.stringify({ seqs, duplicates }));
        }
        res
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ seq: stored.seq, duplicate: true, event: stored }));
      });

    it('resolves with the stored event (its seq and time) when it holds the same type and data, and logs it as already stored', async () => {
      const { logger, lines } = recordingLogger();
      const metrics = new ServiceMetrics();
      const url = await busHolding(storedEarlier);
      const envelope = await new BusClient(url, { logger, metrics }).publish(
        { type: 'PostCreated', data: { id: 'p1', title: 'First' } },
        { id: 'event-1' },
      );
      expect(envelope).toEqual(storedEarlier);
      expect(lines()).toContainEqual(
        expect.objectContaining({ msg: expect.stringMatching(/already stored/), eventId: 'event-1', seq: 7 }),
      );
      expect(await metrics.registry.getSingleMetricAsString('events_published_total')).not.toMatch(
        /type="PostCreated"/,
      );
    });

    it('rejects with EventIdTakenError (409, naming the id) when it holds other data or another type under the id', async () => {
      const url = await busHolding(storedEarlier);
      const bus = new BusClient(url);
      const otherTitle = bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Second' } }, { id: 'event-1' });
      await expect(otherTitle).rejects.toBeInstanceOf(EventIdTakenError);
      await expect(otherTitle).rejects.toMatchObject({
        status: 409,
        eventId: 'event-1',
        stored: storedEarlier,
        message: expect.stringMatching(/already holds another event under id event-1/),
      });
      const otherType = bus.publish(
        { type: 'CommentCreated', data: { id: 'p1', postId: 'x', content: 'First', status: 'pending' } },
        { id: 'event-1' },
      );
      await expect(otherType).rejects.toBeInstanceOf(EventIdTakenError);
    });

    it('rejects with EventIdTakenError at once when a bus older than the codes refuses the id with 409 and the event it holds', async () => {
      let requests = 0;
      const url = await busAnswering((_req, _body, res) => {
        requests++;
        res.writeHead(409, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: 'another event is stored under id event-1; nothing was stored',
            seq: 7,
            idsFrom: 1,
            event: storedEarlier,
          }),
        );
      });
      const publishing = new BusClient(url).publish(
        { type: 'PostCreated', data: { id: 'p1', title: 'Second' } },
        { id: 'event-1' },
      );
      await expect(publishing).rejects.toBeInstanceOf(EventIdTakenError);
      await expect(publishing).rejects.toMatchObject({ status: 409, eventId: 'event-1', stored: storedEarlier });
      expect(requests).toBe(1);
    });

    it('in a batch, settles each event by its own answer', async () => {
      const url = await busHolding(storedEarlier);
      const bus = new BusClient(url);
      const outcomes = await Promise.allSettled([
        bus.publish({ type: 'PostCreated', data: { id: 'p0', title: 'New' } }, { id: 'event-0' }),
        bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Not the first' } }, { id: 'event-1' }),
      ]);
      expect(outcomes[0]).toMatchObject({ status: 'fulfilled', value: { id: 'event-0', seq: 100 } });
      expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: expect.any(EventIdTakenError) });
      const same = await Promise.all([
        bus.publish({ type: 'PostCreated', data: { id: 'p2', title: 'New' } }, { id: 'event-2' }),
        bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'First' } }, { id: 'event-1' }),
      ]);
      expect(same.map(({ seq, time }) => [seq, time])).toEqual([
        [100, expect.any(String)],
        [7, storedEarlier.time],
      ]);
    });
  });

  it('keeps the latest idsFrom the bus answers (from which seq it remembers event ids), whatever order answers come in', async () => {
    const answers = [7, 3];
    const url = await busAnswering((_req, _body, res) => {
      const idsFrom = answers.shift();
      // The first request is answered last.
      setTimeout(
        () => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 10, idsFrom })),
        idsFrom === 7 ? 50 : 0,
      );
    });
    const bus = new BusClient(url);
    expect(bus.idsFrom).toBeUndefined();
    const first = bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } });
    await new Promise((resolve) => setTimeout(resolve, 10));
    await Promise.all([first, bus.publish({ type: 'PostCreated', data: { id: 'p2', title: 'T' } })]);
    expect(bus.idsFrom).toBe(7);
  });

  it('answers 502 when a bus says an id is a duplicate but not what it holds under it', async () => {
    const url = await busAnswering((_req, _body, res) =>
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"seq":3,"duplicate":true}'),
    );
    const publishing = new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } });
    await expect(publishing).rejects.toBeInstanceOf(BusIncompatibleError);
    await expect(publishing).rejects.toMatchObject({
      status: 502,
      message: expect.stringMatching(/but not the event stored under its id: it is not this blog's event bus/),
    });
  });

  describe('publishing several events at once', () => {
    const post = (n: number) => ({ type: 'PostCreated' as const, data: { id: `p${n}`, title: `t${n}` } });
    const answer = (res: ServerResponse, status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

    it('sends events published in the same turn in one batch request, each resolved with its own seq', async () => {
      const requests: { url?: string; body: unknown }[] = [];
      const url = await busAnswering((req, body, res) => {
        const parsed = JSON.parse(body) as unknown;
        requests.push({ url: req.url, body: parsed });
        answer(res, 201, { seqs: (parsed as unknown[]).map((_, i) => 10 + i) });
      });
      const bus = new BusClient(url);
      const envelopes = await Promise.all([1, 2, 3].map((n) => bus.publish(post(n))));
      expect(envelopes.map(({ seq, data }) => [seq, data.id])).toEqual([
        [10, 'p1'],
        [11, 'p2'],
        [12, 'p3'],
      ]);
      expect(requests).toHaveLength(1);
      expect(requests[0]).toEqual({
        url: '/events/batch',
        body: envelopes.map(({ id, type, data, time }) => ({ id, type, data, time })),
      });
    });

    it('sends them one per request to a bus without the batch route', async () => {
      const paths: (string | undefined)[] = [];
      let seq = 0;
      const url = await busAnswering((req, _body, res) => {
        paths.push(req.url);
        if (req.url === '/events/batch') answer(res, 404, { error: 'no route', code: 'not_found' });
        else answer(res, 201, { seq: ++seq });
      });
      const bus = new BusClient(url);
      const first = await Promise.all([1, 2].map((n) => bus.publish(post(n))));
      expect(first.map((e) => e.seq).sort()).toEqual([1, 2]);
      const second = await Promise.all([3, 4].map((n) => bus.publish(post(n))));
      expect(second.map((e) => e.seq).sort()).toEqual([3, 4]);
      // The batch route was tried once only.
      expect(paths.filter((path) => path === '/events/batch')).toHaveLength(1);
    });

    it('when the bus refuses a batch, fails only the event it refuses', async () => {
      let seq = 0;
      const url = await busAnswering((req, body, res) => {
        if (req.url === '/events/batch')
          return answer(res, 400, { error: 'event at index 1: malformed event', code: 'invalid_request' });
        const { data } = JSON.parse(body) as { data: { id: string } };
        if (data.id === 'p2') answer(res, 400, { error: 'malformed event', code: 'invalid_request' });
        else answer(res, 201, { seq: ++seq });
      });
      const bus = new BusClient(url);
      const outcomes = await Promise.allSettled([1, 2, 3].map((n) => bus.publish(post(n))));
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    });

    it('resends the whole batch, same ids, when its answer was lost', async () => {
      const bodies: string[] = [];
      const url = await busAnswering((req, body, res) => {
        bodies.push(body);
        if (bodies.length === 1) req.socket.destroy();
        else answer(res, 201, { seqs: [5, 6] });
      });
      const bus = new BusClient(url);
      const envelopes = await Promise.all([1, 2].map((n) => bus.publish(post(n))));
      expect(envelopes.map((e) => e.seq)).toEqual([5, 6]);
      expect(bodies).toHaveLength(2);
      expect(bodies[1]).toBe(bodies[0]);
    });
  });
});
