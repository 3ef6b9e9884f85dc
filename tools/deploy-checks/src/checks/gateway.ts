/**
 * The Gateway API objects of the gateway component (infra/components/gateway) as NGINX Gateway Fabric serves them: the conventions their
 * paths depend on, and the settings that apply to the rule holding each route (its HTTPRoute's policies and
 * the rule's filters), in the terms of the Ingress checks so that both can be compared: a stream's
 * buffering and timeouts, and the limits on each client address. Which rules the HTTPRoutes hold is written
 * by `npm run generate` from PUBLIC_ROUTES (src/generate/routes.ts).
 *
 * NGINX regexes are case-sensitive unless they say `(?i)`.
 */
import { label, ofKind, type IHTTPRoute, type Manifest, type Typed } from '../manifests';
import { MIN_STREAM_TIMEOUT_SECONDS, type ClientLimits } from './ingress';

/** The GatewayClass NGINX Gateway Fabric's chart installs. */
export const GATEWAY_CLASS = 'nginx';
export const NGINX_GATEWAY_GROUP = 'gateway.nginx.org';
const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
const CASE_INSENSITIVE = '(?i)';
/** Fields of an HTTPRoute rule NGINX Gateway Fabric refuses ("Forbidden"): the rule is then not served. */
const UNSUPPORTED_RULE_FIELDS = ['name', 'timeouts', 'retry', 'sessionPersistence'] as const;

type HttpRouteRule = NonNullable<NonNullable<IHTTPRoute['spec']>['rules']>[number];

/** The path of PUBLIC_ROUTES a value stands for: `/(?i)posts/create` → `/posts/create`. */
export function publicPathOf(value: string): string {
  return value.startsWith(`/${CASE_INSENSITIVE}`) ? `/${value.slice(1 + CASE_INSENSITIVE.length)}` : value;
}

