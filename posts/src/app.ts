import { randomUUID } from 'node:crypto';
import {
  type BrowserAppDeps,
  createPostBodySchema,
  CreatesByKey,
  createSubscriberApp,
  eventIntake,
  type EventPublisher,
  finishServiceApp,
  idempotencyKeyOf,
  idFromKey,
  linkNextPage,
  pageRequestOf,
  parseBody,
} from '@blog/common';
import type { Express, RequestHandler } from 'express';
import type { PostStore } from './store';

export interface PostsDeps extends BrowserAppDeps {
  store: PostStore;
  bus: EventPublisher;
}

export function createApp(deps: PostsDeps): Express {
  const { store, bus, consumer, logger } = deps;
  const app = createSubscriberApp(deps);

  const creates = new CreatesByKey({ state: consumer, bus });

  /**
   * The post exists once the bus has stored its PostCreated; if the bus is down nothing is created (503).
   * With an Idempotency-Key, the post's id and event id come from the key: the same key and title again
   * answer the post already created (also after a restart, and on any replica), and another title with it
   * is a 422. What is added to the store is what the bus stored.
   */
  const createPost: RequestHandler = async (req, res) => {
    const { title } = parseBody(createPostBodySchema, req.body);
    const key = idempotencyKeyOf(req);
    const id = key === undefined ? randomUUID() : idFromKey('post', key);
    const post = await creates.create(key, {
      find: () => store.get(id),
      sameBody: (existing) => existing.title === title,
      create: async () => {
        const { data, seq } = await bus.publish(
          { type: 'PostCreated', data: { id, title } },
          key === undefined ? {} : { id: idFromKey('PostCreated', key) },
        );
        store.add(data, seq);
        return data;
      },
    });
    res.status(201).json(post);
  };

  app.post('/posts/create', createPost);
  app.post('/posts', createPost);
  /** The newest posts as a map by id (a page: `?limit=`, `?before=` as the Link header says). */
  app.get('/posts', (req, res) => {
    const request = pageRequestOf(req);
    const { items, olderBefore } = store.page(request);
    linkNextPage(res, '/posts', request, olderBefore);
    res.json(Object.fromEntries(items.map((post) => [post.id, post])));
  });
  app.use(eventIntake(consumer));

  return finishServiceApp(app, logger);
}
