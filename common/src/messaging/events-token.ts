import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { errorBody } from '../contracts/error-codes';

/** How services and the bus prove to each other that an event request comes from inside the blog. */
export function eventsAuthorization(token: string): string {
  return `Bearer ${token}`;
}

/** The headers an event request carries: `Authorization` when there is a token, none when intake is open. */
export function eventsHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: eventsAuthorization(token) };
}

/**
 * Lets a request through only when its `Authorization` header is `Bearer <token>`; else 401 JSON.
 *
 * Both sides are hashed before comparing so the comparison takes the same time whatever the length or
 * content of the guess: nothing about the token leaks through response times.
 */
export function requireEventsToken(token: string): RequestHandler {
  const expected = digest(eventsAuthorization(token));
  return (req, res, next) => {
    const given = req.headers.authorization;
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json(
        errorBody(
          given === undefined
            ? 'event requests need the header Authorization: Bearer <EVENTS_TOKEN>'
            : 'wrong events token',
          'unauthorized',
        ),
      );
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
