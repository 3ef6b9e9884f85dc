import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/** How services and the bus prove to each other that an event request comes from inside the blog. */
export function eventsAuthorization(token: string): string {
  return `Bearer ${token}`;
}

/**
 * Lets a request through only when its `Authorization` header is `Bearer <token>`; else 401 JSON. With no
 * token configured everything passes, as in the course version.
 *
 * Both sides are hashed before comparing so the comparison takes the same time whatever the length or
 * content of the guess: nothing about the token leaks through response times.
 */
export function requireEventsToken(token: string | undefined): RequestHandler {
  if (token === undefined) return (_req, _res, next) => next();
  const expected = digest(eventsAuthorization(token));
  return (req, res, next) => {
    const given = req.headers.authorization;
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json({ error: given === undefined ? 'event requests need the header Authorization: Bearer <EVENTS_TOKEN>' : 'wrong events token' });
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
