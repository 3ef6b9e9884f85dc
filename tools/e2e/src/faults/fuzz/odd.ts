/** Odd methods, paths and reads on every service. */
import type { Random, ServiceName } from '@blog/testkit';
import { type FuzzContext, type FuzzRequest, ODD_METHODS, ODD_PATHS } from './requests';
import { invalidBody } from './creates';

const KNOWN_PATHS: Record<ServiceName, readonly string[]> = {
  'event-bus': ['/events', '/subscribers', '/healthz', '/readyz'],
  posts: ['/posts/create', '/posts', '/events', '/healthz', '/readyz'],
  comments: ['/posts/P/comments', '/events', '/healthz', '/readyz'],
  query: ['/posts', '/events', '/healthz', '/readyz'],
  moderation: ['/events', '/healthz', '/readyz'],
  client: ['/posts/create', '/posts/P/comments', '/posts', '/', '/healthz', '/readyz'],
};
const ALL_SERVICES = Object.keys(KNOWN_PATHS) as ServiceName[];

export function oddMethod(random: Random, context: FuzzContext): FuzzRequest {
  const service = random.pick(ALL_SERVICES);
  const path = random.pick(KNOWN_PATHS[service]).replace('P', context.postIds[0] ?? 'p');
  const method = random.pick([...ODD_METHODS, 'POST']);
  // A POST to a read-only path, or another method to any path; never a usable create or event.
  const body =
    method === 'HEAD' || random.chance(0.4) ? undefined : invalidBody(random, random.pick(['title', 'content']), 200);
  const mustFail = method === 'POST' && (path === '/events' || path.endsWith('/create') || path.endsWith('/comments'));
  return {
    service,
    method,
    path,
    headers: body?.headers ?? {},
    ...(body?.body !== undefined ? { body: body.body } : {}),
    what: `${method} ${service} ${path}${body ? ` (${body.what})` : ''}`,
    mustFail,
  };
}

export function oddPath(random: Random): FuzzRequest {
  const service = random.pick(ALL_SERVICES);
  const path = random.pick(ODD_PATHS);
  const method = random.pick(['GET', 'POST', 'DELETE']);
  const headers: Record<string, string> = random.chance(0.5)
    ? { accept: random.pick(['application/json', 'text/html', '*/*', 'image/png']) }
    : {};
  if (method === 'POST') {
    const body = invalidBody(random, random.pick(['title', 'content']), 200);
    return {
      service,
      method,
      path,
      headers: { ...headers, ...body.headers },
      ...(body.body !== undefined ? { body: body.body } : {}),
      what: `POST ${service} ${path.slice(0, 60)} (${body.what})`,
      mustFail: true,
    };
  }
  return { service, method, path, headers, what: `${method} ${service} ${path.slice(0, 60)}` };
}

export function oddRead(random: Random, context: FuzzContext): FuzzRequest {
  const service = random.pick(['query', 'comments', 'posts', 'client', 'event-bus'] as const);
  const postId = random.pick([...context.postIds.slice(0, 3), '%E2%82%AC', 'a'.repeat(2000), '..', '%2e%2e']);
  const path = random.pick([
    '/posts?limit=-1&after=x',
    `/posts/${postId}/comments?x=%`,
    '/posts?__proto__[x]=1',
    '/subscribers?x=1',
    '/healthz?x=%zz',
  ]);
  return {
    service,
    method: 'GET',
    path,
    headers: { accept: random.pick(['application/json', '*/*', 'text/html']) },
    what: `GET ${service} ${path.slice(0, 60)}`,
  };
}
