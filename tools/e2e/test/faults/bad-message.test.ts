/**
 * One bad entry in the event log stops nothing (issue 23): a line of the bus's file that is not an event
 * (written by hand, by a tool) is quarantined. The bus starts, serves an `EventQuarantined` placeholder at
 * its seq, every service goes on, and a service that builds its state from event 1 passes it too. The same
 * on JetStream is in tools/e2e/test/cluster/security.test.ts.
 */
import { appendFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { QUARANTINED_EVENT_TYPE } from '@blog/common';
import { http, startStack, waitFor, type Stack } from '@blog/testkit';

const LOGS = path.join(__dirname, '..', '..', 'artifacts', 'logs');

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ logDir: path.join(LOGS, 'faults-bad-message') });
}, 60_000);

afterAll(async () => {
  await stack?.stopAll({ timeoutMs: 10_000 });
});

async function createPost(title: string): Promise<void> {
  const answer = await http(`${stack.url('posts')}/posts/create`, { body: { title } });
  if (answer.status !== 201) throw new Error(`POST /posts/create: HTTP ${answer.status} ${answer.text}`);
}

const titles = async () =>
  Object.values((await http(`${stack.url('query')}/posts`)).json as Record<string, { title: string }>).map(
    ({ title }) => title,
  );

test('a line of the log that is not an event is quarantined: the bus starts, posts created after it reach query, and a query built from event 1 shows them all', async () => {
  await createPost('before the bad line');
  await waitFor(async () => (await titles()).includes('before the bad line'), { what: 'query to show the first post' });

  await stack.stop('event-bus');
  appendFileSync(path.join(stack.eventLogDir, 'events.jsonl'), 'this line is not JSON {"type":"PostCreated"\n');
  await stack.start('event-bus');
  await createPost('after the bad line');
  await waitFor(async () => (await titles()).includes('after the bad line'), {
    what: 'query to show the post created after the bad line',
  });

  const history = await http(`${stack.url('event-bus')}/events`, { headers: stack.eventHeaders() });
  const types = (history.json as { type: string }[]).map(({ type }) => type);
  expect(types.filter((type) => type === QUARANTINED_EVENT_TYPE)).toHaveLength(1);

  // A query with no state reads the whole log, the placeholder included.
  await stack.stop('query');
  rmSync(path.join(stack.stateDir, 'query'), { recursive: true, force: true });
  await stack.start('query');
  expect((await titles()).sort()).toEqual(['after the bad line', 'before the bad line']);
});
