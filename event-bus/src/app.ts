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
import type { Express, Response } from 'express';
import { z } from 'zod';
import type { SubscriberDelivery } from './delivery';
import type { EventLog } from './log';

export interface EventBusDeps {
  log: EventLog;
  deliveries: readonly SubscriberDelivery[];
  logger: Logger;
}

const MAX_PAGE = 10_000;
/** Events read from the log per chunk of a streamed answer. */
const STREAM_PAGE = 5_000;

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

  /**
   * The history in seq order: everything, or a page after a seq. The stored JSON texts are streamed as
   * they are, page by page, so even the whole of a long history is never parsed or held at once.
   */
  app.get('/events', async (req, res) => {
    const { after, limit } = parseQuery(historyQuerySchema, req.query);
    const end = Math.min(log.lastSeq, after + (limit ?? Infinity));
    res.type('application/json');
    let position = after;
    let separator = '[';
    while (position < end && !res.destroyed) {
      const events = await log.readRawAfter(position, Math.min(STREAM_PAGE, end - position));
      if (events.length === 0) break;
      const flushed = res.write(separator + events.join(','));
      separator = ',';
      position += events.length;
      if (!flushed) await drained(res);
    }
    res.end(separator === '[' ? '[]' : ']');
  });

  /** Where each subscriber's delivery stands. */
  app.get('/subscribers', (_req, res) => {
    res.json(deliveries.map((delivery) => delivery.status()));
  });

  return finishServiceApp(app, logger);
}

/** Resolves when the response can take more, or when the client has gone. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
