/**
 * Fault injection on reactions: moderation decides a comment while the bus is stalled (SIGSTOP) for longer
 * than a publisher waits for a confirmation (common/src/messaging/bus-client.ts gives up after ~5 s and the reactor
 * tries again later). The bus log must still hold exactly one CommentModerated and one CommentUpdated for
 * the comment, and every service must show it decided.
 */
import path from 'node:path';
import { delay, http, startStack, waitFor, type ServiceName, type Stack } from '@blog/testkit';

const LOGS = path.join(__dirname, '..', '..', 'artifacts', 'logs');
/**
 * Longer than a publisher waits before giving up (two 3 s request timeouts, the second starting within its
 * 5 s confirmation window), so that the reactor's next attempt is sent into the stall too.
 */
const BUS_STALL_MS = 7_000;

let stack: Stack;
const paused = new Set<ServiceName>();

beforeAll(async () => {
  stack = await startStack({ logDir: path.join(LOGS, 'faults-reactions') });
}, 30_000);

afterAll(async () => {
  for (const name of paused) resume(name);
  await stack?.stopAll({ timeoutMs: 10_000 });
});

function pause(name: ServiceName): void {
  const pid = stack.pid(name);
  if (pid === undefined) throw new Error(`${name} is not running`);
  process.kill(pid, 'SIGSTOP');
  paused.add(name);
}

function resume(name: ServiceName): void {
  const pid = stack.pid(name);
  if (pid !== undefined) process.kill(pid, 'SIGCONT');
  paused.delete(name);
}

interface BusEvent {
  seq: number;
  type: string;
  data: { id?: string; status?: string };
}

async function reactionsFor(commentId: string): Promise<string[]> {
  const events = (await http(`${stack.url('event-bus')}/events`, { headers: stack.eventHeaders() })).json as BusEvent[];
  return events
    .filter((event) => event.data.id === commentId)
    .map((event) => `${event.seq} ${event.type} ${event.data.status ?? ''}`.trim());
}

describe('faults: reactions while the bus stalls', () => {
  test('moderation deciding while the bus is paused for 7 s stores one CommentModerated and one CommentUpdated', async () => {
    const post = await http(`${stack.url('posts')}/posts/create`, { body: { title: 'a post for a stalled bus' } });
    expect(post.status).toBe(201);
    const postId = (post.json as { id: string }).id;
    // Everything so far delivered, so that the next delivery to moderation is the comment's CommentCreated.
    await waitFor(
      async () =>
        (
          (await http(`${stack.url('event-bus')}/subscribers`, { headers: stack.eventHeaders() })).json as {
            lag: number;
          }[]
        ).every((sub) => sub.lag === 0),
      {
        what: 'the bus to deliver the PostCreated everywhere',
      },
    );

    // Moderation paused: the bus's delivery of the new CommentCreated waits in moderation's socket.
    pause('moderation');
    const comment = await http(`${stack.url('comments')}/posts/${postId}/comments`, {
      body: { content: 'decided while the bus stalls' },
    });
    expect(comment.status).toBe(201);
    const commentId = (comment.json as { id: string }).id;
    await delay(300);

    // Now the bus stalls, and moderation wakes up to the delivery: it decides and publishes into the stall.
    pause('event-bus');
    resume('moderation');
    await delay(BUS_STALL_MS);
    resume('event-bus');

    let last: string[] = [];
    await waitFor(
      async () => {
        last = await reactionsFor(commentId);
        const view = (await http(`${stack.url('query')}/posts`)).json as Record<
          string,
          { comments: { id: string; status: string }[] }
        >;
        return (
          view[postId]?.comments.find((c) => c.id === commentId)?.status === 'approved' &&
          last.some((line) => line.includes('CommentUpdated'))
        );
      },
      {
        what: 'the comment to be approved everywhere',
        timeoutMs: 15_000,
        detail: () => `events: ${JSON.stringify(last)}`,
      },
    );
    // Let any late retry land before counting.
    await delay(2_000);
    last = await reactionsFor(commentId);
    process.stdout.write(`\nreaction during a bus stall: ${JSON.stringify(last)}\n`);
    const count = (type: string) => last.filter((line) => line.includes(` ${type}`)).length;
    expect({
      created: count('CommentCreated'),
      moderated: count('CommentModerated'),
      updated: count('CommentUpdated'),
      events: last,
    }).toEqual({
      created: 1,
      moderated: 1,
      updated: 1,
      events: last,
    });
  }, 60_000);
});
