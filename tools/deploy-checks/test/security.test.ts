/**
 * What the manifests configure for security, checked on the services as deployed: each pod's environment
 * (ConfigMap + Secret, as the kubelet builds it) given to the built service it runs (support/deployed.ts),
 * and the running services asked over HTTP.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { deliveryHeadersFor, eventsHeaders } from '@blog/common';
import { http, waitFor } from '@blog/testkit';
import { loadManifests } from '../src/manifests';
import { podsOf, runPods, type Pod, type RunningPods } from './support/deployed';

const { manifests } = loadManifests();
const pods = podsOf(manifests).filter((pod) => pod.image !== 'blog/client');

/** Where a browser calls each public service (the Ingress routes these paths to it). */
const PUBLIC_PATHS: Record<string, string> = {
  'blog/posts': '/posts',
  'blog/comments': '/posts/some-post/comments',
  'blog/query': '/posts',
};

function podRunning(image: string): Pod {
  const pod = pods.find((candidate) => candidate.image === image);
  if (!pod) throw new Error(`no pod runs ${image}`);
  return pod;
}

const bus = podRunning('blog/event-bus');
const services = pods.filter((pod) => pod !== bus);
const tokenOf = (pod: Pod) => pod.env.EVENTS_TOKEN ?? '';
const signingKey = bus.env.DELIVERY_SIGNING_KEY ?? '';
const empty = JSON.stringify({});

let running: RunningPods;

beforeAll(async () => {
  running = await runPods(manifests, podsOf(manifests));
});

afterAll(async () => {
  await running?.stop();
});

const url = (pod: Pod, path: string) => `${running.url(pod.workload)}${path}`;

describe('event credentials as deployed', () => {
  it('cover the bus and the four services', () => {
    expect(pods.map((pod) => pod.image).sort()).toEqual([
      'blog/comments',
      'blog/event-bus',
      'blog/moderation',
      'blog/posts',
      'blog/query',
    ]);
  });

  it("give the bus the operator's token, a different token for each service and the delivery signing key", async () => {
    const holders: [string, string][] = [
      ['the operator (EVENTS_TOKEN of the bus)', tokenOf(bus)],
      ...services.map((pod): [string, string] => [pod.workload, tokenOf(pod)]),
    ];
    expect(holders.filter(([, token]) => token === '')).toEqual([]);
    expect(new Set(holders.map(([, token]) => token)).size).toBe(services.length + 1);
    // The bus knows each of them: it reads its log to every holder.
    const answers = await Promise.all(
      holders.map(async ([holder, token]) => [
        holder,
        (await http(url(bus, '/events'), { headers: eventsHeaders(token) })).status,
      ]),
    );
    expect(answers).toEqual(holders.map(([holder]) => [holder, 200]));
    expect(
      createPrivateKey({ key: Buffer.from(signingKey, 'base64'), format: 'der', type: 'pkcs8' }).asymmetricKeyType,
    ).toBe('ed25519');
  });

  it.each(services.map((pod) => [pod.workload, pod]))(
    "%s gets its own token and the bus's public key, and no other secret",
    (_name, pod) => {
      const publicOfBus = createPublicKey(
        createPrivateKey({ key: Buffer.from(signingKey, 'base64'), format: 'der', type: 'pkcs8' }),
      ).export({ format: 'der', type: 'spki' });
      expect(Buffer.from(pod.env.DELIVERY_PUBLIC_KEY ?? '', 'base64')).toEqual(publicOfBus);
      const secrets = [tokenOf(bus), signingKey, ...services.filter((other) => other !== pod).map(tokenOf)];
      expect(Object.values(pod.env).filter((value) => secrets.includes(value))).toEqual([]);
      expect(
        Object.keys(pod.env).filter((key) => key === 'DELIVERY_SIGNING_KEY' || key.endsWith('_EVENTS_TOKEN')),
      ).toEqual([]);
    },
  );

  it('let each service publish its own events with its token and apply what the bus delivers: a post, a comment and its moderation reach query', async () => {
    const post = await http(url(podRunning('blog/posts'), '/posts/create'), { body: { title: 'deployed' } });
    expect(post.status).toBe(201);
    const { id } = post.json as { id: string };
    const comment = await http(url(podRunning('blog/comments'), `/posts/${id}/comments`), {
      body: { content: 'as deployed' },
    });
    expect(comment.status).toBe(201);
    const commentId = (comment.json as { id: string }).id;
    await waitFor(
      async () => {
        const view = (await http(url(podRunning('blog/query'), '/posts'))).json as Record<
          string,
          { comments?: { id: string; status: string }[] }
        >;
        return view[id]?.comments?.some((seen) => seen.id === commentId && seen.status === 'approved') === true;
      },
      { what: 'query to show the post with its comment approved by moderation', timeoutMs: 20_000 },
    );
  });

  it.each(services.map((pod) => [pod.workload, pod]))(
    '%s applies only deliveries the bus signed, whatever token comes with them',
    async (_name, pod) => {
      for (const token of [tokenOf(bus), tokenOf(pod)]) {
        expect((await http(url(pod, '/events'), { body: {}, headers: eventsHeaders(token) })).status).toBe(401);
        expect((await http(url(pod, '/events/batch'), { body: [], headers: eventsHeaders(token) })).status).toBe(401);
      }
      // Signed by the bus, the request reaches the route, which refuses the empty event as malformed.
      expect(
        (
          await http(url(pod, '/events'), {
            body: empty,
            headers: { 'content-type': 'application/json', ...deliveryHeadersFor(signingKey, empty) },
          })
        ).status,
      ).toBe(400);
    },
  );

  it('has the bus refuse event requests without a known token, and each service publish only its own event types', async () => {
    const created = { type: 'PostCreated', data: { id: 'p', title: 't' } };
    expect((await http(url(bus, '/events'), { body: {} })).status).toBe(401);
    expect((await http(url(bus, '/events'))).status).toBe(401);
    expect((await http(url(bus, '/events'), { headers: eventsHeaders('not-a-token-of-this-bus') })).status).toBe(401);
    expect((await http(url(bus, '/events'), { headers: eventsHeaders(tokenOf(bus)) })).status).toBe(200);
    const asQuery = eventsHeaders(tokenOf(podRunning('blog/query')));
    expect((await http(url(bus, '/events'), { headers: asQuery })).status).toBe(200);
    expect((await http(url(bus, '/events'), { body: created, headers: asQuery })).status).toBe(403);
    expect(
      (await http(url(bus, '/events'), { body: created, headers: eventsHeaders(tokenOf(podRunning('blog/posts'))) }))
        .status,
    ).toBe(201);
  });
});

