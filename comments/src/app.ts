import { randomUUID } from 'node:crypto';
import {
  type BrowserAppDeps,
  type Comment,
  createCommentBodySchema,
  CreatesByKey,
  createServiceApp,
  eventIntake,
  type EventPublisher,
  finishServiceApp,
  HttpError,
  idempotencyKeyOf,
  idFromKey,
  parseBody,
} from '@blog/common';
import type { Express } from 'express';
import type { CommentStore } from './events';

export interface CommentsDeps extends BrowserAppDeps {
  store: CommentStore;
  bus: EventPublisher;
}

export function createApp({ store, bus, consumer, logger, metrics, eventsToken, browserOrigins }: CommentsDeps): Express {
  const app = createServiceApp({ isReady: () => consumer.isReady(), logger, metrics, eventsToken, browserOrigins });

  const creates = new CreatesByKey();

  /**
   * With an Idempotency-Key, the comment's id and event id come from the key: the same key, post and
   * content again answer the comment already created (also after a restart), and another body is a 422.
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
      refresh: () => consumer.sync(),
      sameBody: (existing) => existing.postId === postId && existing.content === content,
      create: async () => {
        const created = { id, content, status: 'pending' as const };
        const { seq } = await bus.publish({ type: 'CommentCreated', data: { ...created, postId } }, key === undefined ? {} : { id: idFromKey('CommentCreated', key) });
        store.addComment(postId, created, seq);
        return { ...created, postId };
      },
    });
    res.status(201).json({ id: comment.id, content: comment.content, status: comment.status });
  });

  app.get('/posts/:id/comments', (req, res) => {
    res.json(store.commentsOf(req.params.id));
  });

  app.use(eventIntake(consumer));

  return finishServiceApp(app, logger);
}
