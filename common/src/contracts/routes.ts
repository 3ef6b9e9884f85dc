/**
 * The public routes of the blog, written the way ingress-nginx reads them with `use-regex`: each path is a
 * case-insensitive regular expression anchored at the start, and the longest path is tried first.
 * The local gateway follows this table, and `npm run generate` writes the cluster's route rules from it
 * (the Ingresses of the ingress-nginx component, the HTTPRoutes of the gateway component). `/posts/stream` (Server-Sent Events)
 * goes where `/posts/?(.*)` would send it anyway; it is listed on its own, as a stream, because in the
 * cluster it has a route of its own, whose settings turn response buffering off and allow an hour-long
 * idle read.
 */
export type PublicBackend = 'posts' | 'comments' | 'query' | 'client';

export interface PublicRoute {
  path: string;
  backend: PublicBackend;
  /** Server-Sent Events: requests held open, which the cluster routes on their own, unbuffered. */
  stream?: true;
}

export const PUBLIC_ROUTES: readonly PublicRoute[] = [
  { path: '/posts/create', backend: 'posts' },
  { path: '/posts/?(.*)/comments', backend: 'comments' },
  { path: '/posts/stream', backend: 'query', stream: true },
  { path: '/posts/?(.*)', backend: 'query' },
  { path: '/?(.*)', backend: 'client' },
];

interface CompiledRoute {
  pattern: RegExp;
  route: PublicRoute;
}

/** Each route table sorted and compiled once: resolving runs on every request through the client server. */
const compiled = new WeakMap<readonly PublicRoute[], CompiledRoute[]>();

function compile(routes: readonly PublicRoute[]): CompiledRoute[] {
  let table = compiled.get(routes);
  if (!table) {
    table = [...routes]
      .sort((a, b) => b.path.length - a.path.length)
      .map((route) => ({ pattern: new RegExp(`^${route.path}`, 'i'), route }));
    compiled.set(routes, table);
  }
  return table;
}

/** The route ingress-nginx would pick for a request path (without the query string). */
export function matchPublicRoute(
  pathname: string,
  routes: readonly PublicRoute[] = PUBLIC_ROUTES,
): PublicRoute | undefined {
  return compile(routes).find(({ pattern }) => pattern.test(pathname))?.route;
}

/** The backend ingress-nginx would pick for a request path (without the query string). */
export function resolvePublicRoute(
  pathname: string,
  routes: readonly PublicRoute[] = PUBLIC_ROUTES,
): PublicBackend | undefined {
  return matchPublicRoute(pathname, routes)?.backend;
}
