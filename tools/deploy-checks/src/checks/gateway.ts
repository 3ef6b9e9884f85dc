/**
 * The Gateway API objects of infra/k8s-gateway read the way NGINX Gateway Fabric serves them: the
 * HTTPRoutes of a host as one route table (in the terms of common/src/routes.ts, so it can be compared
 * with PUBLIC_ROUTES and with the Ingress), and the limits and stream settings of its policy objects.
 *
 * How NGINX Gateway Fabric (2.5 and later) matches: every RegularExpression path of a host becomes
 * `location ~ ^<value>` in one NGINX server, ordered by the length of the value, longest first (ties in
 * alphabetical order), and the first that matches wins — the order ingress-nginx uses for use-regex paths.
 * NGINX regexes are case-sensitive unless they say `(?i)`.
 */
import { type PublicBackend, type PublicRoute } from '@blog/common';
import { label, ofKind, type IHTTPRoute, type Manifest, type Typed } from '../manifests';
import { backendOfService, MIN_STREAM_TIMEOUT_SECONDS, PUBLIC_BACKENDS, type ClientLimits } from './ingress';

/** The GatewayClass NGINX Gateway Fabric's chart installs. */
export const GATEWAY_CLASS = 'nginx';
export const NGINX_GATEWAY_GROUP = 'gateway.nginx.org';
const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
const CASE_INSENSITIVE = '(?i)';
/** Fields of an HTTPRoute rule NGINX Gateway Fabric refuses ("Forbidden"): the rule is then not served. */
const UNSUPPORTED_RULE_FIELDS = ['name', 'timeouts', 'retry', 'sessionPersistence'] as const;

type HttpRouteRule = NonNullable<NonNullable<IHTTPRoute['spec']>['rules']>[number];

/** A path of the host's table, with the HTTPRoute and rule that hold it. */
export interface GatewayRoute extends PublicRoute {
  /** The RegularExpression value as written, e.g. `/(?i)posts/create`. */
  value: string;
  route: string;
  rule: number;
}

/** The path of PUBLIC_ROUTES a value stands for: `/(?i)posts/create` → `/posts/create`. */
export function publicPathOf(value: string): string {
  return value.startsWith(`/${CASE_INSENSITIVE}`) ? `/${value.slice(1 + CASE_INSENSITIVE.length)}` : value;
}

/** What NGINX matches for a value, as a JS RegExp (which has no inline flags, so `(?i)` may only follow the first "/"). */
export function compileGatewayPath(value: string): RegExp | string {
  const path = publicPathOf(value);
  if (path.includes(CASE_INSENSITIVE)) return `${value}: "${CASE_INSENSITIVE}" is read here only right after the first "/"`;
  try {
    return new RegExp(`^${path}`, path === value ? '' : 'i');
  } catch {
    return `${value}: not a valid regular expression`;
  }
}

function servesHost(route: IHTTPRoute, host: string): boolean {
  const hostnames = route.spec?.hostnames ?? [];
  return hostnames.length === 0 || hostnames.includes(host);
}

function httpRoutesOf(manifests: readonly Manifest[], host: string): Typed<'HTTPRoute'>[] {
  return ofKind(manifests, 'HTTPRoute').filter((route) => servesHost(route.typed, host));
}

