import { createServiceApp, eventIntake, finishServiceApp, type EventConsumer, type Logger } from '@blog/common';
import type { Express } from 'express';
import type { QueryStore } from './events';

export interface QueryDeps {
  store: QueryStore;
  consumer: EventConsumer;
  logger: Logger;
}

export function createApp({ store, consumer, logger }: QueryDeps): Express {
  const app = createServiceApp({ isReady: () => consumer.isReady() });

  app.get('/posts', (_req, res) => {
    res.json(store.view());
  });
  app.post('/events', eventIntake(consumer));

  return finishServiceApp(app, logger);
}