/** What NGINX matches for a value, as a JS RegExp (which has no inline flags, so `(?i)` may only follow the first "/"). */
export function compileGatewayPath(value: string): RegExp | string {
  const path = publicPathOf(value);
  if (path.includes(CASE_INSENSITIVE))
    return `${value}: "${CASE_INSENSITIVE}" is read here only right after the first "/"`;
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

/** Each parentRef names a Gateway here, and a listener of it that takes the host (any host when undefined). */
function parentProblems(manifests: readonly Manifest[], route: Typed<'HTTPRoute'>, host: string | undefined): string[] {
  const refs = route.typed.spec?.parentRefs ?? [];
  if (refs.length === 0) return [`${label(route)}: no parentRefs: the route is attached to no Gateway`];
  return refs.flatMap((ref) => {
    if ((ref.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP || (ref.kind ?? 'Gateway') !== 'Gateway')
      return [`${label(route)}: parentRef ${ref.name} is not a Gateway`];
    const gateway = ofKind(manifests, 'Gateway').find((candidate) => candidate.name === ref.name);
    if (!gateway) return [`${label(route)}: parentRef ${ref.name}: no Gateway of that name`];
    const listeners = (gateway.typed.spec?.listeners ?? []).filter(
      (listener) => ref.sectionName === undefined || listener.name === ref.sectionName,
    );
    const listener = `listener${ref.sectionName ? ` ${ref.sectionName}` : ''}`;
    if (listeners.length === 0) return [`${label(route)}: parentRef ${ref.name}: no ${listener} of the Gateway`];
    if (
      host !== undefined &&
      !listeners.some((candidate) => candidate.hostname === undefined || candidate.hostname === host)
    )
      return [`${label(route)}: parentRef ${ref.name}: no ${listener} of the Gateway takes host ${host}`];
    return [];
  });
}

/** The HTTPRoute rule holding a path of PUBLIC_ROUTES for `host` (a RegularExpression match standing for it), or a problem. */
export function ruleHolding(
  manifests: readonly Manifest[],
  host: string,
  path: string,
): { httpRoute: Typed<'HTTPRoute'>; rule: HttpRouteRule; where: string } | string {
  const holding = ofKind(manifests, 'HTTPRoute')
    .filter((route) => servesHost(route.typed, host))
    .flatMap((httpRoute) =>
      (httpRoute.typed.spec?.rules ?? []).flatMap((rule) => {
        const value = rule.matches?.find(
          (match) => match.path?.type === 'RegularExpression' && publicPathOf(match.path.value ?? '') === path,
        )?.path?.value;
        return value === undefined ? [] : [{ httpRoute, rule, where: `path ${value} (HTTPRoute ${httpRoute.name})` }];
      }),
    );
  const [found, ...more] = holding;
  if (!found) return `path ${path}: no HTTPRoute rule of host ${host} holds it`;
  if (more.length > 0)
    return `path ${path}: held by ${holding.map((held) => `HTTPRoute ${held.httpRoute.name}`).join(' and ')}`;
  return found;
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
    rateLimit?: {
      rejectCode?: number;
      local?: { rules?: { key: string; rate: string; burst?: number; noDelay?: boolean; zoneSize?: string }[] };
    };
    buffering?: { disable?: boolean };
    timeout?: { read?: string; send?: string };
    snippets?: { context: string; value: string }[];
  };
}

export function nginxGatewayObjects(manifests: readonly Manifest[], kind: string): NginxGatewayObject[] {
  return manifests
    .filter(
      (manifest) =>
        manifest.object.kind === kind && String(manifest.object.apiVersion).startsWith(`${NGINX_GATEWAY_GROUP}/`),
    )
    .map((manifest) => ({
      kind,
      name: String(manifest.object.metadata?.name),
      manifest,
      spec: manifest.object.spec ?? {},
    }));
}

/** The policies of `kind` that apply to an HTTPRoute: those aimed at it, else those aimed at its Gateways (NGINX Gateway Fabric's inheritance). */
export function policiesFor(
  manifests: readonly Manifest[],
  kind: string,
  route: Typed<'HTTPRoute'>,
): NginxGatewayObject[] {
  const all = nginxGatewayObjects(manifests, kind);
  const aimedAt = (targetKind: string, names: readonly string[]) =>
    all.filter((policy) =>
      (policy.spec.targetRefs ?? []).some(
        (ref) => ref.group === GATEWAY_API_GROUP && ref.kind === targetKind && names.includes(ref.name),
      ),
    );
  const own = aimedAt('HTTPRoute', [route.name]);
  return own.length > 0
    ? own
    : aimedAt(
        'Gateway',
        (route.typed.spec?.parentRefs ?? []).map((ref) => ref.name),
      );
}

/** Seconds of an NGINX duration (`1h`, `3600s`, `3600`), or undefined. */
export function nginxDurationSeconds(value: string | undefined): number | undefined {
  const match = /^(\d{1,4})(ms|s|m|h)?$/.exec(value ?? '');
  if (!match) return undefined;
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] ?? 's'] ?? 1;
  return Number(match[1]) * factor;
}

/** The SnippetsFilters a rule names in its ExtensionRef filters. */
export function snippetsFiltersOf(manifests: readonly Manifest[], rule: HttpRouteRule): NginxGatewayObject[] {
  const names = (rule.filters ?? [])
    .filter(
      (filter) =>
        filter.type === 'ExtensionRef' &&
        filter.extensionRef?.group === NGINX_GATEWAY_GROUP &&
        filter.extensionRef.kind === 'SnippetsFilter',
    )
    .map((filter) => filter.extensionRef?.name);
  return nginxGatewayObjects(manifests, 'SnippetsFilter').filter((candidate) => names.includes(candidate.name));
}

/**
 * A Server-Sent Events path passes through NGINX as it is written: a ProxySettingsPolicy on its HTTPRoute
 * turns response buffering off and allows hour-long reads and sends. Policies apply to a whole route, so
 * that route holds nothing but streams.
 */
