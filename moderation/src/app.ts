import { createServiceApp, eventIntake, finishServiceApp, type EventConsumer, type Logger } from '@blog/common';
import type { Express } from 'express';

export interface ModerationDeps {
  consumer: EventConsumer;
  logger: Logger;
}

/** Moderation has no public API: it only takes events. */
export function createApp({ consumer, logger }: ModerationDeps): Express {
  const app = createServiceApp({ isReady: () => consumer.isReady() });
  app.use(eventIntake(consumer));
  return finishServiceApp(app, logger);
}
