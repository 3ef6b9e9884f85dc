import { createServiceApp, eventIntake, finishServiceApp, type EventConsumer, type Logger, type ServiceMetrics } from '@blog/common';
import type { Express } from 'express';
import type { QueryStore } from './events';
import type { ChangeFeed } from './feed';

export interface QueryDeps {
  store: QueryStore;
  feed: ChangeFeed;
  consumer: EventConsumer;
  logger: Logger;
  /** Serves `GET /metrics` and times requests when given. */
  metrics?: ServiceMetrics;
  /** Required on event requests when set (EVENTS_TOKEN). */
  eventsToken?: string;
  /** Origins whose pages may call this API from a browser (CORS_ORIGINS). */
  browserOrigins?: readonly string[];
}

export function createApp({ store, feed, consumer, logger, metrics, eventsToken, browserOrigins }: QueryDeps): Express {
  const app = createServiceApp({ isReady: () => consumer.isReady(), logger, metrics, eventsToken, browserOrigins });

  app.get('/posts', (_req, res) => {
    res.json(store.view());
  });
  /** The same view live, as Server-Sent Events: a snapshot, then each change with its seq as the id. */
  app.get('/posts/stream', (req, res) => {
    feed.attach(req, res, () => ({ position: consumer.position, view: store.view() }));
  });
  app.use(eventIntake(consumer));

  return finishServiceApp(app, logger);
}