export function checkGatewayStreamingRoute(manifests: readonly Manifest[], host: string, path: string): string[] {
  const found = ruleHolding(manifests, host, path);
  if (typeof found === 'string') return [found];
  const { httpRoute, rule, where } = found;
  const problems: string[] = [];
  const policies = policiesFor(manifests, 'ProxySettingsPolicy', httpRoute);
  if (!policies.some((policy) => policy.spec.buffering?.disable === true))
    problems.push(
      `${where}: no ProxySettingsPolicy with buffering.disable: true applies: NGINX would buffer the stream`,
    );
  for (const field of ['read', 'send'] as const) {
    const seconds = Math.max(0, ...policies.map((policy) => nginxDurationSeconds(policy.spec.timeout?.[field]) ?? 0));
    if (seconds < MIN_STREAM_TIMEOUT_SECONDS)
      problems.push(
        `${where}: no ProxySettingsPolicy sets timeout.${field} to at least ${MIN_STREAM_TIMEOUT_SECONDS} s (NGINX's default is 60 s)`,
      );
  }
  const others = (httpRoute.typed.spec?.rules ?? [])
    .filter((other) => other !== rule)
    .flatMap((other) => (other.matches ?? []).map((match) => match.path?.value ?? ''));
  if (others.length > 0)
    problems.push(`${where}: the HTTPRoute also holds ${others.join(', ')}, which would not be buffered either`);
  return problems;
}

const LIMIT_CONN_ZONE = /^\s*limit_conn_zone\s+(\S+)\s+zone=([\w-]+):\w+\s*;/;
const LIMIT_CONN = /(?:^|;)\s*limit_conn\s+([\w-]+)\s+(\d+)\s*;/;

/** The connection limit a SnippetsFilter of the rule adds (limit_conn_zone per client address + limit_conn), if any. */
function connectionLimit(
  manifests: readonly Manifest[],
  rule: HttpRouteRule,
  where: string,
  problems: string[],
): number | undefined {
  for (const filter of snippetsFiltersOf(manifests, rule)) {
    const snippet = (context: string) =>
      (filter.spec.snippets ?? []).find((candidate) => candidate.context === context)?.value ?? '';
    const zone = LIMIT_CONN_ZONE.exec(snippet('http'));
    const limit = LIMIT_CONN.exec(snippet('http.server.location'));
    if (!limit) continue;
    if (!zone || zone[2] !== limit[1])
      problems.push(
        `${where}: SnippetsFilter ${filter.name}: limit_conn ${limit[1]} has no limit_conn_zone of that name in its http snippet`,
      );
    else if (zone[1] !== '$binary_remote_addr')
      problems.push(
        `${where}: SnippetsFilter ${filter.name}: zone ${zone[2]} counts by ${zone[1]}, not by client address ($binary_remote_addr)`,
      );
    else return Number(limit[2]);
  }
  return undefined;
}

/**
 * The limits NGINX Gateway Fabric applies to a path, in the terms of ingressClientLimits: the
 * RateLimitPolicy that applies to its route (a per-address rule, served at once up to its burst), and a
 * connection limit from a SnippetsFilter of its rule.
 */
