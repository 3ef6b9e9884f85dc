/**
 * Fault injection at start-up: a service listens before it has caught up with the event history (it says
 * so on /readyz). A request it cannot answer correctly yet must be refused as unavailable (503), not
 * answered with a wrong definitive answer — here, 404 "post not found" for a post that exists.
 */
import path from 'node:path';
import { describeRequestError } from '@blog/common';
import { delay, http, startStack, type Stack } from '@blog/testkit';

const LOGS = path.join(__dirname, '..', '..', 'artifacts', 'logs');
/** Filler events (about 14 kB each) that make the catch-up take a moment. */
const FILLER_EVENTS = 1_500;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ services: ['event-bus', 'posts'], logDir: path.join(LOGS, 'faults-catch-up') });
}, 30_000);

afterAll(async () => {
  await stack?.stopAll({ timeoutMs: 10_000 });
});

describe('faults: a service that is catching up', () => {
  test('comments starting on a long history answers 503 or 201 for an existing post, never 404', async () => {
    const created = await http(`${stack.url('posts')}/posts/create`, { body: { title: 'a post that exists' } });
    expect(created.status).toBe(201);
    const postId = (created.json as { id: string }).id;
    // Only the bus from now on: nobody else needs the filler delivered.
    await stack.stop('posts');
    const filler = { type: 'CatchUpFiller', data: 'f'.repeat(14_000) };
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next++ < FILLER_EVENTS)
          expect(
            (await http(`${stack.url('event-bus')}/events`, { body: filler, headers: stack.eventHeaders() })).status,
          ).toBe(201);
      }),
    );

    // Start comments and, until it is ready, comment on the post every 10 ms (bounded by the start's own timeout).
    const answers = new Map<string, number>();
    let starting = true;
    const started = stack.start('comments').finally(() => (starting = false));
    const attempts = (async () => {
      for (let i = 0; starting && i < 3_000; i++) {
        let outcome: string;
        try {
          const answer = await http(`${stack.url('comments')}/posts/${postId}/comments`, {
            body: { content: `while catching up ${i}` },
            timeoutMs: 5_000,
          });
          outcome =
            answer.status === 201 ? '201' : `${answer.status} ${answer.text.replace(postId, '<id>').slice(0, 80)}`;
        } catch (err) {
          outcome = describeRequestError(err);
        }
        answers.set(outcome, (answers.get(outcome) ?? 0) + 1);
        await delay(10);
      }
    })();
    await started;
    await attempts;
    const seen = [...answers].map(([outcome, n]) => `${n}× ${outcome}`);
    process.stdout.write(`\ncomments catch-up reproduction: ${seen.join('; ')}\n`);
    // Before it listens: ECONNREFUSED. Listening but catching up: 503 (or 201 once it knows the post).
    const wrong = [...answers]
      .filter(([outcome]) => outcome.startsWith('404'))
      .map(([outcome, n]) => `${n}× ${outcome}`);
    expect(wrong).toEqual([]);
  }, 60_000);
});
