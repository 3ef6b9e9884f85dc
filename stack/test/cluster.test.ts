/**
 * `npm run start:cluster`: what it starts (checked without starting it: the scaled-out stack itself runs
 * in `npm run test:cluster`), and the message when no suitable nats-server is installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLUSTER_NATS_NODES, clusterProcesses, newEventsCredentials, ROOT } from '@blog/stack';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'stack-cluster-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('start:cluster', () => {
  const credentials = newEventsCredentials('a-token-for-this-test');
  const processes = clusterProcesses({ natsServer: '/opt/nats-server', dataDir, credentials });
  const byName = new Map(processes.map((spec) => [spec.name, spec]));

  it('runs 3 NATS nodes (stopped last), 2 replicas of the bus and of each service, and the client', () => {
    expect(processes.map(({ name }) => name)).toEqual([
      'nats-1',
      'nats-2',
      'nats-3',
      'event-bus-1',
      'event-bus-2',
      'posts-1',
      'posts-2',
      'comments-1',
      'comments-2',
      'moderation-1',
      'moderation-2',
      'query-1',
      'query-2',
      'client',
    ]);
    expect(processes.filter((spec) => spec.stopsLast).map(({ name }) => name)).toEqual(['nats-1', 'nats-2', 'nats-3']);
    expect(new Set(processes.map((spec) => spec.env.PORT).filter(Boolean)).size).toBe(11);
  });

  it('writes each NATS node a configuration with fsync before acknowledging and routes to the others', () => {
    const nats = byName.get('nats-2');
    expect(nats?.command).toBe('/opt/nats-server');
    const config = readFileSync(nats?.args[1] as string, 'utf8');
    expect(config).toContain('sync_interval: always');
    expect(config).toContain(`listen: "127.0.0.1:${CLUSTER_NATS_NODES[1]?.clientPort}"`);
    for (const other of [0, 2])
      expect(config).toMatch(
        new RegExp(`nats-route://blog-route:[\\w-]+@127\\.0\\.0\\.1:${CLUSTER_NATS_NODES[other]?.clusterPort}`),
      );
  });

  it('lets only its users in: the administrator, the bus with its permissions, the routes with a password; fresh passwords at each start, in files only their owner reads', () => {
    const config = readFileSync(byName.get('nats-1')?.args[1] as string, 'utf8');
    const bus = byName.get('event-bus-1')?.env ?? {};
    expect(bus).toMatchObject({
      NATS_USER: 'blog-event-bus',
      NATS_ADMIN_USER: 'blog-admin',
      NATS_STREAM: 'BLOG_EVENTS',
    });
    expect(config).toContain(`{ user: "blog-admin", password: ${JSON.stringify(bus.NATS_ADMIN_PASSWORD)} }`);
    expect(config).toContain(
      `{ user: "blog-event-bus", password: ${JSON.stringify(bus.NATS_PASSWORD)}, permissions: { publish: { allow: ["blog_events.events", `,
    );
    expect(config).not.toMatch(/STREAM\.(CREATE|UPDATE|DELETE)|"\$JS\.API\.STREAM\.PURGE\.BLOG_EVENTS"/);
    expect(config).toMatch(/cluster \{[^\n]*authorization: \{ user: "blog-route", password: "[\w-]+" \}/);
    expect(statSync(byName.get('nats-1')?.args[1] as string).mode & 0o077).toBe(0);

    const again = clusterProcesses({ natsServer: '/opt/nats-server', dataDir, credentials });
    const busAgain = again.find((spec) => spec.name === 'event-bus-1')?.env ?? {};
    expect(busAgain.NATS_PASSWORD).not.toBe(bus.NATS_PASSWORD);
    expect(busAgain.NATS_ADMIN_PASSWORD).not.toBe(bus.NATS_ADMIN_PASSWORD);
  });

  it('puts the bus on JetStream, every service replica on its own bus replica first, and the client over every replica', () => {
    expect(byName.get('event-bus-2')?.env).toMatchObject({
      EVENT_LOG: 'jetstream',
      EVENT_SUBSCRIBERS: 'none',
      PORT: '4015',
      NATS_URL: CLUSTER_NATS_NODES.map((node) => node.url).join(','),
    });
    expect(byName.get('query-2')?.env).toMatchObject({
      PORT: '4012',
      EVENTS_FOLLOW: 'true',
      EVENT_BUS_URL: 'http://127.0.0.1:4015,http://127.0.0.1:4005',
      EVENTS_TOKEN: credentials.serviceTokens.query,
    });
    expect(byName.get('event-bus-1')?.env).toMatchObject({
      EVENTS_TOKEN: 'a-token-for-this-test',
      QUERY_EVENTS_TOKEN: credentials.serviceTokens.query,
      DELIVERY_SIGNING_KEY: credentials.signingKey,
    });
    expect(byName.get('client')?.env).toMatchObject({
      PORT: '3000',
      POSTS_URL: 'http://127.0.0.1:4000,http://127.0.0.1:4010',
      QUERY_URL: 'http://127.0.0.1:4002,http://127.0.0.1:4012',
    });
  });

  it('says how to get NATS when no suitable nats-server is found, and starts nothing', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'no-nats-'));
    try {
      const run = spawnSync(process.execPath, [path.join(ROOT, 'stack', 'dist', 'cli.js'), 'start-cluster'], {
        env: {
          PATH: path.dirname(process.execPath),
          NATS_SERVER: path.join(empty, 'missing'),
          XDG_CACHE_HOME: empty,
          HOME: empty,
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(
        /npm run start:cluster needs NATS: no nats-server 2\.10\.23 or later found.*tools\/scripts\/nats-server\.sh/,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
