import type { Request, Response } from 'express';
import { PAGES } from '../contracts/api';
import { HttpError } from './http-error';

/** Which page of a list a request asks for: the newest `limit` items whose seq is below `before`. */
export interface PageRequest {
  limit: number;
  /** The cursor of a `Link: rel="next"`: the seq of the oldest item of the page before. */
  before: number | undefined;
}

/** A page of a list, in the order of the log, and the cursor of the next (older) page, if there is one. */
export interface Page<T> {
  items: T[];
  olderBefore: number | undefined;
}

/** `?limit=` and `?before=` of a list request; a wrong one is a 400 naming it. */
export function pageRequestOf(req: Request): PageRequest {
  const limit = single(req, 'limit');
  const before = single(req, 'before');
  const limitError = `limit must be a whole number from 1 to ${PAGES.maxLimit}`;
  const parsedLimit = limit === undefined ? PAGES.defaultLimit : wholeNumber(limit, limitError);
  if (parsedLimit < 1 || parsedLimit > PAGES.maxLimit) throw new HttpError(400, limitError);
  const parsedBefore =
    before === undefined
      ? undefined
      : wholeNumber(before, 'before must be the cursor a Link header names (a positive whole number)');
  if (parsedBefore === 0)
    throw new HttpError(400, 'before must be the cursor a Link header names (a positive whole number)');
  return { limit: parsedLimit, before: parsedBefore };
}

/**
 * The newest `limit` of the items a query reads newest first (asking for one more tells whether there
 * are older ones), put back in the order of the log.
 */
export function pageOf<T extends { seq: number }>(newestFirst: T[], limit: number): Page<T> {
  const items = newestFirst.slice(0, limit).reverse();
  return { items, olderBefore: newestFirst.length > limit ? items[0]?.seq : undefined };
}

/** Says where the next (older) page is, when there is one: `Link: </posts?limit=…&before=…>; rel="next"`. */
export function linkNextPage(
  res: Response,
  path: string,
  { limit }: PageRequest,
  olderBefore: number | undefined,
): void {
  if (olderBefore === undefined) return;
  res.set('link', `<${nextPagePath(path, limit, olderBefore)}>; rel="next"`);
}

export function nextPagePath(path: string, limit: number, before: number): string {
  return `${path}?${new URLSearchParams({ limit: String(limit), before: String(before) }).toString()}`;
}

function single(req: Request, name: string): string | undefined {
  const value: unknown = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, `${name} must be given once`);
  return value;
}

function wholeNumber(text: string, error: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new HttpError(400, error);
  return Number(text);
}
