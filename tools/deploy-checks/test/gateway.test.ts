/**
 * posts.com through the Gateway API (the gateway component, in the dev overlay that `skaffold dev` deploys):
 * the overlay as `kubectl kustomize` renders it, NGINX Gateway Fabric's conventions, its policies'
 * limits compared with the Ingress's on each route, the stream's settings, the network flows of the
 * Gateway's NGINX pods, and skaffold's default. The HTTPRoutes' rules are written by `npm run generate` (see
 * generate.test.ts).
 */
import { PUBLIC_ROUTES } from '@blog/common';
import {
  checkGatewayConventions,
  checkGatewayStreamingRoute,
  gatewayClientLimits,
  nginxDurationSeconds,
  ruleHolding,
} from '../src/checks/gateway';
import { ingressClientLimits } from '../src/checks/ingress';
import {
  checkFlowsAllowed,
  checkFlowsDenied,
  GATEWAY_NGINX,
  INGRESS_NGINX,
  KUBE_DNS,
  type Flow,
  type PodModel,
} from '../src/checks/network';
import { renderKustomization } from '../src/kustomize';
import { objectsChanged, podOf, schemaProblems } from './support/variants';
import { identityProblems, mutatedCopy, objectOf, setField as set, type Manifest } from '../src/manifests';
import { applyJsonPatch, loadSkaffold } from '../src/skaffold';
import { formatSchemaProblems, validateStrict } from '../src/strict-schema';

const DIR = 'infra/overlays/dev';
/** The same overlay with ingress-nginx as the way in. */
const INGRESS_NGINX_DIR = 'infra/overlays/dev-ingress-nginx';
const HOST = 'posts.com';
const { manifests, problems: renderProblems } = renderKustomization(DIR);
const defaults = renderKustomization(INGRESS_NGINX_DIR).manifests;
const STREAMS = PUBLIC_ROUTES.filter((route) => route.stream).map((route) => route.path);
const PATHS = PUBLIC_ROUTES.map((route) => route.path);
const holder = (path: string) => {
  const found = ruleHolding(manifests, HOST, path);
  return typeof found === 'string' ? found : found.httpRoute.name;
};

/** The controller (control plane), as its chart labels it in the namespace the docs install it to. */
const GATEWAY_CONTROLLER: PodModel = {
  name: 'NGINX Gateway Fabric controller',
  namespace: 'nginx-gateway',
  namespaceLabels: { 'kubernetes.io/metadata.name': 'nginx-gateway' },
  labels: { 'app.kubernetes.io/name': 'nginx-gateway-fabric', 'app.kubernetes.io/instance': 'ngf' },
  ports: [{ name: 'agent-grpc', port: 8443, protocol: 'TCP' }],
};

const OUTSIDE: PodModel = {
  name: 'a client outside the cluster',
  namespace: 'elsewhere',
  namespaceLabels: {},
  labels: {},
  ports: [],
};

const pod = (workload: string) => podOf(manifests, workload);

