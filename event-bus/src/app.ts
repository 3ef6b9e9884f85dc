import { randomUUID } from 'node:crypto';
import {
  createServiceApp,
  EVENT_BATCH_PATH,
  finishServiceApp,
  errorBody,
  HttpError,
  inEventTrace,
  isSameEvent,
  LIMITS,
  MAX_EVENT_BYTES,
  parsePublishRequest,
  parseQuery,
  requireJsonObject,
  type Logger,
  type SubscriberStatus,
} from '@blog/common';
import type { Express, Response } from 'express';
import { z } from 'zod';
import {
  authorizePublish,
  authorizeSnapshots,
  EventsClients,
  eventsClientOf,
  requireEventsClient,
  type EventsClient,
  type ServiceTokens,
} from './http/events-clients';
import { snapshotRoutes } from './http/snapshot-routes';
import type { Appended, EventLog, NewEvent } from './log/event-log';
import type { BusMetrics } from './metrics';
import type { SnapshotArchive } from './snapshots/snapshot-archive';
import type { SnapshotClaims } from './snapshots/snapshot-claims';

export interface EventBusDeps {
  log: EventLog;
  /** Where each pushed-to subscriber's delivery stands (a Deliverer). */
  subscribers: { statuses(): Promise<SubscriberStatus[]> };
  logger: Logger;
  metrics?: BusMetrics;
  /** The operator's token (EVENTS_TOKEN): any event type, any snapshots. */
  eventsToken?: string;
  /** Each service's own token (`<NAME>_EVENTS_TOKEN`): its own event types and snapshots only. */
  serviceTokens?: ServiceTokens;
  /** Aborted when the bus begins to shut down: reads waiting for new events answer at once. */
  draining?: AbortSignal;
  /** Where the services' snapshots are kept (`/snapshots`), and the largest taken; none, no such routes. */
  snapshots?: { archive: SnapshotArchive; claims: SnapshotClaims; maxBytes: number };
}

const MAX_PAGE = 10_000;
/** The longest a read may wait for new events (`wait`), within any proxy's idle timeout. */
export const MAX_WAIT_MS = 30_000;
/** Events read from the log per chunk of a streamed answer. */
const STREAM_PAGE = 5_000;

const historyQuerySchema = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
  wait: z.coerce.number().int().min(0).max(MAX_WAIT_MS).optional(),
});

