import { type BrowserAppDeps, createServiceApp, eventIntake, finishServiceApp } from '@blog/common';
import type { Express } from 'express';
import type { QueryStore } from './events';
import type { ChangeFeed } from './feed';

export interface QueryDeps extends BrowserAppDeps {
  store: QueryStore;
  feed: ChangeFeed;
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
