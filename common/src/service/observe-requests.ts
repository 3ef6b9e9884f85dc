import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from './logger';
import type { HttpMetrics } from './metrics';
import { runWithRequestId } from './request-context';

/** The header that carries a request's id; ingress-nginx sets it, and a caller may too. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Probes and scrapes every few seconds would drown the lines that matter. */
const UNLOGGED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const ACCEPTED_REQUEST_ID = /^[\w.:-]{1,100}$/;

/** The caller's `X-Request-ID` when it sends a sane one, else a new one; echoed in the answer. */
function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers[REQUEST_ID_HEADER];
  const id = typeof given === 'string' && ACCEPTED_REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** What one request's line says: its id, method, path, status and duration. */
function requestLine(req: IncomingMessage, res: ServerResponse, ms: number) {
  return { reqId: req.id, method: req.method, path: (req as Request).originalUrl, status: res.statusCode, ms };
}

/**
 * Every request gets an id (and, after the body parsers, requestScope makes every line logged for it carry
 * the id, the "event published" line included). When it finishes: one line by pino-http (method, path, status,
 * duration, id) and one observation in the duration histogram, labelled by route pattern.
 */
export function observeRequests(logger: Logger | undefined, metrics: HttpMetrics | undefined): RequestHandler[] {
  const logRequests = logger
    ? pinoHttp({
        logger,
        genReqId: requestIdOf,
        // The line is written by the service's logger itself, with the request's id in the line (no
        // bindings of the request or its headers, which would repeat the id the lines' mixin adds).
        quietResLogger: true,
        autoLogging: { ignore: (req) => UNLOGGED_PATHS.has((req.url ?? '').split('?')[0] ?? '') },
        // 503 means a dependency is unavailable (the bus), which the service reports and survives.
        customLogLevel: (_req, res, err) =>
          res.statusCode === 503 ? 'warn' : err || res.statusCode >= 500 ? 'error' : 'info',
        customSuccessMessage: (req, res, ms) =>
          `${req.method} ${(req as Request).originalUrl} ${res.statusCode} ${ms} ms`,
        customErrorMessage: (req, res) => `${req.method} ${(req as Request).originalUrl} ${res.statusCode}`,
        customSuccessObject: (req, res, logged: { responseTime: number }) => requestLine(req, res, logged.responseTime),
        // The error itself is logged where it is handled (finishServiceApp), once.
        customErrorObject: (req, res, _err, logged: { responseTime: number }) =>
          requestLine(req, res, logged.responseTime),
      })
    : (req: IncomingMessage, res: ServerResponse, next: () => void) => {
        req.id = requestIdOf(req, res);
        next();
      };
  const timeRequests: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics?.httpRequestDuration.observe(
        { method: req.method, route: routeOf(req), status: String(res.statusCode) },
        seconds,
      );
    });
    next();
  };
  return [logRequests as RequestHandler, timeRequests];
}

/**
 * Runs the rest of a request's handling with its id in the request context, so that every line logged
 * for it carries the id. Placed after the body parsers: a body's stream events run outside the context
 * of the middleware that saw the request first.
 */
export const requestScope: RequestHandler = (req, _res, next) => {
  if (typeof req.id !== 'string') return next();
  runWithRequestId(req.id, next);
};

/** `/posts/:id/comments` rather than each post's own path, so the number of label values stays bounded. */
function routeOf(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string' ? `${req.baseUrl}${route}` : 'unmatched';
}
