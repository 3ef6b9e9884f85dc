/**
 * The Ingresses of infra/k8s as ingress-nginx serves them: the conventions their paths depend on, and the
 * settings of the Ingress holding each route (its annotations apply to every path it holds): a stream's
 * buffering and timeouts, and the limits on each client address. Which paths the Ingresses hold is written
 * by `npm run generate` from PUBLIC_ROUTES (src/generate/routes.ts).
 */
import { label, ofKind, type IIngress, type Manifest, type Typed } from '../manifests';

export const USE_REGEX = 'nginx.ingress.kubernetes.io/use-regex';

/**
 * The conventions the route table depends on: the nginx class, use-regex on (else ingress-nginx reads
 * the paths as prefixes), ImplementationSpecific paths (the only pathType that may hold a regex), every
 * regex compiles, and no rewrite-target (which would change the path the services see).
 */
export function checkIngressConventions(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const ingress of ofKind(manifests, 'Ingress')) {
    const where = label(ingress);
    const spec: IIngress['spec'] = ingress.typed.spec;
    const annotations = ingress.typed.metadata?.annotations ?? {};
    if (spec?.ingressClassName !== 'nginx')
      problems.push(`${where}: spec.ingressClassName is ${JSON.stringify(spec?.ingressClassName)}, expected "nginx"`);
    if (annotations['kubernetes.io/ingress.class'] !== undefined)
      problems.push(
        `${where}: the deprecated kubernetes.io/ingress.class annotation is set; use spec.ingressClassName`,
      );
    if (annotations[USE_REGEX] !== 'true')
      problems.push(`${where}: annotation ${USE_REGEX} is ${JSON.stringify(annotations[USE_REGEX])}, expected "true"`);
    if (annotations['nginx.ingress.kubernetes.io/rewrite-target'] !== undefined)
      problems.push(`${where}: rewrite-target is set: the services would not see the request path`);
    (spec?.rules ?? []).forEach((rule, r) => {
      if (!rule.host) problems.push(`${where}: spec.rules[${r}] has no host`);
      (rule.http?.paths ?? []).forEach((path, p) => {
        const at = `${where}: spec.rules[${r}].http.paths[${p}] (${path.path ?? ''})`;
        if (path.pathType !== 'ImplementationSpecific')
          problems.push(
            `${at}: pathType ${path.pathType} — with use-regex every path is a regex, which only ImplementationSpecific allows`,
          );
        try {
          new RegExp(`^${path.path ?? ''}`, 'i');
        } catch {
          problems.push(`${at}: not a valid regular expression`);
        }
        if (!path.path?.startsWith('/')) problems.push(`${at}: does not start with /`);
      });
    });
  }
  return problems;
}

/** The paths an Ingress holds for `host`. */
function pathsOf(ingress: Typed<'Ingress'>, host: string): string[] {
  return (ingress.typed.spec?.rules ?? [])
    .filter((rule) => rule.host === host)
    .flatMap((rule) => (rule.http?.paths ?? []).map((path) => path.path ?? ''));
}

/** The Ingress holding a path of PUBLIC_ROUTES for `host`, with a label naming both for messages, or a problem. */
export function ingressHolding(
  manifests: readonly Manifest[],
  host: string,
  path: string,
): { ingress: Typed<'Ingress'>; where: string } | string {
  const holding = ofKind(manifests, 'Ingress').filter((ingress) => pathsOf(ingress, host).includes(path));
  const [ingress, ...more] = holding;
  if (!ingress) return `path ${path}: no Ingress of host ${host} holds it`;
  if (more.length > 0) return `path ${path}: held by ${holding.map((i) => `Ingress ${i.name}`).join(' and ')}`;
  return { ingress, where: `path ${path} (Ingress ${ingress.name})` };
}

export const PROXY_BUFFERING = 'nginx.ingress.kubernetes.io/proxy-buffering';
export const PROXY_READ_TIMEOUT = 'nginx.ingress.kubernetes.io/proxy-read-timeout';
export const PROXY_SEND_TIMEOUT = 'nginx.ingress.kubernetes.io/proxy-send-timeout';
/** A stream may stay idle between changes far longer than nginx's default 60 s (query pings every 15 s). */
export const MIN_STREAM_TIMEOUT_SECONDS = 3600;

/**
 * A Server-Sent Events path passes through ingress-nginx as it is written: its Ingress turns response
 * buffering off and allows long reads and sends. Annotations apply to every path of an Ingress, so that
 * Ingress should hold nothing but streams.
 */
export function checkStreamingRoute(manifests: readonly Manifest[], host: string, path: string): string[] {
  const found = ingressHolding(manifests, host, path);
  if (typeof found === 'string') return [found];
  const { ingress, where } = found;
  const annotations = ingress.typed.metadata?.annotations ?? {};
  const problems: string[] = [];
  if (annotations[PROXY_BUFFERING] !== 'off')
    problems.push(`${where}: ${PROXY_BUFFERING} is ${JSON.stringify(annotations[PROXY_BUFFERING])}, expected "off"`);
  for (const key of [PROXY_READ_TIMEOUT, PROXY_SEND_TIMEOUT]) {
    const value = annotations[key];
    if (!/^\d+$/.test(value ?? '') || Number(value) < MIN_STREAM_TIMEOUT_SECONDS) {
      problems.push(
        `${where}: ${key} is ${JSON.stringify(value)}, expected at least "${MIN_STREAM_TIMEOUT_SECONDS}" (seconds)`,
      );
    }
  }
  const others = pathsOf(ingress, host).filter((other) => other !== path);
  if (others.length > 0)
    problems.push(`${where}: the Ingress also holds ${others.join(', ')}, which would not be buffered either`);
  return problems;
}

