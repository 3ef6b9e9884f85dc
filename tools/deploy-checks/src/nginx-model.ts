/**
 * The NGINX configuration each controller writes for posts.com, reduced to what decides routing, limits
 * and streaming, so that a real NGINX can serve it in front of stand-in backends (`npm run test:nginx`):
 *
 * - ingress-nginx with use-regex: one `location ~* ^<path>` per path of the host's Ingresses, longest
 *   first, each with its Ingress's annotations (limit-rps → limit_req with burst = rps × multiplier,
 *   nodelay; limit-connections → limit_conn; proxy-buffering; proxy timeouts); refusals answer 503, and
 *   response buffering is off unless an annotation turns it on (the controller's defaults).
 * - NGINX Gateway Fabric: one `location ~ ^<value>` per RegularExpression path of the host's HTTPRoutes,
 *   longest first; a RateLimitPolicy → limit_req_zone and limit_req; a ProxySettingsPolicy → proxy_buffering
 *   and timeouts; a SnippetsFilter's snippets copied as they are, into http and into the location. NGINX's
 *   own defaults otherwise (buffering on).
 *
 * Upstreams are `127.0.0.1:<port>` of each public backend, found by the Service a path leads to.
 */
import type { PublicBackend } from '@blog/common';
import { nginxGatewayObjects, policiesFor, snippetsFiltersOf, type NginxGatewayObject } from './checks/gateway';
import {
  LIMIT_BURST_MULTIPLIER,
  LIMIT_CONNECTIONS,
  LIMIT_RPS,
  PROXY_BUFFERING,
  PROXY_READ_TIMEOUT,
  PROXY_SEND_TIMEOUT,
} from './checks/ingress';
import { backendService } from './generate/routes';
import { ofKind, type Manifest } from './manifests';

export type Upstreams = Record<PublicBackend, number>;

/** The upstream port of the public backend behind a Service. */
function upstreamOf(manifests: readonly Manifest[], upstreams: Upstreams, serviceName: string | undefined): number {
  const backend = (Object.keys(upstreams) as PublicBackend[]).find(
    (candidate) => backendService(manifests, candidate).name === serviceName,
  );
  if (!backend) throw new Error(`Service ${String(serviceName)} is no public backend`);
  return upstreams[backend];
}

/** What goes into the http block (zones) and the server block (locations). */
export interface ServerConfig {
  http: string[];
  locations: string[];
}

function proxyTo(port: number): string[] {
  return ['proxy_http_version 1.1;', 'proxy_set_header Connection "";', `proxy_pass http://127.0.0.1:${port};`];
}

