/** How a service reads the bus's answers about snapshots: by their code, and by their status from a bus without codes. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BusSnapshots, SnapshotsUnsupportedError } from '@blog/common/state';

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A bus answering every request with this status and body. */
async function busAnswering(status: number, body: unknown): Promise<BusSnapshots> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const busUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return new BusSnapshots({ busUrls: [busUrl], eventsToken: undefined, service: 'query' });
}

describe('BusSnapshots', () => {
  it('takes no_snapshot for "none kept", and any other 404 for a bus without the routes, whatever the words', async () => {
    await expect(
      (await busAnswering(404, { error: 'nothing here', code: 'no_snapshot' })).newest('query@1'),
    ).resolves.toBeUndefined();
    const withoutRoutes = await busAnswering(404, { error: 'no snapshot route', code: 'not_found' });
    await expect(withoutRoutes.newest('query@1')).rejects.toBeInstanceOf(SnapshotsUnsupportedError);
  });

  it('reads a bus older than the codes by its words, and a 404 of anything else as no routes', async () => {
    await expect(
      (await busAnswering(404, { error: 'no snapshot of query@1 is kept' })).newest('query@1'),
    ).resolves.toBeUndefined();
    await expect((await busAnswering(404, 'Cannot GET')).newest('query@1')).rejects.toBeInstanceOf(
      SnapshotsUnsupportedError,
    );
  });

  it('makes no snapshot when the claim is refused as a conflict (another replica, or one as new kept already)', async () => {
    await expect(
      (await busAnswering(409, { error: 'claimed', code: 'conflict' })).claim('query@1', 5),
    ).resolves.toBeUndefined();
    await expect(
      (await busAnswering(409, { error: 'another replica is making a snapshot of query@1' })).claim('query@1', 5),
    ).resolves.toBeUndefined();
  });

  it('tells a bus without the routes from one that cannot claim now', async () => {
    await expect(
      (await busAnswering(404, { error: 'no route', code: 'not_found' })).claim('query@1', 5),
    ).rejects.toBeInstanceOf(SnapshotsUnsupportedError);
    const failing = (
      await busAnswering(503, { error: 'the snapshot store is unavailable', code: 'unavailable' })
    ).claim('query@1', 5);
    await expect(failing).rejects.toThrow(/claiming the next snapshot: the event bus answered 503/);
    await expect(failing).rejects.not.toBeInstanceOf(SnapshotsUnsupportedError);
  });
});
