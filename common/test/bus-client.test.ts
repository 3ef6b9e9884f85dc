import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BusClient, BusUnavailableError, BusUnconfirmedError } from '@blog/common';

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

describe('BusClient', () => {
  it('publishes an envelope with id and time and returns it with the seq the bus gave', async () => {
    let received: unknown;
    const url = await busAnswering((req, body, res) => {
      received = { method: req.method, url: req.url, type: req.headers['content-type'], body: JSON.parse(body) };
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ seq: 42 }));
    });
    const envelope = await new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p1', title: 'T' } });
    expect(envelope).toEqual({ type: 'PostCreated', data: { id: 'p1', title: 'T' }, id: expect.any(String), time: expect.any(String), seq: 42 });
    expect(received).toEqual({
      method: 'POST',
      url: '/events',
      type: 'application/json',
      body: { id: envelope.id, type: 'PostCreated', data: { id: 'p1', title: 'T' }, time: envelope.time },
    });
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
    await expect(new BusClient(url).publish({ type: 'PostCreated', data: { id: 'p', title: 't' } })).rejects.toBeInstanceOf(BusUnavailableError);
  });

  it('reports a bus answering 5xx or too slowly as unavailable', async () => {
    const failing = await busAnswering((_req, _body, res) => res.writeHead(500).end());
    await expect(new BusClient(failing).readAfter(0, 1)).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/HTTP 500/) });
    const silent = await busAnswering(() => undefined);
    await expect(new BusClient(silent, { timeoutMs: 50 }).readAfter(0, 1)).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/timed out/) });
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

  it('fails at once when the bus is unreachable: nothing was sent', async () => {
    const url = await busAnswering(() => undefined);
    servers.pop()?.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const publishing = new BusClient(url, { confirmWithinMs: 60_000 }).publish({ type: 'PostCreated', data: { id: 'p', title: 't' } });
    await expect(publishing).rejects.toBeInstanceOf(BusUnavailableError);
  });

  it('says the outcome is unknown when the answer stays lost past the deadline', async () => {
    const url = await busAnswering((req) => req.socket.destroy());
    const publishing = new BusClient(url, { confirmWithinMs: 100 }).publish({ type: 'PostCreated', data: { id: 'p', title: 't' } });
    await expect(publishing).rejects.toBeInstanceOf(BusUnconfirmedError);
    await expect(publishing).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/may or may not/) });
  });
});
