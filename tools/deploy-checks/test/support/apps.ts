/**
 * Each image's HTTP app, built in memory from the service code with fake dependencies (as the services'
 * own tests do), so that the infra checks can ask what a pod really serves. Nothing is started.
 */
import type { KeyObject } from 'node:crypto';
import { EventConsumer, ServiceMetrics, silentLogger, type EventsClientName } from '@blog/common';
import { InMemoryBus } from '@blog/common/testing';
import type { Express } from 'express';
import request from 'supertest';
import { createClientServerApp } from '@blog/client/server/app';
import { createApp as createCommentsApp } from '@blog/comments/app';
import { CommentStore } from '@blog/comments/events';
import { createApp as createEventBusApp } from '@blog/event-bus/app';
import { MemoryEventLog } from '@blog/event-bus/testing';
import { BusMetrics } from '@blog/event-bus/metrics';
import { createApp as createModerationApp } from '@blog/moderation/app';
import { createApp as createPostsApp } from '@blog/posts/app';
import { PostStore } from '@blog/posts/events';
import { createApp as createQueryApp } from '@blog/query/app';
import { QueryStore } from '@blog/query/events';
import { ChangeFeed } from '@blog/query/feed';

/** Catch-ups of the consumers built so far: a service answers its routes (other than health) once ready. */
const catchUps: Promise<void>[] = [];

function consumer(): EventConsumer {
  const built = new EventConsumer({ history: new InMemoryBus(), handlers: {}, logger: silentLogger() });
  catchUps.push(built.start());
  return built;
}

/** What a pod's environment configures in its app (EVENTS_TOKEN, the services' tokens on the bus, DELIVERY_PUBLIC_KEY, CORS_ORIGINS). */
export interface AppSettings {
  eventsToken?: string;
  serviceTokens?: Partial<Record<EventsClientName, string>>;
  deliveryKey?: KeyObject;
  browserOrigins?: readonly string[];
}

const metrics = () => new ServiceMetrics('infra-test');

/** The app each image runs, by image repository. */
export const APP_OF_IMAGE: Readonly<Record<string, (settings?: AppSettings) => Express>> = {
  'blog/posts': (settings) => createPostsApp({ store: new PostStore(), bus: new InMemoryBus(), consumer: consumer(), logger: silentLogger(), metrics: metrics(), ...settings }),
  'blog/comments': (settings) =>
    createCommentsApp({ store: new CommentStore(), bus: new InMemoryBus(), consumer: consumer(), logger: silentLogger(), metrics: metrics(), ...settings }),
  'blog/query': (settings) => createQueryApp({ store: new QueryStore(), feed: new ChangeFeed(), consumer: consumer(), logger: silentLogger(), metrics: metrics(), ...settings }),
  'blog/moderation': (settings) => createModerationApp({ consumer: consumer(), logger: silentLogger(), metrics: metrics(), eventsToken: settings?.eventsToken, deliveryKey: settings?.deliveryKey }),
  'blog/event-bus': (settings) =>
    createEventBusApp({ log: new MemoryEventLog(), subscribers: { statuses: async () => [] }, logger: silentLogger(), metrics: new BusMetrics(), eventsToken: settings?.eventsToken, serviceTokens: settings?.serviceTokens }),
  // As deployed behind the Ingress: PROXY_API=false (no backends). The client handler (static build or
  // Vite) is left out: it answers any HTML request, so it would hide a probe path the server lacks.
  'blog/client': () => createClientServerApp({ client: (_req, _res, next) => next(), logger: silentLogger() }),
};

/** Resolves once every app built so far has caught up (answers its routes). */
export function appsReady(): Promise<void> {
  return Promise.all(catchUps).then(() => undefined);
}

const apps = new Map<string, Express>();

/** The image's app built with the settings its pod's environment gives it; throws for an unknown image. */
export function buildApp(image: string, settings?: AppSettings): Express {
  const build = APP_OF_IMAGE[image];
  if (!build) throw new Error(`no app known for ${image}`);
  return build(settings);
}

function appOf(image: string): Express | undefined {
  if (!APP_OF_IMAGE[image]) return undefined;
  const app = apps.get(image) ?? buildApp(image);
  apps.set(image, app);
  return app;
}

/** Does the image's app answer `method path` with anything but 404? undefined for an unknown image. */
export async function serves(image: string, path: string, method: 'GET' | 'POST' = 'GET'): Promise<boolean | undefined> {
  const app = appOf(image);
  if (!app) return undefined;
  await Promise.all(catchUps);
  const response = method === 'GET' ? await request(app).get(path) : await request(app).post(path).send({});
  return response.status !== 404;
}
