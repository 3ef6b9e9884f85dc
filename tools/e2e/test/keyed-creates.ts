/**
 * Creates with an Idempotency-Key on a scaled-out blog (two replicas of every service on one event log):
 * one key sent with two bodies to both replicas at once gets one 201 and one 422, and every replica then
 * shows the body the bus stored; a key sent again after the bus has forgotten its event id is answered by
 * the services' own state, on any replica and after a restart. Shared by the file-log run (npm test) and
 * the JetStream run (npm run test:cluster).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { delay, http, waitFor, type HttpAnswer, type ReplicatedStack } from '@blog/testkit';

export interface KeyedCreatesSetup {
  /** Starts the stack, its bus remembering the ids of the newest `ID_MEMORY` events only, its logs in `dir`. */
  start(dir: string): Promise<ReplicatedStack>;
  /** How long after an event the bus still dedupes its id whatever came since (JetStream's duplicate window); 0 for none. */
  duplicateWindowMs: number;
}

/** What the bus is started with (EVENT_IDS_REMEMBERED): small, so that a test can outlive it. */
export const ID_MEMORY = 20;
const PAIRS = 40;

interface PostView {
  id: string;
  title: string;
  comments?: { id: string; content: string; status: string }[];
}

interface StoredEvent {
  id: string;
  type: string;
  seq: number;
  data: { id: string; title?: string; content?: string; postId?: string };
}

