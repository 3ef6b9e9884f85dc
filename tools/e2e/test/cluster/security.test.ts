/**
 * The trust boundaries of the scaled-out blog (`npm run test:cluster`), each attack of issue 23 as a case:
 * NATS takes only its users; the bus's user cannot shorten, purge or remove the history; a server without
 * the route password cannot join the cluster; a message on the stream that is not an event stops nothing;
 * a stream changed under the bus is refused rather than served.
 */
import path from 'node:path';
import { natsStorageNames, QUARANTINED_EVENT_TYPE } from '@blog/common';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { freePorts, http, startNatsProcess, waitFor, type NatsCredentials } from '@blog/testkit';
import { useScaledOutBlog } from './support';

const CLUSTER_NAME = 'blog-security';
const names = natsStorageNames('BLOG_EVENTS');
const blog = useScaledOutBlog('blog-security-', { clusterName: CLUSTER_NAME });
const connections: NatsConnection[] = [];

afterAll(async () => {
  await Promise.all(connections.map((connection) => connection.close()));
});

async function connectAs(login: NatsCredentials): Promise<NatsConnection> {
  const connection = await connect({ servers: blog.nats().urls, user: login.user, pass: login.password });
  connections.push(connection);
  return connection;
}

async function admin(): Promise<JetStreamManager> {
  return jetstreamManager(await connectAs(blog.nats().identities.admin));
}

async function createPost(title: string): Promise<string> {
  const answer = await http(`${blog.stack().url('posts', 0)}/posts/create`, { body: { title }, timeoutMs: 30_000 });
  if (answer.status !== 201) throw new Error(`POST /posts/create: HTTP ${answer.status} ${answer.text}`);
  return (answer.json as { id: string }).id;
}

const titlesOn = async (queryReplica: number) =>
  Object.values(
    (await http(`${blog.stack().url('query', queryReplica)}/posts`)).json as Record<string, { title: string }>,
  ).map(({ title }) => title);

test('NATS takes no client without a password, nor with a wrong one', async () => {
  await expect(connect({ servers: blog.nats().urls, maxReconnectAttempts: 0 })).rejects.toThrow(/authorization/i);
  await expect(
    connect({
      servers: blog.nats().urls,
      user: blog.nats().identities.bus.user,
      pass: 'guessed-password',
      maxReconnectAttempts: 0,
    }),
  ).rejects.toThrow(/authorization/i);
});

test("the bus's user cannot shorten, purge or delete the event stream, nor make one; the history stays whole", async () => {
  await createPost('kept whatever the bus user tries');
  const before = await (await admin()).streams.info(names.stream);
  const asBus = await jetstreamManager(await connectAs(blog.nats().identities.bus));
  await expect(asBus.streams.update(names.stream, { ...before.config, max_msgs: 1 })).rejects.toThrow(/permission/i);
  await expect(asBus.streams.purge(names.stream)).rejects.toThrow(/permission/i);
  await expect(asBus.streams.delete(names.stream)).rejects.toThrow(/permission/i);
  await expect(asBus.streams.add({ name: 'ROGUE', subjects: ['rogue.>'] })).rejects.toThrow(/permission/i);

  const after = await (await admin()).streams.info(names.stream);
  expect(after.config).toEqual(before.config);
  expect(after.state.first_seq).toBe(1);
  expect(after.state.messages).toBeGreaterThanOrEqual(before.state.messages);
});

test("a server with the cluster's name but without the route password cannot join it", async () => {
  const [clientPort, clusterPort] = (await freePorts(2)) as [number, number];
  const rogue = startNatsProcess({
    dir: path.join(blog.dir(), 'rogue'),
    name: 'rogue',
    config: [
      'server_name: rogue',
      `listen: "127.0.0.1:${clientPort}"`,
      `cluster { name: ${CLUSTER_NAME}, listen: "127.0.0.1:${clusterPort}", routes: ["nats-route://127.0.0.1:${blog.nats().nodes[0]?.clusterPort}"] }`,
      '',
    ].join('\n'),
  });
  try {
    await waitFor(() => /authorization/i.test(rogue.log()), {
      what: 'the cluster to refuse the rogue server its route',
      timeoutMs: 20_000,
    });
    const routes = (await blog.nats().monitor(0, '/routez')) as { routes?: { remote_name?: string }[] };
    expect((routes.routes ?? []).map((route) => route.remote_name)).not.toContain('rogue');
  } finally {
    await rogue.stop();
  }
});

test('a message on the stream that is not an event stops nothing: posts created after it reach every query replica, one restarted too', async () => {
  const publisher = await connectAs(blog.nats().identities.admin);
  publisher.publish(names.subject, Uint8Array.from([0xff, 0x00, 0x7b, 0x22, 0x69]));
  await publisher.flush();
  const title = `after the bad message ${Date.now()}`;
  await createPost(title);
  for (const replica of [0, 1])
    await waitFor(async () => (await titlesOn(replica)).includes(title), {
      what: `query ${replica + 1} to show the post`,
      timeoutMs: 30_000,
    });

  const history = await http(`${blog.stack().url('event-bus', 1)}/events`, { headers: blog.stack().eventHeaders() });
  expect(history.status).toBe(200);
  expect((history.json as { type: string }[]).map(({ type }) => type)).toContain(QUARANTINED_EVENT_TYPE);

  await blog.stack().kill('query', 1);
  await blog.stack().start('query', 1);
  expect(await titlesOn(1)).toContain(title);
});

// Last: the bus refuses the changed stream for good.
test('a stream changed under the bus so that it would drop events is refused: reads and appends answer 503 naming it, and a metric says so', async () => {
  const jsm = await admin();
  const { config } = await jsm.streams.info(names.stream);
  await jsm.streams.update(names.stream, { ...config, max_age: nanos(30 * 24 * 3_600_000) });

  const bus = blog.stack().url('event-bus', 0);
  const read = await waitFor(
    async () => {
      const answer = await http(`${bus}/events`, { headers: blog.stack().eventHeaders() });
      return answer.status === 503 ? answer : undefined;
    },
    { what: 'the bus to refuse reads of the changed stream', timeoutMs: 20_000 },
  );
  expect((read.json as { error: string }).error).toMatch(/changed under the bus.*drops old events \(max_age/);
  const append = await http(`${bus}/events`, {
    headers: blog.stack().eventHeaders(),
    body: { type: 'PostCreated', data: { id: 'p-late', title: 'late' } },
  });
  expect(append.status).toBe(503);
  expect((await http(`${bus}/metrics`)).text).toMatch(/^event_stream_changed 1$/m);
});