export function gatewayClientLimits(
  manifests: readonly Manifest[],
  host: string,
  path: string,
): { limits: ClientLimits; problems: string[] } {
  const found = ruleHolding(manifests, host, path);
  if (typeof found === 'string') return { limits: {}, problems: [found] };
  const { httpRoute, rule, where } = found;
  const problems: string[] = [];
  const limits: ClientLimits = {};
  const rules = policiesFor(manifests, 'RateLimitPolicy', httpRoute).flatMap((policy) =>
    (policy.spec.rateLimit?.local?.rules ?? []).map((item) => ({ policy: policy.name, ...item })),
  );
  for (const item of rules) {
    const rate = /^(\d+)r\/([sm])$/.exec(item.rate);
    if (item.key !== '$binary_remote_addr')
      problems.push(
        `${where}: RateLimitPolicy ${item.policy} counts by ${item.key}, not by client address ($binary_remote_addr)`,
      );
    else if (item.noDelay !== true)
      problems.push(
        `${where}: RateLimitPolicy ${item.policy}: without noDelay, NGINX delays the burst instead of serving it at once (ingress-nginx serves it at once)`,
      );
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
 * What the routes and the policies depend on: the Gateway's class; each HTTPRoute attached to a listener
 * of a Gateway here that takes its hosts; no rule field NGINX Gateway Fabric refuses; RegularExpression
 * paths NGINX can take (NGINX Gateway Fabric refuses whitespace, "{", "}" and ";"); every filter and
 * policy target exists; one snippet per context (the CRD's rule).
 */
export function checkGatewayConventions(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const gateway of ofKind(manifests, 'Gateway')) {
    if (gateway.typed.spec?.gatewayClassName !== GATEWAY_CLASS)
      problems.push(
        `${label(gateway)}: gatewayClassName is ${JSON.stringify(gateway.typed.spec?.gatewayClassName)}, expected "${GATEWAY_CLASS}" (NGINX Gateway Fabric)`,
      );
  }
  const snippetsFilters = nginxGatewayObjects(manifests, 'SnippetsFilter');
  for (const route of ofKind(manifests, 'HTTPRoute')) {
    const hostnames = route.typed.spec?.hostnames ?? [];
    for (const host of hostnames.length > 0 ? hostnames : [undefined])
      problems.push(...parentProblems(manifests, route, host));
    (route.typed.spec?.rules ?? []).forEach((rule, index) => {
      const where = `${label(route)} spec.rules[${index}]`;
      for (const field of UNSUPPORTED_RULE_FIELDS)
        if ((rule as Record<string, unknown>)[field] !== undefined)
          problems.push(`${where}: ${field} is set, which NGINX Gateway Fabric refuses (the rule would not be served)`);
      for (const match of rule.matches ?? []) {
        const value = match.path?.type === 'RegularExpression' ? match.path.value : undefined;
        if (value === undefined) continue;
        if (/[\s{};]/.test(value))
          problems.push(`${where}: path ${value} has whitespace, "{", "}" or ";", which NGINX Gateway Fabric refuses`);
        const compiled = compileGatewayPath(value);
        if (typeof compiled === 'string') problems.push(`${where}: ${compiled}`);
      }
      for (const filter of rule.filters ?? []) {
        const ref = filter.extensionRef;
        if (filter.type !== 'ExtensionRef' || !ref) continue;
        if (
          ref.group !== NGINX_GATEWAY_GROUP ||
          ref.kind !== 'SnippetsFilter' ||
          !snippetsFilters.some((candidate) => candidate.name === ref.name)
        )
          problems.push(`${where}: extensionRef ${ref.group}/${ref.kind} ${ref.name} is no SnippetsFilter here`);
      }
    });
  }
  const targets = new Set([
    ...ofKind(manifests, 'Gateway').map((g) => `Gateway/${g.name}`),
    ...ofKind(manifests, 'HTTPRoute').map((r) => `HTTPRoute/${r.name}`),
  ]);
  for (const kind of ['RateLimitPolicy', 'ProxySettingsPolicy']) {
    for (const policy of nginxGatewayObjects(manifests, kind)) {
      for (const ref of policy.spec.targetRefs ?? []) {
        if (ref.group !== GATEWAY_API_GROUP || !targets.has(`${ref.kind}/${ref.name}`))
          problems.push(
            `${label(policy.manifest)}: targetRef ${ref.group}/${ref.kind} ${ref.name} is no Gateway or HTTPRoute here`,
          );
      }
    }
  }
  for (const filter of snippetsFilters) {
    const contexts = (filter.spec.snippets ?? []).map((snippet) => snippet.context);
    const twice = contexts.filter((context, index) => contexts.indexOf(context) !== index);
    if (twice.length > 0)
      problems.push(`${label(filter.manifest)}: more than one snippet for context ${twice.join(', ')}`);
  }
  return problems;
}