describe('public APIs as deployed', () => {
  const publicPods = services.filter((pod) => PUBLIC_PATHS[pod.image] !== undefined);

  it('covers posts, comments and query', () => {
    expect(publicPods.map((pod) => pod.image).sort()).toEqual(['blog/comments', 'blog/posts', 'blog/query']);
  });

  it.each(publicPods.map((pod) => [pod.workload, pod]))(
    '%s answers with security headers, and CORS only for the configured origins',
    async (_name, pod) => {
      const path = PUBLIC_PATHS[pod.image] as string;
      const [allowed] = (pod.env.CORS_ORIGINS ?? '').split(',').map((origin) => origin.trim());
      expect(allowed).toEqual(expect.stringMatching(/^https?:\/\//));

      const fromAllowed = await http(url(pod, path), { headers: { origin: allowed as string } });
      expect(fromAllowed.status).toBe(200);
      expect(fromAllowed.headers.get('access-control-allow-origin')).toBe(allowed);
      expect(
        Object.fromEntries(
          ['x-content-type-options', 'x-frame-options'].map((name) => [name, fromAllowed.headers.get(name)]),
        ),
      ).toEqual({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'SAMEORIGIN' });
      expect(fromAllowed.headers.get('content-security-policy')).toContain("default-src 'none'");

      const fromElsewhere = await http(url(pod, path), { headers: { origin: 'https://elsewhere.example' } });
      expect(fromElsewhere.status).toBe(200);
      expect(fromElsewhere.headers.get('access-control-allow-origin')).toBeNull();

      const preflight = await http(url(pod, path), {
        method: 'OPTIONS',
        headers: { origin: allowed as string, 'access-control-request-method': 'POST' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-methods')).toBe('GET,POST');
    },
  );
});