describe('the Gateway objects (the dev overlay, infra/overlays/dev)', () => {
  it('render with kubectl, each object once, each valid strictly (Gateway API and NGINX Gateway Fabric schemas)', () => {
    expect(renderProblems).toEqual([]);
    expect(identityProblems(manifests, 'blog-dev')).toEqual([]);
    expect(schemaProblems(manifests)).toEqual([]);
  });

  it("are the ingress-nginx overlay's objects with the Ingresses swapped for a Gateway, HTTPRoutes, their policies and the Gateway flows", () => {
    const { added, dropped } = objectsChanged(defaults, manifests);
    expect(dropped).toEqual(['Ingress/ingress-srv', 'Ingress/ingress-stream']);
    expect(added.sort()).toEqual(
      [
        'Gateway/blog-gateway',
        'HTTPRoute/blog-routes',
        'HTTPRoute/blog-stream',
        'RateLimitPolicy/request-rate-limit',
        'ProxySettingsPolicy/stream-proxy-settings',
        'SnippetsFilter/stream-connection-limit',
        'NetworkPolicy/allow-gateway-nginx',
      ].sort(),
    );
  });

  it("follow NGINX Gateway Fabric's conventions: its class, no rule field it refuses, paths it takes, existing filters and targets", () => {
    expect(checkGatewayConventions(manifests)).toEqual([]);
  });

  it.each(STREAMS)('take %s on a route of its own, unbuffered, with hour-long reads and sends', (path) => {
    expect(holder(path)).toBe('blog-stream');
    expect(checkGatewayStreamingRoute(manifests, HOST, path)).toEqual([]);
  });

  it('leave the other paths to NGINX defaults (the stream settings sit on the stream route only)', () => {
    expect(holder('/posts/?(.*)')).toBe('blog-routes');
    expect(checkGatewayStreamingRoute(manifests, HOST, '/posts/?(.*)')).toContainEqual(
      expect.stringMatching(/no ProxySettingsPolicy with buffering.disable/),
    );
  });

  it.each(PATHS)('limit each client address on %s exactly as the Ingress does', (path) => {
    const { limits, problems } = gatewayClientLimits(manifests, HOST, path);
    expect(problems).toEqual([]);
    expect(limits).toEqual(ingressClientLimits(defaults, HOST, path));
    expect(Object.keys(limits).length).toBeGreaterThan(0);
  });

  it('allow anyone to the listener, NGINX to the public services, the controller and DNS; and every flow of the blog', () => {
    const flows: Flow[] = [
      { from: OUTSIDE, to: GATEWAY_NGINX, port: 80, why: 'the listener (through its LoadBalancer Service)' },
      ...(['posts-depl', 'comments-depl', 'query-depl', 'client-depl'] as const).map((name) => ({
        from: GATEWAY_NGINX,
        to: pod(name),
        port: Number(pod(name).ports[0]?.port),
        why: 'a route backend',
      })),
      { from: GATEWAY_NGINX, to: GATEWAY_CONTROLLER, port: 8443, why: 'the agent receives the NGINX configuration' },
      { from: GATEWAY_NGINX, to: KUBE_DNS, port: 53, protocol: 'UDP', why: 'the agent finds the controller by name' },
      { from: pod('posts-depl'), to: pod('event-bus'), port: 4005, why: 'publishing' },
      { from: pod('event-bus'), to: pod('query-depl'), port: 4002, why: 'deliveries' },
    ];
    expect(checkFlowsAllowed(manifests, flows)).toEqual([]);
  });

  it('deny the rest: ingress-nginx no longer reaches the services, NGINX reaches no internal service, nobody reaches a service directly', () => {
    const flows: Flow[] = [
      { from: INGRESS_NGINX, to: pod('query-depl'), port: 4002, why: 'the Gateway replaces ingress-nginx here' },
      { from: GATEWAY_NGINX, to: pod('event-bus'), port: 4005, why: 'the bus is not public' },
      { from: GATEWAY_NGINX, to: pod('moderation-depl'), port: 4003, why: 'moderation is not public' },
      { from: OUTSIDE, to: pod('query-depl'), port: 4002, why: 'only through the Gateway' },
      { from: OUTSIDE, to: GATEWAY_NGINX, port: 8080, why: 'only the listener port' },
    ];
    expect(checkFlowsDenied(manifests, flows)).toEqual([]);
  });
});

describe('the strict schema check of the Gateway objects catches', () => {
  it.each<[string, string, string, (string | number)[], unknown, RegExp]>([
    [
      'an unknown HTTPRoute field',
      'HTTPRoute',
      'blog-routes',
      ['spec', 'rules', 0, 'backendRef'],
      [],
      /spec.rules\[0\].backendRef: unknown field "backendRef"/,
    ],
    [
      'a path type the Gateway API does not have',
      'HTTPRoute',
      'blog-routes',
      ['spec', 'rules', 0, 'matches', 0, 'path', 'type'],
      'Regex',
      /spec.rules\[0\].matches\[0\].path.type: must be equal to one of the allowed values: \["Exact","PathPrefix","RegularExpression"\]/,
    ],
    [
      'a listener port out of range',
      'Gateway',
      'blog-gateway',
      ['spec', 'listeners', 0, 'port'],
      0,
      /spec.listeners\[0\].port: must be >= 1/,
    ],
    [
      'an unknown RateLimitPolicy field',
      'RateLimitPolicy',
      'request-rate-limit',
      ['spec', 'rateLimit', 'local', 'rules', 0, 'burstSize'],
      50,
      /spec.rateLimit.local.rules\[0\].burstSize: unknown field "burstSize"/,
    ],
    [
      'a rate NGINX does not read',
      'RateLimitPolicy',
      'request-rate-limit',
      ['spec', 'rateLimit', 'local', 'rules', 0, 'rate'],
      '10/s',
      /spec.rateLimit.local.rules\[0\].rate: must match pattern/,
    ],
    [
      'a reject code that is no error',
      'RateLimitPolicy',
      'request-rate-limit',
      ['spec', 'rateLimit', 'rejectCode'],
      200,
      /spec.rateLimit.rejectCode: must be >= 400/,
    ],
    [
      'a timeout NGINX does not read',
      'ProxySettingsPolicy',
      'stream-proxy-settings',
      ['spec', 'timeout', 'read'],
      '1 hour',
      /spec.timeout.read: must match pattern/,
    ],
    [
      'a snippet context that does not exist',
      'SnippetsFilter',
      'stream-connection-limit',
      ['spec', 'snippets', 0, 'context'],
      'server',
      /spec.snippets\[0\].context: must be equal to one of the allowed values/,
    ],
  ])('%s', (_case, kind, name, path, value, expected) => {
    const copy = mutatedCopy(manifests, (c) => set(c, kind, name, path, value));
    expect(formatSchemaProblems(validateStrict(objectOf(copy, kind, name)))).toEqual([expect.stringMatching(expected)]);
  });
});

