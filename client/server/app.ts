import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import {
  addHealthRoutes,
  type ApiError,
  errorBody,
  finishServiceApp,
  inTurn,
  matchPublicRoute,
  neverSent,
  resolvePublicRoute,
  sendError,
  type Logger,
  type PublicBackend,
} from '@blog/common';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { createRate, DEFAULT_ROUTER_LIMITS, streamsPerClient, type RouterLimits } from './limits';

export type ApiBackend = Exclude<PublicBackend, 'client'>;
/** Each public service's base URL, or the URLs of its replicas (requests take them in turn). */
export type ApiBackends = Record<ApiBackend, string | readonly string[]>;

export interface ClientServerOptions {
  /**
   * Base URLs of the public services. When given, this server routes requests exactly as the Kubernetes
   * Ingress does (see PUBLIC_ROUTES), so the local stack behaves like posts.com. Without them it only
   * serves the client, as it does behind the Ingress.
   */
  backends?: ApiBackends;
  /** Serves the client: the static build, or Vite's dev middleware. */
  client: RequestHandler;
  logger: Logger;
  /** Per-client limits on the API it routes (the defaults are the cluster's). */
  limits?: RouterLimits;
}

export function createClientServerApp({
  backends,
  client,
  logger,
  limits = DEFAULT_ROUTER_LIMITS,
}: ClientServerOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // Stateless: ready as soon as it listens.
  addHealthRoutes(app, () => true);
  if (backends) {
    app.use(streamsPerClient(limits.streamsPerClient, isStream));
    app.use(createRate(limits, isCreate));
    app.use(apiProxy(backends, logger));
    app.options(/^\/posts/i, (req, res) => {
      sendError(res, 400, `${req.method} ${req.path} with a body is not accepted`, 'invalid_request');
    });
  }
  app.use(client);
  return finishServiceApp(app, logger);
}

const PROXIED_METHODS = new Set(['GET', 'HEAD', 'POST', 'OPTIONS']);

const pathnameOf = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://gateway').pathname;

/** The live view: a GET on a route the table marks as a stream (common/src/contracts/routes.ts). */
function isStream(req: IncomingMessage): boolean {
  return req.method === 'GET' && matchPublicRoute(pathnameOf(req))?.stream === true;
}

/** A POST to the API: every create (posts and comments). */
function isCreate(req: IncomingMessage): boolean {
  const backend = resolvePublicRoute(pathnameOf(req));
  return req.method === 'POST' && backend !== undefined && backend !== 'client';
}

/** Whether a request says it carries a body (a length above 0, or chunks). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

function apiProxy(backends: ApiBackends, logger: Logger): RequestHandler {
  const backendOf = (pathname: string) => resolvePublicRoute(pathname);
  const nextUrl: Record<ApiBackend, () => string> = {
    posts: inTurn(backends.posts),
    comments: inTurn(backends.comments),
    query: inTurn(backends.query),
  };
  return createProxyMiddleware({
    // Each request's target is the router's choice; this one is only http-proxy's required default.
    target: [backends.query].flat()[0],
    // The API takes GET and POST, and OPTIONS for browsers' CORS preflights (the service answers them, as
    // behind the Ingress). Nothing else is passed on, nor an OPTIONS with a body: http-proxy sends a
    // DELETE or OPTIONS with Content-Length 0 even when the request has a chunked body, and the body would
    // then reach the service as the start of another request. They get this server's own 4xx.
    pathFilter: (pathname, req) =>
      PROXIED_METHODS.has(req.method ?? '') &&
      !(req.method === 'OPTIONS' && hasBody(req)) &&
      backendOf(pathname) !== 'client',
    router: (req) => {
      const backend = backendOf(new URL(req.url ?? '/', 'http://gateway').pathname);
      return nextUrl[backend && backend !== 'client' ? backend : 'query']();
    },
    xfwd: true,
    on: {
      error: (err, req, res) => {
        const pathname = new URL(req.url ?? '/', 'http://gateway').pathname;
        const backend = backendOf(pathname) ?? 'backend';
        logger.warn({ err: err.message, path: pathname, backend }, 'proxy error');
        if ('writeHead' in res && !res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify(proxyError(backend, req.method, err)));
        } else {
          res.end();
        }
      },
    },
  });
}

/**
 * The router's answer when a service gave none. A GET changes nothing; a create that may have reached the
 * service may have been made (it failed mid-request), so it is not said to be unavailable.
 */
export function proxyError(backend: string, method: string | undefined, err: unknown): ApiError {
  if (method !== 'POST' || neverSent(err)) return errorBody(`the ${backend} service is unavailable`, 'unavailable');
  return errorBody(
    `the ${backend} service did not answer; the change may or may not have been made`,
    'outcome_unknown',
  );
}

/**
 * The page may only load its own scripts, styles and API: even if some markup got into the page, no
 * script from elsewhere or inline would run. No `upgrade-insecure-requests`: posts.com is served over plain
 * HTTP in development, and that directive would send every request of the page to https.
 */
const pageSecurityHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
});

/**
 * Serves the Vite build with security headers: hashed assets cached for a year, index.html for every other
 * page (SPA).
 */
export function staticClient(distDir: string): RequestHandler {
  const router = express.Router();
  router.use(pageSecurityHeaders);
  router.use(
    express.static(distDir, {
      index: false,
      setHeaders: (res, file) => {
        const immutable = file.includes(`${path.sep}assets${path.sep}`);
        res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  router.get(/.*/, (req, res, next) => {
    if (!req.accepts('html')) return next();
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(path.join(distDir, 'index.html'), (err) => {
      if (err) sendError(res, 503, 'the client is not built yet: run npm run build', 'unavailable');
    });
  });
  return router;
}
