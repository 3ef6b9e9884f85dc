/**
 * Per-client limits of the router (the client server in front of the API), the same as the cluster's
 * Ingress and Gateway set: open streams per client address (NGINX's `limit_conn`), a rate of creates,
 * and timeouts for a request's headers and body (NGINX's client_header_timeout).
 */
import type { IncomingMessage, ServerOptions } from 'node:http';
import { env, sendError } from '@blog/common';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { z } from 'zod';

const count = (fallback: number) => {
  const error = 'must be a whole number from 1 to 1000000';
  return z.coerce.number({ error }).int({ error }).min(1, { error }).max(1_000_000, { error }).default(fallback);
};

/** The router's limits, read from the environment with the client server's other settings. */
export const routerLimitsConfigSchema = {
  /** Server-Sent Event streams one client address may hold open at once (as `limit_conn 10` on the Gateway). */
  ROUTER_STREAMS_PER_CLIENT: count(10),
  /** Creates (POST requests to the API) a client address may send per second, on average… */
  ROUTER_CREATES_PER_SECOND: count(10),
  /** …and at most this many in a row (the Gateway's burst 50 at 10r/s). */
  ROUTER_CREATE_BURST: count(50),
  /** How long a client may take to send a request's headers before its connection is closed. */
  ROUTER_HEADERS_TIMEOUT_MS: env.milliseconds(10_000),
  /** How long a client may take to send a whole request (headers and body); not the answer, so streams last. */
  ROUTER_REQUEST_TIMEOUT_MS: env.milliseconds(30_000),
};

export interface RouterLimits {
  streamsPerClient: number;
  createsPerSecond: number;
  createBurst: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

export function routerLimitsOf(config: z.infer<z.ZodObject<typeof routerLimitsConfigSchema>>): RouterLimits {
  return {
    streamsPerClient: config.ROUTER_STREAMS_PER_CLIENT,
    createsPerSecond: config.ROUTER_CREATES_PER_SECOND,
    createBurst: config.ROUTER_CREATE_BURST,
    headersTimeoutMs: config.ROUTER_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.ROUTER_REQUEST_TIMEOUT_MS,
  };
}

export const DEFAULT_ROUTER_LIMITS: RouterLimits = routerLimitsOf(z.object(routerLimitsConfigSchema).parse({}));

/**
 * The HTTP server's timeouts. Node checks them on an interval (30 s by default), so a connection dripping
 * its headers would be held that much longer: it checks every second here.
 */
export function serverTimeouts({ headersTimeoutMs, requestTimeoutMs }: RouterLimits): ServerOptions {
  return {
    headersTimeout: headersTimeoutMs,
    requestTimeout: Math.max(requestTimeoutMs, headersTimeoutMs),
    connectionsCheckingInterval: 1_000,
  };
}

/** The client a request comes from: its address as the socket has it (an IPv6 client by its /56, as the rate limit counts it). */
function clientOf(req: IncomingMessage): string {
  return ipKeyGenerator(req.socket.remoteAddress ?? 'unknown', 56);
}

/** Refuses a stream past `max` open ones from the same client, with 429 JSON; counts each until it closes. */
export function streamsPerClient(max: number, isStream: (req: IncomingMessage) => boolean): RequestHandler {
  const open = new Map<string, number>();
  return (req, res, next) => {
    if (!isStream(req)) return next();
    const client = clientOf(req);
    const streams = open.get(client) ?? 0;
    if (streams >= max) {
      sendError(res, 429, `too many open streams from this address: at most ${max}; close one first`, 'rate_limited');
      return;
    }
    open.set(client, streams + 1);
    res.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
    next();
  };
}

/**
 * At most `burst` creates per client in a window of burst / perSecond seconds: `perSecond` on average,
 * `burst` at once. Past it, 429 JSON with Retry-After (seconds until the window ends).
 */
export function createRate(
  { createsPerSecond, createBurst }: RouterLimits,
  isCreate: (req: IncomingMessage) => boolean,
): RequestHandler {
  const windowMs = Math.max(1, Math.round((createBurst / createsPerSecond) * 1_000));
  const limiter = rateLimit({
    windowMs,
    limit: createBurst,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => clientOf(req),
    // The router is the edge: X-Forwarded-For from a client is not trusted, and needs no warning.
    validate: { xForwardedForHeader: false },
    handler: (_req, res) => {
      sendError(
        res,
        429,
        `too many creates from this address: at most ${createBurst} in ${windowMs / 1_000} s; retry after the time Retry-After says`,
        'rate_limited',
      );
    },
  });
  // Other requests pass at once, not through the limiter's asynchronous steps: waiting on those, a
  // DELETE with a chunked body that the router answers itself got Node's bare 400 instead of its 404 JSON.
  return (req, res, next) => (isCreate(req) ? limiter(req, res, next) : next());
}
