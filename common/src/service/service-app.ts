import cors from 'cors';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { z } from 'zod';
import { LIMITS } from '../contracts/api';
import { errorBody, errorCodeFor, type ErrorCode } from '../contracts/error-codes';
import { describeIssues } from '../contracts/events';
import { requireDeliverySignatureHeader, verifyDeliveryBody } from '../messaging/delivery-signature';
import { requireEventsToken } from '../messaging/events-token';
import { HttpError, sendError } from './http-error';
import type { Logger } from './logger';
import type { HttpMetrics } from './metrics';
import { observeRequests, REQUEST_ID_HEADER, requestScope } from './observe-requests';
import type { KeyObject } from 'node:crypto';

/** Throws a 400 unless the request body is a JSON object (not an array, not missing). */
export function requireJsonObject(body: unknown): asserts body is Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'request body must be a JSON object (Content-Type: application/json)');
  }
}

/** Checks that a request body is a JSON object matching the schema, or throws a 400 naming the fields. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  requireJsonObject(body);
  return parseWith(schema, body);
}

/** Validates query parameters, or throws a 400 naming them. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  return parseWith(schema, query);
}

function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new HttpError(400, describeIssues(parsed.error));
  return parsed.data;
}

/** Where the bus delivers events in batches (a JSON array); `POST /events` takes one. */
export const EVENT_BATCH_PATH = '/events/batch';

/** The routes the bus delivers to. */
const DELIVERY_PATHS = ['/events', EVENT_BATCH_PATH];

export interface ServiceAppOptions {
  /** Whether the service can serve traffic (it has caught up with the event history). */
  isReady: () => boolean;
  /** Logs one line per request (method, path, status, duration, request id). */
  logger?: Logger;
  /** Times every request and serves `GET /metrics`. */
  metrics?: HttpMetrics;
  /**
   * When set (and no `deliveryKey`), every request to `/events…` must carry it (`Authorization: Bearer
   * <token>`): the older setup, where the bus and the services share one token.
   */
  eventsToken?: string;
  /**
   * The bus's public key (DELIVERY_PUBLIC_KEY): when set, a delivery (`POST /events`, `POST /events/batch`)
   * is applied only if the bus signed its body; a missing or wrong signature is a 401. No token is needed
   * on deliveries then: the signature proves more than any token a publisher also holds.
   */
  deliveryKey?: KeyObject;
  /** Checks every request to `/events…` before its body is read (the bus: which client is calling). */
  eventsGuard?: RequestHandler;
  /**
   * For a service that browsers call (through the Ingress or the client server): security headers on
   * every answer, and CORS for these origins only.
   */
  browserOrigins?: readonly string[];
}

/**
 * An Express app with the JSON body parser and the routes every service has: health, readiness and, when
 * given metrics, `GET /metrics`.
 */
export function createServiceApp({
  isReady,
  logger,
  metrics,
  eventsToken,
  deliveryKey,
  eventsGuard,
  browserOrigins,
}: ServiceAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  if (logger || metrics) app.use(observeRequests(logger, metrics));
  if (browserOrigins) app.use(browserApiHeaders(browserOrigins));
  // Before the body parsers, so that a body without the token or signature is never read.
  if (eventsGuard !== undefined) app.use('/events', eventsGuard);
  if (deliveryKey !== undefined) app.post(DELIVERY_PATHS, requireDeliverySignatureHeader());
  else if (eventsToken !== undefined) app.use('/events', requireEventsToken(eventsToken));
  if (metrics) {
    app.get('/metrics', async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  }
  // Deliveries from the bus carry many events; every other body is small. (The first parser that reads
  // a body marks it read, so the general one skips the batch route.)
  // A signed delivery is checked against the exact bytes received, before they are parsed.
  const verify = deliveryKey === undefined ? undefined : verifyDeliveryBody(deliveryKey);
  app.use(EVENT_BATCH_PATH, express.json({ limit: LIMITS.batchBodyBytes, verify }));
  if (verify !== undefined) app.post('/events', express.json({ limit: LIMITS.bodyBytes, verify }));
  app.use(express.json({ limit: LIMITS.bodyBytes }));
  if (logger) app.use(requestScope);
  addHealthRoutes(app, isReady);
  // Until caught up, the state is incomplete: answering from it would show missing posts or say 404 for
  // posts that exist. Event intake stays open (live events are buffered meanwhile).
  app.use((req, res, next) => {
    if (isReady() || req.path === '/events' || req.path === EVENT_BATCH_PATH) return next();
    sendError(res, 503, 'catching up with the event history, try again in a moment', 'unavailable');
  });
  return app;
}

/** `GET /healthz` (alive) and `GET /readyz` (200 when ready, else 503), as every process of the blog serves them. */
export function addHealthRoutes(app: Express, isReady: () => boolean): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    if (isReady()) res.json({ status: 'ready' });
    else sendError(res, 503, 'not ready: catching up with the event history', 'unavailable');
  });
}

/**
 * Helmet's headers for a JSON API (nothing it answers may be framed, sniffed or run as a page), and CORS:
 * a page from one of `origins` may call the API from the browser; any other origin gets no CORS headers,
 * so the browser keeps the answer from it.
 */
function browserApiHeaders(origins: readonly string[]): RequestHandler[] {
  return [
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    }),
    cors({ origin: [...origins], methods: ['GET', 'POST'], exposedHeaders: [REQUEST_ID_HEADER, 'Link'], maxAge: 600 }),
  ];
}

/** Adds the JSON 404 and error handlers; call after the service's own routes. */
export function finishServiceApp(app: Express, logger: Logger): Express {
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}

const notFound: RequestHandler = (req, res) => {
  sendError(res, 404, `no route for ${req.method} ${req.path}`, 'not_found');
};

/** Messages for the errors Express's body parser raises. */
const bodyParserMessages: Record<string, string> = {
  'entity.parse.failed': 'request body is not valid JSON',
  'entity.too.large': 'request body is larger than the limit',
  'encoding.unsupported': 'unsupported Content-Encoding',
  'charset.unsupported': 'unsupported charset',
  'request.aborted': 'request aborted',
  'entity.verify.failed': 'request body rejected',
};

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const { status, message, code } = toHttpError(err);
    const retryAfterSeconds = err instanceof HttpError ? err.retryAfterSeconds : undefined;
    // 503 means a dependency (the event bus) is unavailable: expected in operation, so a warning.
    if (status === 503)
      logger.warn({ reason: message, method: req.method, path: req.path }, 'request refused: unavailable');
    else if (status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (retryAfterSeconds !== undefined) res.set('Retry-After', String(retryAfterSeconds));
    res.status(status).json(errorBody(message, code));
  };
}

function toHttpError(err: unknown): { status: number; message: string; code: ErrorCode } {
  if (err instanceof HttpError) return { status: err.status, message: err.message, code: err.code };
  if (typeof err === 'object' && err !== null) {
    const { status, type, message, limit } = err as {
      status?: unknown;
      type?: unknown;
      message?: unknown;
      limit?: unknown;
    };
    if (type === 'entity.too.large' && typeof limit === 'number')
      return { status: 413, message: `request body is larger than ${limit} bytes`, code: 'payload_too_large' };
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const known = typeof type === 'string' ? bodyParserMessages[type] : undefined;
      return {
        status,
        message: known ?? (typeof message === 'string' ? message : 'bad request'),
        code: errorCodeFor(status),
      };
    }
  }
  return { status: 500, message: 'internal error', code: 'internal' };
}
