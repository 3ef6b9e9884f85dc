import { randomUUID } from 'node:crypto';
import {
  createServiceApp,
  finishServiceApp,
  HttpError,
  parsePublishRequest,
  parseQuery,
  requireJsonObject,
  type Logger,
} from '@blog/common';
import type { Express } from 'express';
import { z } from 'zod';
import type { SubscriberDelivery } from './delivery';
import type { EventLog } from './log';

export interface EventBusDeps {
  log: EventLog;
  deliveries: readonly SubscriberDelivery[];
  logger: Logger;
}

const MAX_PAGE = 10_000;

const historyQuerySchema = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
});

export function createApp({ log, deliveries, logger }: EventBusDeps): Express {
  const app = createServiceApp({ isReady: () => true });

  /** Accepts one event, sequences and stores it; delivery to subscribers happens after the answer. */
  app.post('/events', async (req, res) => {
    requireJsonObject(req.body);
    const parsed = parsePublishRequest(req.body);
    if (!parsed.ok) throw new HttpError(400, `malformed event: ${parsed.error}`);
    const { id, type, data, time } = parsed.event;
    const stored = await log.append({ id: id ?? randomUUID(), type, data, time: time ?? new Date().toISOString() });
    res.status(201).json({ seq: stored.seq });
  });

  /** The history in seq order: everything, or a page after a seq. */
  app.get('/events', async (req, res) => {
    const { after, limit } = parseQuery(historyQuerySchema, req.query);
    res.json(await log.readAfter(after, limit ?? Number.MAX_SAFE_INTEGER));
  });

  /** Where each subscriber's delivery stands. */
  app.get('/subscribers', (_req, res) => {
    res.json(deliveries.map((delivery) => delivery.status()));
  });

  return finishServiceApp(app, logger);
}