/** Each parentRef names a Gateway here, and a listener of it that takes the host. */
function parentProblems(manifests: readonly Manifest[], route: Typed<'HTTPRoute'>, host: string): string[] {
  const refs = route.typed.spec?.parentRefs ?? [];
  if (refs.length === 0) return [`${label(route)}: no parentRefs: the route is attached to no Gateway`];
  return refs.flatMap((ref) => {
    if ((ref.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP || (ref.kind ?? 'Gateway') !== 'Gateway') return [`${label(route)}: parentRef ${ref.name} is not a Gateway`];
    const gateway = ofKind(manifests, 'Gateway').find((candidate) => candidate.name === ref.name);
    if (!gateway) return [`${label(route)}: parentRef ${ref.name}: no Gateway of that name`];
    const listeners = (gateway.typed.spec?.listeners ?? []).filter((listener) => ref.sectionName === undefined || listener.name === ref.sectionName);
    if (!listeners.some((listener) => listener.hostname === undefined || listener.hostname === host)) return [`${label(route)}: parentRef ${ref.name}: no listener${ref.sectionName ? ` ${ref.sectionName}` : ''} of the Gateway takes host ${host}`];
    return [];
  });
}

/** The public backend of a rule: one Service backend, on one of its ports. */
function ruleBackend(manifests: readonly Manifest[], rule: HttpRouteRule): PublicBackend | string {
  const refs = rule.backendRefs ?? [];
  const [ref] = refs;
  if (!ref || refs.length > 1) return `${refs.length} backendRefs, expected one`;
  if ((ref.group ?? '') !== '' || (ref.kind ?? 'Service') !== 'Service') return `backend ${ref.name} is not a Service`;
  const service = ofKind(manifests, 'Service').find((candidate) => candidate.name === ref.name);
  if (service && !(service.typed.spec?.ports ?? []).some((port) => port.port === ref.port)) return `Service ${ref.name} has no port ${String(ref.port)}`;
  const backend = backendOfService(manifests, ref.name);
  return PUBLIC_BACKENDS.includes(backend as PublicBackend) ? (backend as PublicBackend) : backend;
}

/** Every HTTPRoute rule of `host` as one table; a rule that is not one RegularExpression path to one public Service is a problem. */
export function httpRouteTable(manifests: readonly Manifest[], host: string): { routes: GatewayRoute[]; problems: string[] } {
  const routes: GatewayRoute[] = [];
  const problems: string[] = [];
  for (const route of httpRoutesOf(manifests, host)) {
    problems.push(...parentProblems(manifests, route, host));
    (route.typed.spec?.rules ?? []).forEach((rule, index) => {
      const where = `${label(route)} spec.rules[${index}]`;
      const matches = rule.matches ?? [];
      const [match] = matches;
      const path = match?.path;
      if (!match || matches.length > 1 || match.headers || match.method || match.queryParams || path?.type !== 'RegularExpression' || path.value === undefined) {
        problems.push(`${where}: expected one match on a RegularExpression path only (the form of PUBLIC_ROUTES)`);
        return;
      }
      const backend = ruleBackend(manifests, rule);
      if (!PUBLIC_BACKENDS.includes(backend as PublicBackend)) {
        problems.push(`${where} (${path.value}): ${backend}`);
        return;
      }
      const held = routes.find((other) => other.value === path.value);
      if (held) problems.push(`${where}: path ${path.value} is also in HTTPRoute ${held.route}`);
      else routes.push({ path: publicPathOf(path.value), backend: backend as PublicBackend, value: path.value, route: route.name, rule: index });
    });
  }
  return { routes, problems };
}

/** The order NGINX Gateway Fabric writes its regex locations in: longest value first, then alphabetical. */
export function gatewayRouteOrder(a: GatewayRoute, b: GatewayRoute): number {
  return b.value.length - a.value.length || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
}

/** The path NGINX Gateway Fabric picks for a request URL (the first in gatewayRouteOrder that matches), if any. */
export function gatewayMatchingRoute(routes: readonly GatewayRoute[], requestUrl: string): GatewayRoute | undefined {
  const pathname = new URL(requestUrl, 'http://gateway.invalid').pathname;
  return [...routes].sort(gatewayRouteOrder).find((route) => {
    const pattern = compileGatewayPath(route.value);
    return typeof pattern !== 'string' && pattern.test(pathname);
  });
}

interface TargetRef {
  group: string;
  kind: string;
  name: string;
}

/** An NGINX Gateway Fabric object as these checks read it (its schema is checked by the strict schema check). */
export interface NginxGatewayObject {
  kind: string;
  name: string;
  manifest: Manifest;
  spec: {
    targetRefs?: TargetRef[];
    rateLimit?: { rejectCode?: number; local?: { rules?: { key: string; rate: string; burst?: number; noDelay?: boolean; zoneSize?: string }[] } };
    buffering?: { disable?: boolean };
    timeout?: { read?: string; send?: string };
    snippets?: { context: string; value: string }[];
  };
}

export function nginxGatewayObjects(manifests: readonly Manifest[], kind: string): NginxGatewayObject[] {
  return manifests
    .filter((manifest) => manifest.object.kind === kind && String(manifest.object.apiVersion).startsWith(`${NGINX_GATEWAY_GROUP}/`))
    .map((manifest) => ({ kind, name: String(manifest.object.metadata?.name), manifest, spec: (manifest.object.spec ?? {}) as NginxGatewayObject['spec'] }));
}

/** The policies of `kind` that apply to an HTTPRoute: those aimed at it, else those aimed at its Gateways (NGINX Gateway Fabric's inheritance). */
export function policiesFor(manifests: readonly Manifest[], kind: string, route: Typed<'HTTPRoute'>): NginxGatewayObject[] {
  const all = nginxGatewayObjects(manifests, kind);
  const aimedAt = (targetKind: string, names: readonly string[]) => all.filter((policy) => (policy.spec.targetRefs ?? []).some((ref) => ref.group === GATEWAY_API_GROUP && ref.kind === targetKind && names.includes(ref.name)));
  const own = aimedAt('HTTPRoute', [route.name]);
  return own.length > 0 ? own : aimedAt('Gateway', (route.typed.spec?.parentRefs ?? []).map((ref) => ref.name));
}

/** Seconds of an NGINX duration (`1h`, `3600s`, `3600`), or undefined. */
export function nginxDurationSeconds(value: string | undefined): number | undefined {
  const match = /^(\d{1,4})(ms|s|m|h)?$/.exec(value ?? '');
  if (!match) return undefined;
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] ?? 's'] ?? 1;
  return Number(match[1]) * factor;
}

