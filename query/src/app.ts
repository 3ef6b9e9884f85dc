import {
  type BrowserAppDeps,
  createSubscriberApp,
  eventIntake,
  finishServiceApp,
  linkNextPage,
  nextPagePath,
  pageRequestOf,
  PAGES,
} from '@blog/common';
import type { Express } from 'express';
import type { ChangeFeed } from './feed';
import type { QueryStore } from './store';

export interface QueryDeps extends BrowserAppDeps {
  store: QueryStore;
  feed: ChangeFeed;
}

export function createApp(deps: QueryDeps): Express {
  const { store, feed, consumer, logger } = deps;
  const app = createSubscriberApp(deps);

  /** The newest posts with their comments (a page: `?limit=`, `?before=` as the Link header says). */
  app.get('/posts', (req, res) => {
    const request = pageRequestOf(req);
    const { view, olderBefore } = store.page(request);
    linkNextPage(res, '/posts', request, olderBefore);
    res.json(view);
  });
  /** The same view live, as Server-Sent Events: a snapshot (the first page), then each change with its seq as the id. */
  app.get('/posts/stream', (req, res) => {
    feed.attach(req, res, () => {
      const { view, olderBefore } = store.page({ limit: PAGES.defaultLimit, before: undefined });
      return {
        position: consumer.position,
        view,
        ...(olderBefore === undefined ? {} : { olderPosts: nextPagePath('/posts', PAGES.defaultLimit, olderBefore) }),
      };
    });
  });
  app.use(eventIntake(consumer));

  return finishServiceApp(app, logger);
}
