import { createServiceApp, eventIntake, finishServiceApp, type EventConsumer, type Logger, type ServiceMetrics } from '@blog/common';
import type { Express } from 'express';

export interface ModerationDeps {
  consumer: EventConsumer;
  logger: Logger;
  /** Serves `GET /metrics` and times requests when given. */
  metrics?: ServiceMetrics;
  /** Required on event requests when set (EVENTS_TOKEN). */
  eventsToken?: string;
}

/** Moderation has no public API: it only takes events. */
export function createApp({ consumer, logger, metrics, eventsToken }: ModerationDeps): Express {
  const app = createServiceApp({ isReady: () => consumer.isReady(), logger, metrics, eventsToken });
  app.use(eventIntake(consumer));
  return finishServiceApp(app, logger);
}
