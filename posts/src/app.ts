import { randomUUID } from 'node:crypto';
import { type BrowserAppDeps, createPostBodySchema, createServiceApp, eventIntake, type EventPublisher, finishServiceApp, parseBody } from '@blog/common';
import type { Express, RequestHandler } from 'express';
import type { PostStore } from './events';

export interface PostsDeps extends BrowserAppDeps {
  store: PostStore;
  bus: EventPublisher;
}

export function createApp({ store, bus, consumer, logger, metrics, eventsToken, browserOrigins }: PostsDeps): Express {
  const app = createServiceApp({ isReady: () => consumer.isReady(), logger, metrics, eventsToken, browserOrigins });

  /** The post exists once the bus has stored its PostCreated; if the bus is down nothing is created (503). */
  const createPost: RequestHandler = async (req, res) => {
    const { title } = parseBody(createPostBodySchema, req.body);
    const post = { id: randomUUID(), title };
    const { seq } = await bus.publish({ type: 'PostCreated', data: post });
    store.add(post, seq);
    res.status(201).json(post);
  };

  app.post('/posts/create', createPost);
  app.post('/posts', createPost);
  app.get('/posts', (_req, res) => {
    res.json(store.all());
  });
  app.use(eventIntake(consumer));

  return finishServiceApp(app, logger);
}
