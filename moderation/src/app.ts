import { createServiceApp, eventIntake, finishServiceApp, type SubscriberAppDeps } from '@blog/common';
import type { Express } from 'express';

export type ModerationDeps = SubscriberAppDeps;

/** Moderation has no public API: it only takes events. */
export function createApp({ consumer, logger, metrics, eventsToken, deliveryKey }: ModerationDeps): Express {
  const app = createServiceApp({ isReady: () => consumer.isReady(), logger, metrics, eventsToken, deliveryKey });
  app.use(eventIntake(consumer));
  return finishServiceApp(app, logger);
}
