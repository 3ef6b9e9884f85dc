import { randomUUID } from 'node:crypto';
import {
  type BrowserAppDeps,
  type Comment,
  createCommentBodySchema,
  CreatesByKey,
  createSubscriberApp,
  eventIntake,
  type EventPublisher,
  finishServiceApp,
  HttpError,
  idempotencyKeyOf,
  idFromKey,
  linkNextPage,
  pageRequestOf,
  parseBody,
} from '@blog/common';
import type { Express } from 'express';
import type { CommentStore } from './store';

export interface CommentsDeps extends BrowserAppDeps {
  store: CommentStore;
  bus: EventPublisher;
}

export function createApp(deps: CommentsDeps): Express {
  const { store, bus, consumer, logger } = deps;
  const app = createSubscriberApp(deps);

  const creates = new CreatesByKey({ state: consumer, bus });

  /**
   * With an Idempotency-Key, the comment's id and event id come from the key: the same key, post and
   * content again answer the comment already created (also after a restart, and on any replica), and
   * another body is a 422. What is added to the store is what the bus stored.
   */
  app.post('/posts/:id/comments', async (req, res) => {
    const { content } = parseBody(createCommentBodySchema, req.body);
    const postId = req.params.id;
    const key = idempotencyKeyOf(req);
    const id = key === undefined ? randomUUID() : idFromKey('comment', key);
    // A post created a moment ago may not have reached us yet: read the newest history before saying 404.
    if (!store.hasPost(postId)) await consumer.sync();
    if (!store.hasPost(postId)) throw new HttpError(404, `post ${postId} not found`);

    const comment = await creates.create<Comment & { postId: string }>(key, {
      find: () => store.get(id),
      sameBody: (existing) => existing.postId === postId && existing.content === content,
      create: async () => {
        const event = { type: 'CommentCreated' as const, data: { id, postId, content, status: 'pending' as const } };
        const { data, seq } = await bus.publish(
          event,
          key === undefined ? {} : { id: idFromKey('CommentCreated', key) },
        );
        store.addComment(data.postId, { id: data.id, content: data.content, status: data.status }, seq);
        return data;
      },
    });
    res.status(201).json({ id: comment.id, content: comment.content, status: comment.status });
  });

  /** The newest comments of a post (a page: `?limit=`, `?before=` as the Link header says). */
  app.get('/posts/:id/comments', (req, res) => {
    const request = pageRequestOf(req);
    const { items, olderBefore } = store.commentsOf(req.params.id, request);
    linkNextPage(res, `/posts/${encodeURIComponent(req.params.id)}/comments`, request, olderBefore);
    res.json(items);
  });

  app.use(eventIntake(consumer));

  return finishServiceApp(app, logger);
}