export function createApp({
  log,
  subscribers,
  logger,
  metrics,
  eventsToken,
  serviceTokens,
  draining,
  snapshots,
}: EventBusDeps): Express {
  const clients = new EventsClients(eventsToken, serviceTokens);
  const eventsGuard = clients.open ? undefined : requireEventsClient(clients);
  const app = createServiceApp({ isReady: () => true, logger, metrics, eventsGuard });
  if (eventsGuard) {
    app.use('/snapshots', eventsGuard);
    // Who the subscribers are and how far behind: for the blog's own processes and its operators.
    app.use('/subscribers', eventsGuard);
  }
  app.use('/snapshots/:service', (req, res, next) => {
    authorizeSnapshots(eventsClientOf(res), String(req.params.service));
    next();
  });
  const logEnd = async () => {
    // Everything acknowledged by any bus replica counts.
    await log.readable();
    return log.lastSeq;
  };
  if (snapshots) app.use(snapshotRoutes({ ...snapshots, logEnd, logger }));
  const append = async (event: NewEvent): Promise<Appended> => {
    const appended = await log.append(event);
    const { id, type, seq } = appended.event;
    if (appended.duplicate) {
      logger.info({ eventId: id, type, seq }, 'event id already stored: answered with the stored event');
    } else {
      metrics?.eventsAppended.inc({ type });
      inEventTrace(event.trace, () => logger.info({ eventId: id, type, seq }, 'event appended'));
    }
    return appended;
  };

  /**
   * Accepts one event, sequences and stores it: 201 `{seq, idsFrom}`. An id stored before is not stored
   * again: the same type and data (a publisher retrying after a lost answer) get 201 `{seq, idsFrom,
   * duplicate: true, event}` with the event stored under that id; another type or data is refused, 409
   * `{error, seq, idsFrom, event}` with the same stored event. `idsFrom`: the ids of the events from that
   * seq on are remembered; an older one could be stored again. Delivery to subscribers happens after the
   * answer.
   */
  app.post('/events', async (req, res) => {
    requireJsonObject(req.body);
    const sent = newEvent(req.body, eventsClientOf(res));
    const { event, duplicate } = await append(sent);
    if (duplicate && !isSameEvent(sent, event)) {
      logger.warn(
        { eventId: sent.id, type: sent.type, storedType: event.type, seq: event.seq },
        'another event is stored under this id: refused',
      );
      res.status(409).json({
        ...errorBody(`another event is stored under id ${sent.id}; nothing was stored`, 'event_id_taken'),
        seq: event.seq,
        idsFrom: log.idsFrom,
        event,
      });
      return;
    }
    res.status(201).json({ seq: event.seq, idsFrom: log.idsFrom, ...(duplicate ? { duplicate: true, event } : {}) });
  });

  /**
   * Accepts several events at once (a JSON array), stored in that order with one write: 201 `{seqs, idsFrom}`,
   * plus `duplicates` (`[{index, event}]`) naming the events whose id was stored before, with the event
   * stored under it: the publisher compares, as one id with another body is not refused here (the rest of
   * the batch is stored in the same write, and its seqs must be answered). One invalid event refuses the
   * whole batch with a 400 naming its index (403 for a type the client may not publish), and nothing is
   * stored.
   */
  app.post(EVENT_BATCH_PATH, async (req, res) => {
    const body: unknown = req.body;
    if (!Array.isArray(body) || body.length === 0 || body.length > LIMITS.batchEvents) {
      throw new HttpError(400, `request body must be a JSON array of 1 to ${LIMITS.batchEvents} events`);
    }
    const client = eventsClientOf(res);
    const events = body.map((item: unknown, index) => {
      try {
        requireJsonObject(item);
        const event = newEvent(item, client);
        refuseOversized(event);
        return event;
      } catch (err) {
        throw err instanceof HttpError
          ? new HttpError(err.status, `event at index ${index}: ${err.message}`, { code: err.code })
          : err;
      }
    });
    const appended = await Promise.all(events.map(append));
    const duplicates = appended.flatMap(({ event, duplicate }, index) => (duplicate ? [{ index, event }] : []));
    res.status(201).json({
      seqs: appended.map(({ event }) => event.seq),
      idsFrom: log.idsFrom,
      ...(duplicates.length > 0 ? { duplicates } : {}),
    });
  });

  /**
   * The history in seq order: everything, or a page after a seq. The stored JSON texts are streamed as
   * they are, page by page, so even the whole of a long history is never parsed or held at once.
   * With `wait` (ms) and nothing after `after` yet, the answer waits up to that long for a new event: a
   * service replica follows the log with one such read after another.
   */
  app.get('/events', async (req, res) => {
    const { after, limit, wait } = parseQuery(historyQuerySchema, req.query);
    // Everything acknowledged before this read, by any bus replica, is in its answer.
    await log.readable();
    if (wait && log.lastSeq <= after) await waitForNewer(after, wait, res);
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

  /** Where each subscriber's delivery stands (needs the events token); any bus replica answers, the delivering one or not. */
  app.get('/subscribers', async (_req, res) => {
    res.json(await subscribers.statuses());
  });

  /** Resolves when an event after `after` is stored, `ms` have passed, the client left or the bus drains. */
  async function waitForNewer(after: number, ms: number, res: Response): Promise<void> {
    const left = new AbortController();
    const leave = () => left.abort();
    res.on('close', leave);
    try {
      await log.waitForNewerThan(
        after,
        AbortSignal.any([left.signal, AbortSignal.timeout(ms), ...(draining ? [draining] : [])]),
      );
    } finally {
      res.off('close', leave);
    }
  }

  return finishServiceApp(app, logger);
}

/**
 * Validates what a publisher sent, checks that the client may publish its type (403 if not), and gives it
 * an id and a time when it has none.
 */
function newEvent(body: Record<string, unknown>, client: EventsClient): NewEvent {
  const parsed = parsePublishRequest(body);
  if (!parsed.ok) throw new HttpError(400, `malformed event: ${parsed.error}`);
  const { id, type, data, time, trace } = parsed.event;
  authorizePublish(client, type);
  return { id: id ?? randomUUID(), type, data, time: time ?? new Date().toISOString(), ...(trace ? { trace } : {}) };
}

/**
 * Refuses an event larger than a stored event may be (the log would quarantine it). Only a batch can carry
 * one: the body limit of a single publish is well below MAX_EVENT_BYTES, so a single publish pays nothing.
 */
function refuseOversized(event: NewEvent): void {
  const bytes = Buffer.byteLength(JSON.stringify(event));
  if (bytes > MAX_EVENT_BYTES)
    throw new HttpError(413, `event is ${bytes} bytes; an event may take at most ${MAX_EVENT_BYTES}`);
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
