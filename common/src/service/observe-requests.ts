import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Logger } from './logger';
import type { HttpMetrics } from './metrics';

/** The header that carries a request's id; ingress-nginx sets it, and a caller may too. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Probes and scrapes every few seconds would drown the lines that matter. */
const UNLOGGED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const ACCEPTED_REQUEST_ID = /^[\w.:-]{1,100}$/;

/**
 * Every request gets an id (the caller's `X-Request-ID` when it sends a sane one, else a new one), echoed
 * in the answer. When it finishes: one log line (method, path, status, duration, id) and one observation
 * in the duration histogram, labelled by route pattern. A line below the log level costs nothing.
 */
export function observeRequests(logger: Logger | undefined, metrics: HttpMetrics | undefined): RequestHandler {
  return (req, res, next) => {
    const given = req.headers[REQUEST_ID_HEADER];
    const id = typeof given === 'string' && ACCEPTED_REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader(REQUEST_ID_HEADER, id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.statusCode;
      metrics?.httpRequestDuration.observe(
        { method: req.method, route: routeOf(req), status: String(status) },
        seconds,
      );
      // 503 means a dependency is unavailable (the bus), which the service reports and survives.
      const level = status === 503 ? 'warn' : status >= 500 ? 'error' : 'info';
      if (!logger?.isLevelEnabled(level) || UNLOGGED_PATHS.has(req.path)) return;
      const ms = Math.round(seconds * 10_000) / 10;
      logger[level](
        { reqId: id, method: req.method, path: req.originalUrl, status, ms },
        `${req.method} ${req.originalUrl} ${status} ${ms} ms`,
      );
    });
    next();
  };
}

/** `/posts/:id/comments` rather than each post's own path, so the number of label values stays bounded. */
function routeOf(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string' ? `${req.baseUrl}${route}` : 'unmatched';
}