/** The HTTPRoute and rule that hold a path of the host's table. */
export function ruleOf(manifests: readonly Manifest[], route: GatewayRoute): { httpRoute: Typed<'HTTPRoute'>; rule: HttpRouteRule } | undefined {
  const httpRoute = ofKind(manifests, 'HTTPRoute').find((candidate) => candidate.name === route.route);
  const rule = httpRoute?.typed.spec?.rules?.[route.rule];
  return httpRoute && rule ? { httpRoute, rule } : undefined;
}

/** The SnippetsFilters a rule names in its ExtensionRef filters. */
export function snippetsFiltersOf(manifests: readonly Manifest[], rule: HttpRouteRule): NginxGatewayObject[] {
  const names = (rule.filters ?? []).filter((filter) => filter.type === 'ExtensionRef' && filter.extensionRef?.group === NGINX_GATEWAY_GROUP && filter.extensionRef.kind === 'SnippetsFilter').map((filter) => filter.extensionRef?.name);
  return nginxGatewayObjects(manifests, 'SnippetsFilter').filter((candidate) => names.includes(candidate.name));
}

/** The route serving a request URL on the host, with its HTTPRoute, or a problem. */
function servingRoute(manifests: readonly Manifest[], host: string, requestUrl: string): { route: GatewayRoute; httpRoute: Typed<'HTTPRoute'>; rule: HttpRouteRule; where: string } | string {
  const route = gatewayMatchingRoute(httpRouteTable(manifests, host).routes, requestUrl);
  const held = route && ruleOf(manifests, route);
  if (!route || !held) return `${requestUrl}: no path of host ${host} matches`;
  return { route, ...held, where: `${requestUrl} (path ${route.value} of HTTPRoute ${route.route})` };
}

/**
 * A Server-Sent Events path passes through NGINX as it is written: a ProxySettingsPolicy on its HTTPRoute
 * turns response buffering off and allows hour-long reads and sends. Policies apply to a whole route, so
 * that route holds nothing but streams.
 */
