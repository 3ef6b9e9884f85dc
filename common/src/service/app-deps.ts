import type { KeyObject } from 'node:crypto';
import type { Express } from 'express';
import type { EventConsumer } from '../messaging/consumer';
import type { Logger } from './logger';
import type { ServiceMetrics } from './metrics';
import { createServiceApp } from './service-app';

/** What the app of every service that takes events is built from, besides its own state. */
export interface SubscriberAppDeps {
  consumer: EventConsumer;
  logger: Logger;
  /** Serves `GET /metrics` and times requests when given. */
  metrics?: ServiceMetrics;
  /** Required on event requests when set and there is no `deliveryKey` (EVENTS_TOKEN). */
  eventsToken?: string;
  /** The bus's public key: deliveries must be signed with its private key (DELIVERY_PUBLIC_KEY). */
  deliveryKey?: KeyObject;
}

/** The same, for a service that browsers call. */
export interface BrowserAppDeps extends SubscriberAppDeps {
  /** Origins whose pages may call this API from a browser (CORS_ORIGINS). */
  browserOrigins?: readonly string[];
}

/** The service app of a service that takes events: ready once its consumer has caught up. */
export function createSubscriberApp({
  consumer,
  logger,
  metrics,
  eventsToken,
  deliveryKey,
  browserOrigins,
}: BrowserAppDeps): Express {
  return createServiceApp({
    isReady: () => consumer.isReady(),
    logger,
    metrics,
    eventsToken,
    deliveryKey,
    browserOrigins,
  });
}
