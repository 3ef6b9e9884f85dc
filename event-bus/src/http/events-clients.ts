import { createHash, timingSafeEqual } from 'node:crypto';
import {
  errorBody,
  eventsAuthorization,
  eventsTokenVariable,
  EVENTS_CLIENTS,
  HttpError,
  PUBLISHED_EVENT_TYPES,
  type EventsClientName,
} from '@blog/common';
import type { RequestHandler, Response } from 'express';

/**
 * Who calls the bus's `/events…` and `/snapshots…`:
 * - `operator`: the holder of the bus's own EVENTS_TOKEN (the older shared token): publishes any event
 *   type, known or not, and reads everything. No service should hold it.
 * - a service (posts, comments, moderation, query) with its own token (`<NAME>_EVENTS_TOKEN`): reads the
 *   log, keeps its own snapshots, and publishes only its own event types (PUBLISHED_EVENT_TYPES).
 * - `open`: anyone, when the bus has no token at all (open intake, for course services: unsafe).
 */
export type EventsClient = { kind: 'operator' } | { kind: 'open' } | { kind: 'service'; name: EventsClientName };

export type ServiceTokens = Partial<Record<EventsClientName, string>>;

export class EventsClients {
  private readonly known: { client: EventsClient; digest: Buffer }[];

  constructor(operatorToken: string | undefined, serviceTokens: ServiceTokens = {}) {
    this.known = [
      ...(operatorToken === undefined
        ? []
        : [{ client: { kind: 'operator' } as const, digest: digest(eventsAuthorization(operatorToken)) }]),
      ...EVENTS_CLIENTS.flatMap((name) => {
        const token = serviceTokens[name];
        return token === undefined
          ? []
          : [{ client: { kind: 'service', name } as const, digest: digest(eventsAuthorization(token)) }];
      }),
    ];
  }

  /** Whether the bus takes event requests from anyone (no token set at all). */
  get open(): boolean {
    return this.known.length === 0;
  }

  /**
   * The client an `Authorization` header names, if any. Every known token is compared, in the same time
   * whatever the guess, so response times tell nothing about the tokens.
   */
  identify(authorization: string | undefined): EventsClient | undefined {
    if (this.open) return { kind: 'open' };
    if (authorization === undefined) return undefined;
    const given = digest(authorization);
    let found: EventsClient | undefined;
    for (const { client, digest: expected } of this.known) {
      if (timingSafeEqual(given, expected)) found ??= client;
    }
    return found;
  }
}

/** Lets a request through when its token is a known client's (kept for the routes), else 401 JSON. */
export function requireEventsClient(clients: EventsClients): RequestHandler {
  return (req, res, next) => {
    const given = req.headers.authorization;
    const client = clients.identify(given);
    if (client !== undefined) {
      res.locals.eventsClient = client;
      return next();
    }
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json(
        errorBody(
          given === undefined ? 'event requests need the header Authorization: Bearer <token>' : 'unknown events token',
          'unauthorized',
        ),
      );
  };
}

/** The client `requireEventsClient` identified; open when no check ran (a bus without tokens). */
export function eventsClientOf(res: Response): EventsClient {
  return (res.locals.eventsClient as EventsClient | undefined) ?? { kind: 'open' };
}

/** Throws a 403 naming the type and the client unless the client may publish events of that type. */
export function authorizePublish(client: EventsClient, type: string): void {
  if (client.kind !== 'service') return;
  const allowed: readonly string[] = PUBLISHED_EVENT_TYPES[client.name];
  if (allowed.includes(type)) return;
  const may = allowed.length === 0 ? 'publishes no events' : `may publish only ${allowed.join(', ')}`;
  throw new HttpError(403, `${client.name} (${eventsTokenVariable(client.name)}) may not publish ${type}: it ${may}`);
}

/** Throws a 403 unless the client may read and write the snapshots of `service` (a service: its own only). */
export function authorizeSnapshots(client: EventsClient, service: string): void {
  if (client.kind !== 'service' || client.name === service) return;
  throw new HttpError(
    403,
    `${client.name} (${eventsTokenVariable(client.name)}) may not use the snapshots of ${service}, only its own`,
  );
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