export function checkGatewayStreamingRoute(manifests: readonly Manifest[], host: string, requestUrl: string): string[] {
  const found = servingRoute(manifests, host, requestUrl);
  if (typeof found === 'string') return [found];
  const { route, httpRoute, where } = found;
  const problems: string[] = [];
  const policies = policiesFor(manifests, 'ProxySettingsPolicy', httpRoute);
  if (!policies.some((policy) => policy.spec.buffering?.disable === true)) problems.push(`${where}: no ProxySettingsPolicy with buffering.disable: true applies: NGINX would buffer the stream`);
  for (const field of ['read', 'send'] as const) {
    const seconds = Math.max(0, ...policies.map((policy) => nginxDurationSeconds(policy.spec.timeout?.[field]) ?? 0));
    if (seconds < MIN_STREAM_TIMEOUT_SECONDS) problems.push(`${where}: no ProxySettingsPolicy sets timeout.${field} to at least ${MIN_STREAM_TIMEOUT_SECONDS} s (NGINX's default is 60 s)`);
  }
  const others = httpRouteTable(manifests, host).routes.filter((other) => other.route === route.route && other.value !== route.value);
  if (others.length > 0) problems.push(`${where}: the HTTPRoute also holds ${others.map((other) => other.value).join(', ')}, which would not be buffered either`);
  return problems;
}

const LIMIT_CONN_ZONE = /^\s*limit_conn_zone\s+(\S+)\s+zone=([\w-]+):\w+\s*;/;
const LIMIT_CONN = /(?:^|;)\s*limit_conn\s+([\w-]+)\s+(\d+)\s*;/;

/** The connection limit a SnippetsFilter of the rule adds (limit_conn_zone per client address + limit_conn), if any. */
function connectionLimit(manifests: readonly Manifest[], rule: HttpRouteRule, where: string, problems: string[]): number | undefined {
  for (const filter of snippetsFiltersOf(manifests, rule)) {
    const snippet = (context: string) => (filter.spec.snippets ?? []).find((candidate) => candidate.context === context)?.value ?? '';
    const zone = LIMIT_CONN_ZONE.exec(snippet('http'));
    const limit = LIMIT_CONN.exec(snippet('http.server.location'));
    if (!limit) continue;
    if (!zone || zone[2] !== limit[1]) problems.push(`${where}: SnippetsFilter ${filter.name}: limit_conn ${limit[1]} has no limit_conn_zone of that name in its http snippet`);
    else if (zone[1] !== '$binary_remote_addr') problems.push(`${where}: SnippetsFilter ${filter.name}: zone ${zone[2]} counts by ${zone[1]}, not by client address ($binary_remote_addr)`);
    else return Number(limit[2]);
  }
  return undefined;
}

/**
 * The limits NGINX Gateway Fabric applies to a request URL, in the terms of ingressClientLimits: the
 * RateLimitPolicy that applies to its route (a per-address rule, served at once up to its burst), and a
 * connection limit from a SnippetsFilter of its rule.
 */
export function gatewayClientLimits(manifests: readonly Manifest[], host: string, requestUrl: string): { limits: ClientLimits; problems: string[] } {
  const found = servingRoute(manifests, host, requestUrl);
  if (typeof found === 'string') return { limits: {}, problems: [found] };
  const { httpRoute, rule, where } = found;
  const problems: string[] = [];
  const limits: ClientLimits = {};
  const rules = policiesFor(manifests, 'RateLimitPolicy', httpRoute).flatMap((policy) => (policy.spec.rateLimit?.local?.rules ?? []).map((item) => ({ policy: policy.name, ...item })));
  for (const item of rules) {
    const rate = /^(\d+)r\/([sm])$/.exec(item.rate);
    if (item.key !== '$binary_remote_addr') problems.push(`${where}: RateLimitPolicy ${item.policy} counts by ${item.key}, not by client address ($binary_remote_addr)`);
    else if (item.noDelay !== true) problems.push(`${where}: RateLimitPolicy ${item.policy}: without noDelay, NGINX delays the burst instead of serving it at once (ingress-nginx serves it at once)`);
    else if (rate) {
      limits.requestsPerSecond = Number(rate[1]) / (rate[2] === 'm' ? 60 : 1);
      limits.burst = item.burst ?? 0;
    }
  }
  if (rules.length > 1) problems.push(`${where}: ${rules.length} rate limit rules apply; expected one`);
  const connections = connectionLimit(manifests, rule, where, problems);
  if (connections !== undefined) limits.connections = connections;
  return { limits, problems };
}