export const LIMIT_RPS = 'nginx.ingress.kubernetes.io/limit-rps';
export const LIMIT_BURST_MULTIPLIER = 'nginx.ingress.kubernetes.io/limit-burst-multiplier';
export const LIMIT_CONNECTIONS = 'nginx.ingress.kubernetes.io/limit-connections';
export const LIMIT_WHITELIST = 'nginx.ingress.kubernetes.io/limit-whitelist';
/** The current name of limit-whitelist in ingress-nginx; both are read. */
export const LIMIT_ALLOWLIST = 'nginx.ingress.kubernetes.io/limit-allowlist';
/**
 * What the page asks for at once when it loads from Vite's dev server under skaffold dev (counted in
 * Chromium: the HTML, Vite's client, every module of client/src and the prebundled React). The burst of a
 * request limit takes at least that, or a developer's page loads with holes in it.
 */
export const MIN_BURST = 30;
/** Chromium and Firefox open at most 6 connections to one host over HTTP/1.1: one browser, 6 tabs streaming. */
export const MIN_STREAMS_PER_CLIENT = 6;

/** The annotations of the Ingress holding a path, and a label naming both for messages. */
function annotationsFor(
  manifests: readonly Manifest[],
  host: string,
  path: string,
): { where: string; annotations: Record<string, string> } | string {
  const found = ingressHolding(manifests, host, path);
  return typeof found === 'string'
    ? found
    : { where: found.where, annotations: found.ingress.typed.metadata?.annotations ?? {} };
}

/** An annotation as ingress-nginx needs it for a limit: a whole number above 0 (0 or a parse error means no limit). */
function positiveInteger(
  annotations: Record<string, string>,
  key: string,
  where: string,
  problems: string[],
): number | undefined {
  const value = annotations[key];
  if (value !== undefined && /^[1-9]\d*$/.test(value)) return Number(value);
  problems.push(`${where}: ${key} is ${JSON.stringify(value)}, expected a whole number above 0`);
  return undefined;
}

/** A limit-allowlist (or its old name, limit-whitelist) range that holds every address would lift the limits for everyone. */
function checkWhitelist(annotations: Record<string, string>, where: string, problems: string[]): void {
  for (const key of [LIMIT_ALLOWLIST, LIMIT_WHITELIST]) {
    const everyone = (annotations[key] ?? '')
      .split(',')
      .map((range) => range.trim())
      .filter((range) => /\/0$/.test(range));
    if (everyone.length > 0) problems.push(`${where}: ${key} exempts every address (${everyone.join(', ')})`);
  }
}

/**
 * A path is rate-limited per client address by ingress-nginx: limit-rps set, and a burst
 * (limit-rps × limit-burst-multiplier, both set) that takes a whole page load at once.
 */
export function checkRequestRateLimit(manifests: readonly Manifest[], host: string, path: string): string[] {
  const found = annotationsFor(manifests, host, path);
  if (typeof found === 'string') return [found];
  const { where, annotations } = found;
  const problems: string[] = [];
  const rps = positiveInteger(annotations, LIMIT_RPS, where, problems);
  const multiplier = positiveInteger(annotations, LIMIT_BURST_MULTIPLIER, where, problems);
  if (rps !== undefined && multiplier !== undefined && rps * multiplier < MIN_BURST) {
    problems.push(
      `${where}: a burst of ${rps * multiplier} (${LIMIT_RPS} × ${LIMIT_BURST_MULTIPLIER}), expected at least ${MIN_BURST}, one page load`,
    );
  }
  checkWhitelist(annotations, where, problems);
  return problems;
}

/**
 * A stream path is limited by the number of streams a client address holds open at once (a request rate
 * would not bound requests that last an hour), with room for one browser's worth of tabs.
 */
export function checkConnectionLimit(manifests: readonly Manifest[], host: string, path: string): string[] {
  const found = annotationsFor(manifests, host, path);
  if (typeof found === 'string') return [found];
  const { where, annotations } = found;
  const problems: string[] = [];
  const connections = positiveInteger(annotations, LIMIT_CONNECTIONS, where, problems);
  if (connections !== undefined && connections < MIN_STREAMS_PER_CLIENT) {
    problems.push(
      `${where}: ${LIMIT_CONNECTIONS} is ${connections}, expected at least ${MIN_STREAMS_PER_CLIENT}, one browser's tabs`,
    );
  }
  checkWhitelist(annotations, where, problems);
  return problems;
}

/** The limits a client address meets on one path; a field is absent where no limit applies. */
export interface ClientLimits {
  requestsPerSecond?: number;
  /** Requests served at once above the rate before any is refused. */
  burst?: number;
  /** Requests held open at once (streams). */
  connections?: number;
}

/** The limits ingress-nginx applies to a path: limit-rps, its burst (× limit-burst-multiplier, default 5) and limit-connections. */
export function ingressClientLimits(manifests: readonly Manifest[], host: string, path: string): ClientLimits | string {
  const found = annotationsFor(manifests, host, path);
  if (typeof found === 'string') return found;
  const number = (key: string) =>
    /^[1-9]\d*$/.test(found.annotations[key] ?? '') ? Number(found.annotations[key]) : undefined;
  const requestsPerSecond = number(LIMIT_RPS);
  const connections = number(LIMIT_CONNECTIONS);
  return {
    ...(requestsPerSecond === undefined
      ? {}
      : { requestsPerSecond, burst: requestsPerSecond * (number(LIMIT_BURST_MULTIPLIER) ?? 5) }),
    ...(connections === undefined ? {} : { connections }),
  };
}
