/**
 * The API server's format rules (tools/deploy-checks/src/checks/api-server.ts) on every manifest set the repository
 * deploys, and one mutated copy of a real manifest per rule that `kubectl apply` would refuse.
 */
import {
  checkApiServerRules,
  configKey,
  hostName,
  labelValue,
  portName,
  qualifiedName,
  quantityValue,
} from '../src/checks/api-server';
import { checkPodReferences, checkServices } from '../src/checks/references';
import { renderKustomization } from '../src/kustomize';
import { loadManifests, mutatedCopy, setField as set, typedOf, type IContainer, type Manifest } from '../src/manifests';

const defaults = loadManifests().manifests;
const jetstream = renderKustomization('infra/overlays/dev-jetstream').manifests;
const gateway = renderKustomization('infra/overlays/dev').manifests;

function postsContainer(copy: Manifest[]): IContainer {
  const container = typedOf(copy, 'Deployment', 'posts-depl').spec?.template.spec?.containers[0];
  if (!container) throw new Error('posts-depl has no container');
  return container;
}

describe('the API server rules', () => {
  it.each([
    ['infra/k8s', defaults],
    ['infra/overlays/dev-jetstream', jetstream],
    ['infra/overlays/dev', gateway],
  ])('hold for every object of %s', (_name, manifests) => {
    expect(manifests.length).toBeGreaterThan(0);
    expect(checkApiServerRules(manifests)).toEqual([]);
  });

  it('accept what the API server accepts at the edges', () => {
    expect([
      qualifiedName('app.kubernetes.io/part-of'),
      qualifiedName('a'),
      labelValue(''),
      labelValue('x'.repeat(63)),
    ]).toEqual([undefined, undefined, undefined, undefined]);
    expect([portName('http'), portName('x'.repeat(14) + 'y'), configKey('.env'), hostName('*.posts.com')]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect([
      quantityValue('250m'),
      quantityValue('64Mi'),
      quantityValue('1e3'),
      quantityValue('0.5'),
      quantityValue('1K'),
    ]).toEqual([0.25, 64 * 2 ** 20, 1000, 0.5, undefined]);
  });
});

type Mutation = [
  rule: string,
  mutate: (copy: Manifest[]) => void,
  expected: RegExp,
  base?: Manifest[],
  check?: (manifests: readonly Manifest[]) => string[],
];

const MUTATIONS: Mutation[] = [
  [
    'a Service name is a DNS-1035 label',
    (c) => set(c, 'Service', 'query-srv', ['metadata', 'name'], 'Query_srv'),
    /Service\/Query_srv: metadata.name "Query_srv" is not a DNS-1035 label/,
  ],
  [
    'a Service name starts with a letter',
    (c) => set(c, 'Service', 'query-srv', ['metadata', 'name'], '4query'),
    /metadata.name "4query" is not a DNS-1035 label/,
  ],
  [
    'a Deployment name is a DNS-1123 subdomain',
    (c) => set(c, 'Deployment', 'posts-depl', ['metadata', 'name'], 'posts_depl'),
    /Deployment\/posts_depl: metadata.name "posts_depl" is not a DNS-1123 subdomain/,
  ],
  [
    'a label key is a qualified name',
    (c) => set(c, 'Deployment', 'posts-depl', ['metadata', 'labels', 'part of'], 'blog'),
    /posts-depl metadata.labels: label key "part of" is not a qualified name/,
  ],
  [
    'a label key prefix is a DNS subdomain',
    (c) => set(c, 'Deployment', 'posts-depl', ['spec', 'template', 'metadata', 'labels', 'Blog.Example/tier'], 'web'),
    /spec.template.metadata.labels: label key "Blog.Example\/tier" is not a qualified name: its prefix "Blog.Example" is not a DNS-1123 subdomain/,
  ],
  [
    'a label value is at most 63 characters',
    (c) => set(c, 'Service', 'posts-clusterip-srv', ['metadata', 'labels', 'app'], 'p'.repeat(64)),
    /label "app" has the value "p{64}", which is longer than 63 characters/,
  ],
  [
    'a selector value is a label value',
    (c) => set(c, 'Service', 'posts-clusterip-srv', ['spec', 'selector', 'app'], 'posts!'),
    /posts-clusterip-srv spec.selector: label "app" has the value "posts!", which is not a label value/,
  ],
  [
    'a matchExpressions value is a label value',
    (c) =>
      set(
        c,
        'NetworkPolicy',
        'allow-ingress-to-public',
        ['spec', 'podSelector', 'matchExpressions', 0, 'values', 0],
        'posts/api',
      ),
    /allow-ingress-to-public spec.podSelector.matchExpressions\[0\]: value "posts\/api" is not a label value/,
  ],
  [
    'an annotation key is a qualified name',
    (c) =>
      set(
        c,
        'Deployment',
        'posts-depl',
        ['spec', 'template', 'metadata', 'annotations', 'prometheus.io/scrape now'],
        'true',
      ),
    /annotation key "prometheus.io\/scrape now" is not a qualified name/,
  ],
  [
    'a container port name is at most 15 characters',
    (c) => (postsContainer(c).ports = [{ name: 'http-public-api1', containerPort: 4000 }]),
    /container posts: port name "http-public-api1" is longer than 15 characters/,
  ],
  [
    'a container port name is an IANA service name',
    (c) => (postsContainer(c).ports = [{ name: 'HTTP', containerPort: 4000 }]),
    /container posts: port name "HTTP" is not an IANA service name/,
  ],
  [
    'a container port is between 1 and 65535',
    (c) => (postsContainer(c).ports = [{ name: 'http', containerPort: 70000 }]),
    /container posts ports: port 70000 is not between 1 and 65535/,
  ],
  [
    'a Service port name is a DNS-1123 label',
    (c) => set(c, 'Service', 'posts-clusterip-srv', ['spec', 'ports', 0, 'name'], 'Http'),
    /posts-clusterip-srv spec.ports\[0\]: name "Http" is not a DNS-1123 label/,
  ],
  [
    'a Service targetPort name is an IANA service name',
    (c) => set(c, 'Service', 'posts-clusterip-srv', ['spec', 'ports', 0, 'targetPort'], 'http-of-the-posts'),
    /spec.ports\[0\] targetPort: port name "http-of-the-posts" is longer than 15 characters/,
  ],
  [
    'a container name is a DNS-1123 label',
    (c) => (postsContainer(c).name = 'Posts'),
    /container Posts: name "Posts" is not a DNS-1123 label/,
  ],
  [
    'a volume name is a DNS-1123 label',
    (c) => set(c, 'Deployment', 'posts-depl', ['spec', 'template', 'spec', 'volumes', 0, 'name'], 'tmp_dir'),
    /posts-depl: volume name "tmp_dir" is not a DNS-1123 label/,
  ],
  [
    'an environment variable name',
    (c) => (postsContainer(c).env = [{ name: 'LOG LEVEL', value: 'info' }]),
    /container posts: env "LOG LEVEL" is not an environment variable name/,
  ],
  [
    'an environment variable name does not start with a digit',
    (c) => (postsContainer(c).env = [{ name: '1PORT', value: '4000' }]),
    /env "1PORT" is not an environment variable name/,
  ],
  [
    'a ConfigMap key',
    (c) => set(c, 'ConfigMap', 'blog-config', ['data', 'LOG LEVEL'], 'debug'),
    /ConfigMap\/blog-config: data key "LOG LEVEL" is not a ConfigMap or Secret key/,
  ],
  [
    'a Secret key',
    (c) => set(c, 'Secret', 'blog-secrets', ['stringData', 'events/token'], 'x'),
    /Secret\/blog-secrets: stringData key "events\/token" is not a ConfigMap or Secret key/,
  ],
  [
    'a resource quantity',
    (c) =>
      set(
        c,
        'Deployment',
        'posts-depl',
        ['spec', 'template', 'spec', 'containers', 0, 'resources', 'limits', 'memory'],
        '256MB',
      ),
    /resources.limits.memory "256MB" is not a quantity/,
  ],
  [
    'a request is at most its limit',
    (c) =>
      set(
        c,
        'Deployment',
        'posts-depl',
        ['spec', 'template', 'spec', 'containers', 0, 'resources', 'requests', 'cpu'],
        '1',
      ),
    /resources.requests.cpu 1 is more than its limit 500m/,
  ],
  [
    'an emptyDir sizeLimit is a quantity',
    (c) =>
      set(c, 'Deployment', 'posts-depl', ['spec', 'template', 'spec', 'volumes', 0, 'emptyDir', 'sizeLimit'], '256 Mi'),
    /volume tmp: emptyDir.sizeLimit "256 Mi" is not a quantity/,
  ],
  [
    'a claim template storage is a quantity',
    (c) =>
      set(
        c,
        'StatefulSet',
        'event-bus',
        ['spec', 'volumeClaimTemplates', 0, 'spec', 'resources', 'requests', 'storage'],
        '1GB',
      ),
    /volumeClaimTemplate .*: storage "1GB" is not a quantity/,
  ],
  [
    'a probe has exactly one handler',
    (c) =>
      (postsContainer(c).readinessProbe = { httpGet: { path: '/readyz', port: 'http' }, exec: { command: ['true'] } }),
    /container posts readinessProbe: 2 handlers \(exec, httpGet\), expected exactly one/,
  ],
  [
    'a probe has a handler',
    (c) => (postsContainer(c).livenessProbe = { periodSeconds: 10 }),
    /container posts livenessProbe: no handler, expected exactly one/,
  ],
  [
    'a probe names a port of its container',
    (c) => (postsContainer(c).startupProbe = { httpGet: { path: '/healthz', port: 'web' } }),
    /container posts startupProbe httpGet: port "web" is not a named port of the container \(http\)/,
  ],
  [
    'a Service targetPort names a port of the pods',
    (c) => set(c, 'Service', 'posts-clusterip-srv', ['spec', 'ports', 0, 'targetPort'], 'web'),
    /posts-clusterip-srv.*targetPort/,
    defaults,
    checkServices,
  ],
  [
    "a workload's selector matches its template's labels",
    (c) => set(c, 'Deployment', 'posts-depl', ['spec', 'selector', 'matchLabels', 'app'], 'post'),
    /posts-depl: spec.selector does not match spec.template.metadata.labels/,
    defaults,
    checkPodReferences,
  ],
  [
    'an Ingress path is absolute (the issue: posts(.*) with Prefix)',
    (c) =>
      set(c, 'Ingress', 'ingress-srv', ['spec', 'rules', 0, 'http', 'paths', 2], {
        path: 'posts(.*)',
        pathType: 'Prefix',
        backend: { service: { name: 'query-srv', port: { number: 4002 } } },
      }),
    /ingress-srv spec.rules\[0\].http.paths\[2\] \(Prefix posts\(\.\*\)\): the path does not start with "\/"/,
  ],
  [
    'an Exact or Prefix Ingress path has no "//" or "/../"',
    (c) =>
      set(c, 'Ingress', 'ingress-srv', ['spec', 'rules', 0, 'http', 'paths', 0], {
        path: '/posts//create',
        pathType: 'Exact',
        backend: { service: { name: 'posts-clusterip-srv', port: { number: 4000 } } },
      }),
    /\(Exact \/posts\/\/create\): the path holds "\/\/"/,
  ],
  [
    'an Ingress pathType is one of three',
    (c) => set(c, 'Ingress', 'ingress-stream', ['spec', 'rules', 0, 'http', 'paths', 0, 'pathType'], 'Regex'),
    /ingress-stream .*: pathType is not Exact, Prefix or ImplementationSpecific/,
  ],
  [
    'an Ingress host is a DNS name, not an IP or a port',
    (c) => set(c, 'Ingress', 'ingress-srv', ['spec', 'rules', 0, 'host'], 'posts.com:80'),
    /ingress-srv spec.rules\[0\]: host "posts.com:80" is not a DNS-1123 subdomain/,
  ],
  [
    'an Ingress host is not an IP address',
    (c) => set(c, 'Ingress', 'ingress-stream', ['spec', 'rules', 0, 'host'], '127.0.0.1'),
    /ingress-stream spec.rules\[0\]: host "127.0.0.1" is an IP address/,
  ],
  [
    'an Ingress backend is a Service name',
    (c) =>
      set(
        c,
        'Ingress',
        'ingress-srv',
        ['spec', 'rules', 0, 'http', 'paths', 1, 'backend', 'service', 'name'],
        'Comments_srv',
      ),
    /backend service name "Comments_srv" is not a DNS-1035 label/,
  ],
  [
    'an HTTPRoute PathPrefix has no "/../"',
    (c) =>
      set(c, 'HTTPRoute', 'blog-routes', ['spec', 'rules', 0, 'matches', 0, 'path'], {
        type: 'PathPrefix',
        value: '/posts/../create',
      }),
    /HTTPRoute\/blog-routes spec.rules\[0\].matches\[0\].path \(PathPrefix \/posts\/\.\.\/create\): the path holds "\/\.\.\/"/,
    gateway,
  ],
  [
    'an HTTPRoute Exact path has no "#"',
    (c) =>
      set(c, 'HTTPRoute', 'blog-stream', ['spec', 'rules', 0, 'matches', 0, 'path'], {
        type: 'Exact',
        value: '/posts/stream#live',
      }),
    /blog-stream .*: the path holds "#"/,
    gateway,
  ],
  [
    'an HTTPRoute path is absolute',
    (c) =>
      set(c, 'HTTPRoute', 'blog-routes', ['spec', 'rules', 1, 'matches', 0, 'path', 'value'], 'posts/?(.*)/comments'),
    /blog-routes spec.rules\[1\].matches\[0\].path \(RegularExpression posts.*\): the path does not start with "\/"/,
    gateway,
  ],
  [
    'an HTTPRoute hostname is a DNS name',
    (c) => set(c, 'HTTPRoute', 'blog-routes', ['spec', 'hostnames', 0], 'Posts.com'),
    /blog-routes: hostname "Posts.com" is not a DNS-1123 subdomain/,
    gateway,
  ],
  [
    'an HTTPRoute backend is a Service name',
    (c) => set(c, 'HTTPRoute', 'blog-routes', ['spec', 'rules', 2, 'backendRefs', 0, 'name'], 'Query_srv'),
    /blog-routes spec.rules\[2\].backendRefs\[0\]: Service name "Query_srv" is not a DNS-1035 label/,
    gateway,
  ],
  [
    'a Gateway listener hostname is a DNS name',
    (c) => set(c, 'Gateway', 'blog-gateway', ['spec', 'listeners', 0, 'hostname'], '10.0.0.1'),
    /Gateway\/blog-gateway: listener http: hostname "10.0.0.1" is an IP address/,
    gateway,
  ],
];

describe('a mutated copy of a real manifest that the API server refuses', () => {
  it.each(MUTATIONS)('%s', (_rule, mutate, expected, base = defaults, check = checkApiServerRules) => {
    expect(check(base)).toEqual([]);
    expect(check(mutatedCopy(base, mutate))).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });
});