export function describeKeyedCreatesAcrossReplicas(name: string, setup: KeyedCreatesSetup): void {
  describe(name, () => {
    let dir: string;
    let stack: ReplicatedStack;
    const run = `k${Date.now().toString(36)}`;

    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'blog-keyed-creates-'));
      stack = await setup.start(dir);
    }, 120_000);

    afterAll(async () => {
      await stack?.stopAll();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const keyed = (service: 'posts' | 'comments', replica: number, urlPath: string, body: unknown, key: string) =>
      http(`${stack.url(service, replica)}${urlPath}`, {
        body,
        headers: { 'Idempotency-Key': key },
        timeoutMs: 30_000,
      });

    const history = async (): Promise<StoredEvent[]> => {
      const answer = await http(`${stack.url('event-bus', 0)}/events`, {
        headers: stack.eventHeaders(),
        timeoutMs: 30_000,
      });
      if (answer.status !== 200) throw new Error(`GET /events: HTTP ${answer.status} ${answer.text}`);
      return answer.json as StoredEvent[];
    };

    const postsOf = async (service: 'posts' | 'query', replica: number) =>
      (await http(`${stack.url(service, replica)}/posts`)).json as Record<string, PostView>;
    const commentsOf = async (replica: number, postId: string) =>
      (await http(`${stack.url('comments', replica)}/posts/${postId}/comments`)).json as {
        id: string;
        content: string;
      }[];

    /** Both answers to one key: exactly one 201, whose resource is returned, and one 422 naming the key. */
    const oneCreated = ([first, second]: HttpAnswer[]) => {
      const statuses = [first?.status, second?.status].sort();
      if (statuses[0] !== 201 || statuses[1] !== 422)
        throw new Error(
          `expected one 201 and one 422, got ${first?.status} ${first?.text} and ${second?.status} ${second?.text}`,
        );
      const refused = [first, second].find((answer) => answer?.status === 422);
      expect(refused?.json).toEqual({
        error: expect.stringMatching(/Idempotency-Key was already used with a different body/),
        code: 'key_reused',
      });
      return [first, second].find((answer) => answer?.status === 201)?.json as {
        id: string;
        title?: string;
        content?: string;
      };
    };

    test(`one key with two titles sent to both posts replicas at once, ${PAIRS} times: one 201 and one 422 each; every posts and query replica shows the title the bus stored`, async () => {
      const created: { id: string; title: string }[] = [];
      for (let n = 0; n < PAIRS; n++) {
        const key = `${run}-post-${n}`;
        const answers = await Promise.all(
          [0, 1].map((replica) =>
            keyed('posts', replica, '/posts/create', { title: `title ${n} from replica ${replica + 1}` }, key),
          ),
        );
        created.push(oneCreated(answers) as { id: string; title: string });
      }
      const stored = new Map(
        (await history()).filter(({ type }) => type === 'PostCreated').map(({ data }) => [data.id, data.title]),
      );
      expect(created.map(({ id }) => stored.get(id))).toEqual(created.map(({ title }) => title));
      for (const service of ['posts', 'query'] as const) {
        for (const replica of [0, 1]) {
          const shown = await waitFor(
            async () => {
              const posts = await postsOf(service, replica);
              return created.every(({ id }) => posts[id]) ? posts : undefined;
            },
            { what: `${service} replica ${replica + 1} to show every post`, timeoutMs: 30_000 },
          );
          expect(created.map(({ id }) => shown[id]?.title)).toEqual(created.map(({ title }) => title));
        }
      }
    });

    test(`one key with two contents sent to both comments replicas at once, ${PAIRS} times: one 201 and one 422 each; every comments and query replica shows the content the bus stored`, async () => {
      const post = await keyed(
        'posts',
        0,
        '/posts/create',
        { title: 'a post for keyed comments' },
        `${run}-post-for-comments`,
      );
      const postId = (post.json as { id: string }).id;
      await waitFor(async () => (await commentsOf(1, postId)).length === 0 && (await postsOf('query', 1))[postId], {
        what: 'the post on every replica',
        timeoutMs: 30_000,
      });
      const created: { id: string; content: string }[] = [];
      for (let n = 0; n < PAIRS; n++) {
        const key = `${run}-comment-${n}`;
        const answers = await Promise.all(
          [0, 1].map((replica) =>
            keyed(
              'comments',
              replica,
              `/posts/${postId}/comments`,
              { content: `comment ${n} from replica ${replica + 1}` },
              key,
            ),
          ),
        );
        created.push(oneCreated(answers) as { id: string; content: string });
      }
      const stored = (await history()).filter(({ type, data }) => type === 'CommentCreated' && data.postId === postId);
      expect(stored.map(({ data }) => [data.id, data.content])).toEqual(
        created.map(({ id, content }) => [id, content]),
      );
      for (const replica of [0, 1]) {
        const comments = await waitFor(
          async () => {
            const shown = await commentsOf(replica, postId);
            return shown.length === created.length ? shown : undefined;
          },
          { what: `comments replica ${replica + 1} to list every comment`, timeoutMs: 30_000 },
        );
        expect(comments.map(({ id, content }) => [id, content])).toEqual(
          created.map(({ id, content }) => [id, content]),
        );
        const view = await waitFor(
          async () => {
            const shown = (await postsOf('query', replica))[postId];
            return shown?.comments?.length === created.length ? shown : undefined;
          },
          { what: `query replica ${replica + 1} to show every comment`, timeoutMs: 30_000 },
        );
        expect(view.comments?.map(({ id, content }) => [id, content])).toEqual(
          created.map(({ id, content }) => [id, content]),
        );
      }
    });

    test('a key sent again after the bus has forgotten its event id is answered from the services’ state, on any replica and after a restart; the first in the log wins', async () => {
      const key = `${run}-remembered`;
      const first = await keyed('posts', 0, '/posts/create', { title: 'remembered by the state' }, key);
      expect(first.status).toBe(201);
      const post = first.json as { id: string; title: string };
      const [event] = (await history()).filter(({ type, data }) => type === 'PostCreated' && data.id === post.id);
      const sameIdOtherTitle = () =>
        http(`${stack.url('event-bus', 0)}/events`, {
          body: { id: event?.id, type: 'PostCreated', data: { ...post, title: 'another title' } },
          headers: stack.eventHeaders(),
        });
      // Past any duplicate window, but among the newest ids: the bus still refuses the id, naming what it holds.
      if (setup.duplicateWindowMs > 0) await delay(setup.duplicateWindowMs + 500);
      const refused = await sameIdOtherTitle();
      expect(refused.status).toBe(409);
      expect(refused.json).toMatchObject({ seq: event?.seq, event: { id: event?.id, data: post } });
      // More newer events than the bus remembers ids of.
      for (let n = 0; n <= ID_MEMORY; n++)
        expect(
          (await http(`${stack.url('posts', n % 2)}/posts/create`, { body: { title: `filler ${n}` } })).status,
        ).toBe(201);
      await waitFor(async () => (await postsOf('posts', 1))[post.id], {
        what: 'posts replica 2 to hold the post',
        timeoutMs: 30_000,
      });

      expect((await keyed('posts', 1, '/posts/create', { title: 'remembered by the state' }, key)).json).toEqual(post);
      expect((await keyed('posts', 0, '/posts/create', { title: 'another title' }, key)).status).toBe(422);
      await stack.kill('posts', 1);
      await stack.start('posts', 1);
      expect((await keyed('posts', 1, '/posts/create', { title: 'remembered by the state' }, key)).json).toEqual(post);
      expect((await keyed('posts', 1, '/posts/create', { title: 'another title' }, key)).status).toBe(422);
      expect(
        (await history())
          .filter(({ type, data }) => type === 'PostCreated' && data.id === post.id)
          .map(({ data }) => data),
      ).toEqual([post]);

      // The bus has forgotten the id: the same id with another title is stored a second time, and every
      // service keeps the first.
      const again = await sameIdOtherTitle();
      expect(again.status).toBe(201);
      expect(again.json).not.toHaveProperty('duplicate');
      const marker = await http(`${stack.url('posts', 0)}/posts/create`, { body: { title: 'after the second copy' } });
      const markerId = (marker.json as { id: string }).id;
      for (const service of ['posts', 'query'] as const) {
        for (const replica of [0, 1]) {
          const posts = await waitFor(
            async () => {
              const shown = await postsOf(service, replica);
              return shown[markerId] ? shown : undefined;
            },
            { what: `${service} replica ${replica + 1} past the second copy`, timeoutMs: 30_000 },
          );
          expect(posts[post.id]).toMatchObject(post);
        }
      }
    });
  });
}
