import { createSubscriberApp, eventIntake, finishServiceApp, type SubscriberAppDeps } from '@blog/common';
import type { Express } from 'express';

export type ModerationDeps = SubscriberAppDeps;

/** Moderation has no public API: it only takes events. */
export function createApp(deps: ModerationDeps): Express {
  const { consumer, logger } = deps;
  const app = createSubscriberApp(deps);
  app.use(eventIntake(consumer));
  return finishServiceApp(app, logger);
}