function zoneName(prefix: string, name: string): string {
  return `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

export function ingressNginxServer(manifests: readonly Manifest[], host: string, upstreams: Upstreams): ServerConfig {
  const http = ['proxy_buffering off;', 'limit_req_status 503;', 'limit_conn_status 503;'];
  const routes = ofKind(manifests, 'Ingress')
    .flatMap((ingress) =>
      (ingress.typed.spec?.rules ?? [])
        .filter((rule) => rule.host === host)
        .flatMap((rule) =>
          (rule.http?.paths ?? []).map((path) => ({
            ingress,
            path: path.path ?? '',
            service: path.backend.service?.name,
          })),
        ),
    )
    .sort((a, b) => b.path.length - a.path.length);
  const zones = new Set<string>();
  const locations = routes.map((route) => {
    const annotations = route.ingress.typed.metadata?.annotations ?? {};
    const lines: string[] = [];
    const rps = Number(annotations[LIMIT_RPS] ?? 0);
    if (rps > 0) {
      const zone = zoneName('rps', route.ingress.name);
      if (!zones.has(zone)) http.push(`limit_req_zone $binary_remote_addr zone=${zone}:5m rate=${rps}r/s;`);
      zones.add(zone);
      lines.push(`limit_req zone=${zone} burst=${rps * Number(annotations[LIMIT_BURST_MULTIPLIER] ?? 5)} nodelay;`);
    }
    const connections = Number(annotations[LIMIT_CONNECTIONS] ?? 0);
    if (connections > 0) {
      const zone = zoneName('conn', route.ingress.name);
      if (!zones.has(zone)) http.push(`limit_conn_zone $binary_remote_addr zone=${zone}:5m;`);
      zones.add(zone);
      lines.push(`limit_conn ${zone} ${connections};`);
    }
    if (annotations[PROXY_BUFFERING] !== undefined) lines.push(`proxy_buffering ${annotations[PROXY_BUFFERING]};`);
    if (annotations[PROXY_READ_TIMEOUT] !== undefined)
      lines.push(`proxy_read_timeout ${annotations[PROXY_READ_TIMEOUT]}s;`);
    if (annotations[PROXY_SEND_TIMEOUT] !== undefined)
      lines.push(`proxy_send_timeout ${annotations[PROXY_SEND_TIMEOUT]}s;`);
    return location(`~* ^${route.path}`, [...lines, ...proxyTo(upstreamOf(manifests, upstreams, route.service))]);
  });
  return { http, locations };
}

export function gatewayNginxServer(manifests: readonly Manifest[], host: string, upstreams: Upstreams): ServerConfig {
  const http: string[] = [];
  const zoneOf = (policy: NginxGatewayObject, index: number) => zoneName('rps', `${policy.name}_${index}`);
  for (const policy of nginxGatewayObjects(manifests, 'RateLimitPolicy')) {
    (policy.spec.rateLimit?.local?.rules ?? []).forEach((limit, index) =>
      http.push(
        `limit_req_zone ${limit.key} zone=${zoneOf(policy, index)}:${limit.zoneSize ?? '10m'} rate=${limit.rate};`,
      ),
    );
  }
  const filtersInHttp = new Set<string>();
  const rules = ofKind(manifests, 'HTTPRoute')
    .filter((httpRoute) => (httpRoute.typed.spec?.hostnames ?? [host]).includes(host))
    .flatMap((httpRoute) =>
      (httpRoute.typed.spec?.rules ?? []).map((rule) => ({
        httpRoute,
        rule,
        value: rule.matches?.[0]?.path?.value ?? '',
      })),
    );
  const locations = rules.sort(gatewayRouteOrder).map(({ httpRoute, rule, value }) => {
    const lines: string[] = [];
    for (const policy of policiesFor(manifests, 'RateLimitPolicy', httpRoute)) {
      const { rateLimit } = policy.spec;
      (rateLimit?.local?.rules ?? []).forEach((limit, index) =>
        lines.push(
          `limit_req zone=${zoneOf(policy, index)}${limit.burst ? ` burst=${limit.burst}` : ''}${limit.noDelay ? ' nodelay' : ''};`,
        ),
      );
      if (rateLimit?.rejectCode) lines.push(`limit_req_status ${rateLimit.rejectCode};`);
    }
    for (const { spec } of policiesFor(manifests, 'ProxySettingsPolicy', httpRoute)) {
      if (spec.buffering?.disable) lines.push('proxy_buffering off;');
      if (spec.timeout?.read) lines.push(`proxy_read_timeout ${spec.timeout.read};`);
      if (spec.timeout?.send) lines.push(`proxy_send_timeout ${spec.timeout.send};`);
    }
    for (const filter of snippetsFiltersOf(manifests, rule)) {
      for (const snippet of filter.spec.snippets ?? []) {
        if (snippet.context === 'http.server.location') lines.push(snippet.value);
        else if (snippet.context === 'http' && !filtersInHttp.has(filter.name)) http.push(snippet.value);
      }
      filtersInHttp.add(filter.name);
    }
    return location(`~ ^${value}`, [
      ...lines,
      ...proxyTo(upstreamOf(manifests, upstreams, rule.backendRefs?.[0]?.name)),
    ]);
  });
  return { http, locations };
}

/** The order NGINX Gateway Fabric writes its regex locations in: longest value first, then alphabetical (the first that matches wins). */
function gatewayRouteOrder(a: { value: string }, b: { value: string }): number {
  return b.value.length - a.value.length || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
}

function location(match: string, lines: readonly string[]): string {
  return `location ${match} {\n${lines.map((line) => `      ${line}`).join('\n')}\n    }`;
}

/** A whole nginx.conf for one server on 127.0.0.1:`port`, with every path under `dir`. */
export function nginxConf(
  server: ServerConfig,
  { port, dir, asRoot }: { port: number; dir: string; asRoot: boolean },
): string {
  return [
    ...(asRoot ? ['user root;'] : []),
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log off;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind}-temp;`),
    ...server.http.map((line) => `  ${line}`),
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    server_name posts.com;',
    ...server.locations.map((block) => `    ${block}`),
    '  }',
    '}',
    '',
  ].join('\n');
}
