/** Request URLs on posts.com and where the public route table sends them: what every router of the blog must do. */
import type { PublicBackend } from '@blog/common';

export const EXPECTED: [string, PublicBackend][] = [
  ['/posts/create', 'posts'],
  ['/POSTS/CREATE', 'posts'],
  ['/posts/create/', 'posts'],
  ['/posts/create?x=1', 'posts'],
  ['/posts/abc/comments', 'comments'],
  ['/posts/abc/comments/', 'comments'],
  ['/posts/abc/comments/x', 'comments'],
  ['/posts', 'query'],
  ['/posts/', 'query'],
  ['/posts/abc', 'query'],
  ['/posts/stream', 'query'],
  ['/POSTS/STREAM', 'query'],
  ['/posts/stream?x=1', 'query'],
  ['/', 'client'],
  ['/assets/index-abc.js', 'client'],
  ['/events', 'client'],
  ['/healthz', 'client'],
  ['/readyz', 'client'],
  ['/metrics', 'client'],
];

export const STREAM_URLS = ['/posts/stream', '/POSTS/STREAM', '/posts/stream?x=1'];

/** The services' internal paths: none may be reachable from outside through a service that serves them. */
export const INTERNAL_PATHS = [
  '/events',
  '/events?after=0',
  '/EVENTS',
  '/healthz',
  '/readyz',
  '/metrics',
  '/subscribers',
];

/** Every URL the real-NGINX test sends, with the backend the route table sends it to: the internal paths fall to the client. */
export const ROUTED: [string, PublicBackend][] = [
  ...EXPECTED,
  ...INTERNAL_PATHS.map((url): [string, PublicBackend] => [url, 'client']),
  ['/Posts/Abc/Comments', 'comments'],
  ['/postsx', 'query'],
];