/**
 * What the route table and the policies depend on: the Gateway's class; no rule field NGINX Gateway
 * Fabric refuses; RegularExpression paths NGINX can take (NGINX Gateway Fabric refuses whitespace, "{",
 * "}" and ";"); every filter and policy target exists; one snippet per context (the CRD's rule).
 */
export function checkGatewayConventions(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const gateway of ofKind(manifests, 'Gateway')) {
    if (gateway.typed.spec?.gatewayClassName !== GATEWAY_CLASS) problems.push(`${label(gateway)}: gatewayClassName is ${JSON.stringify(gateway.typed.spec?.gatewayClassName)}, expected "${GATEWAY_CLASS}" (NGINX Gateway Fabric)`);
  }
  const snippetsFilters = nginxGatewayObjects(manifests, 'SnippetsFilter');
  for (const route of ofKind(manifests, 'HTTPRoute')) {
    (route.typed.spec?.rules ?? []).forEach((rule, index) => {
      const where = `${label(route)} spec.rules[${index}]`;
      for (const field of UNSUPPORTED_RULE_FIELDS) if ((rule as Record<string, unknown>)[field] !== undefined) problems.push(`${where}: ${field} is set, which NGINX Gateway Fabric refuses (the rule would not be served)`);
      for (const match of rule.matches ?? []) {
        const value = match.path?.type === 'RegularExpression' ? match.path.value : undefined;
        if (value === undefined) continue;
        if (/[\s{};]/.test(value)) problems.push(`${where}: path ${value} has whitespace, "{", "}" or ";", which NGINX Gateway Fabric refuses`);
        const compiled = compileGatewayPath(value);
        if (typeof compiled === 'string') problems.push(`${where}: ${compiled}`);
      }
      for (const filter of rule.filters ?? []) {
        const ref = filter.extensionRef;
        if (filter.type !== 'ExtensionRef' || !ref) continue;
        if (ref.group !== NGINX_GATEWAY_GROUP || ref.kind !== 'SnippetsFilter' || !snippetsFilters.some((candidate) => candidate.name === ref.name)) problems.push(`${where}: extensionRef ${ref.group}/${ref.kind} ${ref.name} is no SnippetsFilter here`);
      }
    });
  }
  const targets = new Set([...ofKind(manifests, 'Gateway').map((g) => `Gateway/${g.name}`), ...ofKind(manifests, 'HTTPRoute').map((r) => `HTTPRoute/${r.name}`)]);
  for (const kind of ['RateLimitPolicy', 'ProxySettingsPolicy']) {
    for (const policy of nginxGatewayObjects(manifests, kind)) {
      for (const ref of policy.spec.targetRefs ?? []) {
        if (ref.group !== GATEWAY_API_GROUP || !targets.has(`${ref.kind}/${ref.name}`)) problems.push(`${label(policy.manifest)}: targetRef ${ref.group}/${ref.kind} ${ref.name} is no Gateway or HTTPRoute here`);
      }
    }
  }
  for (const filter of snippetsFilters) {
    const contexts = (filter.spec.snippets ?? []).map((snippet) => snippet.context);
    const twice = contexts.filter((context, index) => contexts.indexOf(context) !== index);
    if (twice.length > 0) problems.push(`${label(filter.manifest)}: more than one snippet for context ${twice.join(', ')}`);
  }
  return problems;
}
