/**
 * What the manifests configure for security, checked against the apps the images run: each pod's
 * environment (ConfigMap + Secret, as the kubelet builds it) is loaded with the services' own config
 * schemas, and each app is built with it.
 */
import { browserApiConfigSchema, eventsAuthorization, eventsConfigSchema, loadConfig } from '@blog/common';
import request from 'supertest';
import { z } from 'zod';
import { appsReady, buildApp, type AppSettings } from './support/apps';
import { containerEnv, imageRepository, loadManifests, workloads } from '../lib/manifests';

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

function settingsOf(env: Record<string, string>): AppSettings {
  const { EVENTS_TOKEN, CORS_ORIGINS } = loadConfig(z.object({ ...eventsConfigSchema, ...browserApiConfigSchema }), env);
  return { eventsToken: EVENTS_TOKEN, browserOrigins: CORS_ORIGINS };
}

describe('event intake as deployed', () => {
  it('covers the bus and the four services', () => {
    expect(pods.map((pod) => pod.image).sort()).toEqual(['blog/comments', 'blog/event-bus', 'blog/moderation', 'blog/posts', 'blog/query']);
  });

  it.each(pods.map((pod) => [pod.name, pod]))('%s gets one EVENTS_TOKEN, the same as every other pod, that its config accepts', (_name, pod) => {
    const tokens = new Set(pods.map((other) => other.env.EVENTS_TOKEN));
    expect(tokens.size).toBe(1);
    expect(settingsOf(pod.env).eventsToken).toEqual(expect.any(String));
  });

  it.each(pods.map((pod) => [pod.name, pod]))('%s refuses event requests without the token and takes them with it', async (_name, pod) => {
    const settings = settingsOf(pod.env);
    const app = buildApp(pod.image, settings);
    await appsReady();
    const auth = { authorization: eventsAuthorization(settings.eventsToken ?? '') };
    await request(app).post('/events').send({}).expect(401);
    await request(app).post('/events/batch').send([]).expect(401);
    // With the token the request reaches the route, which refuses the empty event as malformed.
    await request(app).post('/events').set(auth).send({}).expect(400);
    if (pod.image === 'blog/event-bus') {
      await request(app).get('/events').expect(401);
      await request(app).get('/events').set(auth).expect(200);
    }
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
