import { randomUUID } from 'node:crypto';
import { type BrowserAppDeps, createCommentBodySchema, createServiceApp, eventIntake, type EventPublisher, finishServiceApp, HttpError, parseBody } from '@blog/common';
import type { Express } from 'express';
import type { CommentStore } from './events';

export interface CommentsDeps extends BrowserAppDeps {
  store: CommentStore;
  bus: EventPublisher;
}

export function createApp({ store, bus, consumer, logger, metrics, eventsToken, browserOrigins }: CommentsDeps): Express {
  const app = createServiceApp({ isReady: () => consumer.isReady(), logger, metrics, eventsToken, browserOrigins });

  app.post('/posts/:id/comments', async (req, res) => {
    const { content } = parseBody(createCommentBodySchema, req.body);
    const postId = req.params.id;
    // A post created a moment ago may not have reached us yet: read the newest history before saying 404.
    if (!store.hasPost(postId)) await consumer.sync();
    if (!store.hasPost(postId)) throw new HttpError(404, `post ${postId} not found`);

    const comment = { id: randomUUID(), content, status: 'pending' as const };
    const { seq } = await bus.publish({ type: 'CommentCreated', data: { ...comment, postId } });
    store.addComment(postId, comment, seq);
    res.status(201).json(comment);
  });

  app.get('/posts/:id/comments', (req, res) => {
    res.json(store.commentsOf(req.params.id));
  });

  app.use(eventIntake(consumer));

  return finishServiceApp(app, logger);
}