describe('skaffold.yaml', () => {
  const config = loadSkaffold();

  it('deploys the Gateway API by default (skaffold dev): the dev overlay', () => {
    expect(config.manifests?.kustomize?.paths).toEqual([DIR]);
  });

  it('keeps ingress-nginx as a profile (skaffold dev -p ingress-nginx): the same images, the ingress-nginx overlay', () => {
    const profile = config.profiles?.find((candidate) => candidate.name === 'ingress-nginx');
    const effective = applyJsonPatch(config, profile?.patches ?? []);
    expect(effective.manifests?.kustomize?.paths).toEqual([INGRESS_NGINX_DIR]);
    expect(effective.build).toEqual(config.build);
  });
});

describe('the Gateway checks catch', () => {
  it.each<[string, (copy: Manifest[]) => void, (broken: Manifest[]) => string[], RegExp]>([
    [
      'a rule field NGINX Gateway Fabric refuses (timeouts)',
      (c) => set(c, 'HTTPRoute', 'blog-stream', ['spec', 'rules', 0, 'timeouts'], { request: '0s' }),
      checkGatewayConventions,
      /blog-stream spec.rules\[0\]: timeouts is set, which NGINX Gateway Fabric refuses/,
    ],
    [
      'another GatewayClass',
      (c) => set(c, 'Gateway', 'blog-gateway', ['spec', 'gatewayClassName'], 'eg'),
      checkGatewayConventions,
      /gatewayClassName is "eg", expected "nginx"/,
    ],
    [
      '"(?i)" elsewhere than after the first "/"',
      (c) =>
        set(c, 'HTTPRoute', 'blog-routes', ['spec', 'rules', 0, 'matches', 0, 'path', 'value'], '(?i)/posts/create'),
      checkGatewayConventions,
      /\(\?i\)\/posts\/create: "\(\?i\)" is read here only right after the first "\/"/,
    ],
    [
      'a path NGINX Gateway Fabric refuses',
      (c) => set(c, 'HTTPRoute', 'blog-routes', ['spec', 'rules', 0, 'matches', 0, 'path', 'value'], '/posts/{create}'),
      checkGatewayConventions,
      /path \/posts\/\{create\} has whitespace, "\{", "\}" or ";"/,
    ],
    [
      'a filter naming no SnippetsFilter',
      (c) =>
        set(c, 'HTTPRoute', 'blog-stream', ['spec', 'rules', 0, 'filters', 0, 'extensionRef', 'name'], 'stream-limit'),
      checkGatewayConventions,
      /extensionRef gateway.nginx.org\/SnippetsFilter stream-limit is no SnippetsFilter here/,
    ],
    [
      'a policy aimed at a missing route',
      (c) => set(c, 'RateLimitPolicy', 'request-rate-limit', ['spec', 'targetRefs', 0, 'name'], 'blog'),
      checkGatewayConventions,
      /RateLimitPolicy\/request-rate-limit: targetRef gateway.networking.k8s.io\/HTTPRoute blog is no Gateway or HTTPRoute here/,
    ],
    [
      'two snippets for one context',
      (c) => set(c, 'SnippetsFilter', 'stream-connection-limit', ['spec', 'snippets', 1, 'context'], 'http'),
      checkGatewayConventions,
      /more than one snippet for context http/,
    ],
    [
      'a route on a listener that does not take the host',
      (c) => set(c, 'Gateway', 'blog-gateway', ['spec', 'listeners', 0, 'hostname'], 'blog.example.com'),
      checkGatewayConventions,
      /blog-routes: parentRef blog-gateway: no listener http of the Gateway takes host posts.com/,
    ],
    [
      'a stream that NGINX buffers',
      (c) => set(c, 'ProxySettingsPolicy', 'stream-proxy-settings', ['spec', 'buffering'], undefined),
      (b) => checkGatewayStreamingRoute(b, HOST, '/posts/stream'),
      /no ProxySettingsPolicy with buffering.disable: true applies/,
    ],
    [
      'a stream that times out after a minute',
      (c) => set(c, 'ProxySettingsPolicy', 'stream-proxy-settings', ['spec', 'timeout', 'read'], '60s'),
      (b) => checkGatewayStreamingRoute(b, HOST, '/posts/stream'),
      /no ProxySettingsPolicy sets timeout.read to at least 3600 s/,
    ],
    [
      'a stream route holding another path',
      (c) =>
        set(c, 'HTTPRoute', 'blog-stream', ['spec', 'rules', 1], {
          matches: [{ path: { type: 'RegularExpression', value: '/(?i)posts/live' } }],
          backendRefs: [{ name: 'query-srv', port: 4002 }],
        }),
      (b) => checkGatewayStreamingRoute(b, HOST, '/posts/stream'),
      /the HTTPRoute also holds \/\(\?i\)posts\/live, which would not be buffered either/,
    ],
    [
      'a rate limit counted for everyone together',
      (c) =>
        set(c, 'RateLimitPolicy', 'request-rate-limit', ['spec', 'rateLimit', 'local', 'rules', 0, 'key'], 'global'),
      (b) => gatewayClientLimits(b, HOST, '/posts/?(.*)').problems,
      /counts by global, not by client address/,
    ],
    [
      'a burst NGINX delays',
      (c) =>
        set(
          c,
          'RateLimitPolicy',
          'request-rate-limit',
          ['spec', 'rateLimit', 'local', 'rules', 0, 'noDelay'],
          undefined,
        ),
      (b) => gatewayClientLimits(b, HOST, '/posts/?(.*)').problems,
      /without noDelay, NGINX delays the burst/,
    ],
    [
      'a connection limit without its zone',
      (c) =>
        set(
          c,
          'SnippetsFilter',
          'stream-connection-limit',
          ['spec', 'snippets', 0, 'value'],
          'limit_conn_zone $binary_remote_addr zone=streams:10m;',
        ),
      (b) => gatewayClientLimits(b, HOST, '/posts/stream').problems,
      /limit_conn blog_streams has no limit_conn_zone of that name/,
    ],
  ])('%s', (_case, mutate, check, expected) => {
    expect(check(manifests)).toEqual([]);
    expect(check(mutatedCopy(manifests, mutate))).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });

  it.each<[string, (copy: Manifest[]) => void, string]>([
    [
      'a different burst',
      (c) => set(c, 'RateLimitPolicy', 'request-rate-limit', ['spec', 'rateLimit', 'local', 'rules', 0, 'burst'], 20),
      '/posts/create',
    ],
    [
      'a rate per minute',
      (c) =>
        set(c, 'RateLimitPolicy', 'request-rate-limit', ['spec', 'rateLimit', 'local', 'rules', 0, 'rate'], '10r/m'),
      '/?(.*)',
    ],
    [
      'the rate limit on the Gateway (so on the stream too)',
      (c) =>
        set(c, 'RateLimitPolicy', 'request-rate-limit', ['spec', 'targetRefs', 0], {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          name: 'blog-gateway',
        }),
      '/posts/stream',
    ],
    [
      'no connection limit on the stream',
      (c) => set(c, 'HTTPRoute', 'blog-stream', ['spec', 'rules', 0, 'filters'], undefined),
      '/posts/stream',
    ],
    [
      'another number of streams',
      (c) =>
        set(
          c,
          'SnippetsFilter',
          'stream-connection-limit',
          ['spec', 'snippets', 1, 'value'],
          'limit_conn blog_streams 100;',
        ),
      '/posts/stream',
    ],
  ])('limits that differ from the Ingress: %s', (_case, mutate, path) => {
    expect(gatewayClientLimits(mutatedCopy(manifests, mutate), HOST, path).limits).not.toEqual(
      ingressClientLimits(defaults, HOST, path),
    );
  });

  it('the public services still admitting ingress-nginx instead of the Gateway', () => {
    const unpatched = mutatedCopy(manifests, (c) =>
      set(
        c,
        'NetworkPolicy',
        'allow-ingress-to-public',
        ['spec', 'ingress', 0, 'from'],
        [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
      ),
    );
    expect(
      checkFlowsAllowed(unpatched, [
        { from: GATEWAY_NGINX, to: pod('query-depl'), port: 4002, why: 'a route backend' },
      ]),
    ).toEqual([expect.stringMatching(/blocked by the ingress of Deployment\/query-depl/)]);
  });

  it('NGINX durations as NGINX reads them', () => {
    expect([
      nginxDurationSeconds('1h'),
      nginxDurationSeconds('3600'),
      nginxDurationSeconds('90m'),
      nginxDurationSeconds('500ms'),
      nginxDurationSeconds('1d'),
    ]).toEqual([3600, 3600, 5400, 0.5, undefined]);
  });
});
