/**
 * What the manifests configure for security, checked against the apps the images run: each pod's
 * environment (ConfigMap + Secret, as the kubelet builds it) is loaded with the services' and the bus's
 * own config schemas, and each app is built with it.
 */
import { createPublicKey } from 'node:crypto';
import { browserApiConfigSchema, busServiceConfigSchema, eventsAuthorization, EVENTS_CLIENTS, eventsTokenVariable, loadConfig, signDelivery, type EventsClientName } from '@blog/common';
import { configSchema as busConfigSchema, serviceTokensOf } from '@blog/event-bus/config';
import request from 'supertest';
import { z } from 'zod';
import { appsReady, buildApp, type AppSettings } from './support/apps';
import { containerEnv, imageRepository, loadManifests, workloads } from '../src/manifests';

const { manifests } = loadManifests();

/** The image, and the settings its app reads from its pod's environment. */
const pods = workloads(manifests)
  .filter((workload) => workload.name !== 'client-depl')
  .map((workload) => {
    const container = workload.containers[0];
    if (!container?.image) throw new Error(`${workload.name} has no container image`);
    const env = containerEnv(manifests, container, workload.name);
    return { name: workload.name, image: imageRepository(container.image), env };
  });

/** Where a browser calls each public service (the Ingress routes these paths to it). */
const PUBLIC_PATHS: Record<string, string> = { 'blog/posts': '/posts', 'blog/comments': '/posts/some-post/comments', 'blog/query': '/posts' };

const serviceSchema = z.object({ ...busServiceConfigSchema, ...browserApiConfigSchema });

function settingsOf(env: Record<string, string>): AppSettings {
  const { EVENTS_TOKEN, DELIVERY_PUBLIC_KEY, CORS_ORIGINS } = loadConfig(serviceSchema, env);
  return { eventsToken: EVENTS_TOKEN, deliveryKey: DELIVERY_PUBLIC_KEY, browserOrigins: CORS_ORIGINS };
}

const busPod = pods.find((pod) => pod.image === 'blog/event-bus');
if (!busPod) throw new Error('no event-bus pod');
const busConfig = loadConfig(busConfigSchema, busPod.env);
const servicePods = pods.filter((pod) => pod !== busPod).map((pod) => ({ ...pod, service: pod.image.replace('blog/', '') as EventsClientName }));
const empty = JSON.stringify({});

describe('event credentials as deployed', () => {
  it('cover the bus and the four services', () => {
    expect(pods.map((pod) => pod.image).sort()).toEqual(['blog/comments', 'blog/event-bus', 'blog/moderation', 'blog/posts', 'blog/query']);
  });

  it("give the bus the operator's token, a different token for each service and the delivery signing key", () => {
    const tokens = serviceTokensOf(busConfig);
    expect(Object.keys(tokens).sort()).toEqual([...EVENTS_CLIENTS].sort());
    expect(new Set([busConfig.EVENTS_TOKEN, ...Object.values(tokens)]).size).toBe(EVENTS_CLIENTS.length + 1);
    expect(busConfig.DELIVERY_SIGNING_KEY?.asymmetricKeyType).toBe('ed25519');
  });

  it.each(servicePods.map((pod) => [pod.name, pod]))("%s gets its own token and the bus's public key, and no other secret", (_name, pod) => {
    const settings = settingsOf(pod.env);
    expect(settings.eventsToken).toBe(busConfig[eventsTokenVariable(pod.service)]);
    const publicOfBus = createPublicKey(busConfig.DELIVERY_SIGNING_KEY ?? '').export({ format: 'der', type: 'spki' });
    expect(settings.deliveryKey?.export({ format: 'der', type: 'spki' })).toEqual(publicOfBus);
    const secrets = [busConfig.EVENTS_TOKEN, ...Object.values(serviceTokensOf(busConfig)).filter((token) => token !== settings.eventsToken)];
    expect(Object.values(pod.env).filter((value) => secrets.includes(value))).toEqual([]);
    expect(Object.keys(pod.env).filter((key) => key === 'DELIVERY_SIGNING_KEY' || key.endsWith('_EVENTS_TOKEN'))).toEqual([]);
  });

  it.each(servicePods.map((pod) => [pod.name, pod]))('%s applies only deliveries the bus signed, whatever token comes with them', async (_name, pod) => {
    const app = buildApp(pod.image, settingsOf(pod.env));
    await appsReady();
    for (const token of [busConfig.EVENTS_TOKEN ?? '', settingsOf(pod.env).eventsToken ?? '']) {
      await request(app).post('/events').set('authorization', eventsAuthorization(token)).send({}).expect(401);
      await request(app).post('/events/batch').set('authorization', eventsAuthorization(token)).send([]).expect(401);
    }
    // Signed by the bus, the request reaches the route, which refuses the empty event as malformed.
    const signature = signDelivery(empty, busConfig.DELIVERY_SIGNING_KEY as NonNullable<typeof busConfig.DELIVERY_SIGNING_KEY>);
    await request(app).post('/events').set('content-type', 'application/json').set('blog-delivery-signature', signature).send(empty).expect(400);
  });

  it('has the bus refuse event requests without a known token, and each service publish only its own event types', async () => {
    const app = buildApp('blog/event-bus', { eventsToken: busConfig.EVENTS_TOKEN, serviceTokens: serviceTokensOf(busConfig) });
    await request(app).post('/events').send({}).expect(401);
    await request(app).get('/events').expect(401);
    await request(app).get('/events').set('authorization', eventsAuthorization(busConfig.EVENTS_TOKEN ?? '')).expect(200);
    const asQuery = eventsAuthorization(busConfig.QUERY_EVENTS_TOKEN ?? '');
    await request(app).get('/events').set('authorization', asQuery).expect(200);
    await request(app).post('/events').set('authorization', asQuery).send({ type: 'PostCreated', data: { id: 'p', title: 't' } }).expect(403);
    await request(app).post('/events').set('authorization', eventsAuthorization(busConfig.POSTS_EVENTS_TOKEN ?? '')).send({ type: 'PostCreated', data: { id: 'p', title: 't' } }).expect(201);
  });
});

describe('public APIs as deployed', () => {
  const publicPods = pods.filter((pod) => PUBLIC_PATHS[pod.image] !== undefined);

  it('covers posts, comments and query', () => {
    expect(publicPods.map((pod) => pod.image).sort()).toEqual(['blog/comments', 'blog/posts', 'blog/query']);
  });

  it.each(publicPods.map((pod) => [pod.name, pod]))('%s answers with security headers, and CORS only for the configured origins', async (_name, pod) => {
    const settings = settingsOf(pod.env);
    const path = PUBLIC_PATHS[pod.image] as string;
    const app = buildApp(pod.image, settings);
    await appsReady();
    const [allowed] = settings.browserOrigins ?? [];
    expect(allowed).toEqual(expect.any(String));

    const fromAllowed = await request(app).get(path).set('origin', allowed as string).expect(200);
    expect(fromAllowed.headers['access-control-allow-origin']).toBe(allowed);
    expect(fromAllowed.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'content-security-policy': expect.stringContaining("default-src 'none'"),
    });

    const fromElsewhere = await request(app).get(path).set('origin', 'https://elsewhere.example').expect(200);
    expect(fromElsewhere.headers['access-control-allow-origin']).toBeUndefined();

    const preflight = await request(app).options(path).set('origin', allowed as string).set('access-control-request-method', 'POST').expect(204);
    expect(preflight.headers['access-control-allow-methods']).toBe('GET,POST');
  });
});
