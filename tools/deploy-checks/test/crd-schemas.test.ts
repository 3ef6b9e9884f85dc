import {
  crdSchemaFact,
  crdSchemaFacts,
  crdSchemaFiles,
  crdSchemaFileName,
  crdSchemaAjv,
  strictSchemaOf,
} from '../src/crd-schemas';
import { formatSchemaProblems, validateStrict } from '../src/strict-schema';

const SOURCE = { project: 'example/widgets', version: 'v1.2.3', file: 'crds/widgets.yaml' };

/** A CRD in the shape controller-gen writes, with the features the conversion handles. */
const WIDGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
spec:
  group: example.com
  names: { kind: Widget, plural: widgets }
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          description: A widget.
          properties:
            apiVersion: { type: string }
            kind: { type: string }
            metadata: { type: object }
            spec:
              type: object
              required: [size]
              x-kubernetes-validations:
                - rule: self.size > 0
              properties:
                size: { type: integer, format: int32, minimum: 0, exclusiveMinimum: true }
                port: { x-kubernetes-int-or-string: true, anyOf: [{ type: integer }, { type: string }] }
                mode: { type: string, enum: [fast, slow], nullable: true, default: fast }
                labels: { type: object, additionalProperties: { type: string } }
                values: { type: object, x-kubernetes-preserve-unknown-fields: true }
                timeout: { type: string, format: duration }
                left: &side
                  type: object
                  description: the same structure twice, as ApplicationSet repeats its template
                  properties:
                    name: { type: string, minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }
                    namespace: { type: string, minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }
                right: *side
                flavour: { type: string, pattern: '(?i)^(vanilla|chocolate)$' }
    - name: v1beta1
      served: false
      storage: false
      schema:
        openAPIV3Schema: { type: object }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: not-a-crd }
`;

describe('CRD schemas to strict JSON schemas (crd-schemas.ts)', () => {
  const [fact, ...others] = crdSchemaFacts(WIDGET_CRD, SOURCE, undefined);
  const ajv = crdSchemaAjv();
  const validate = ajv.compile(fact?.schema ?? {});
  const widget = (spec: Record<string, unknown>) => ({
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w' },
    spec,
  });

  it('writes one fact per served version, naming its source and counting its CEL rules', () => {
    expect(others).toEqual([]);
    expect(fact).toMatchObject({ source: SOURCE, apiVersion: 'example.com/v1', kind: 'Widget', celRules: 1 });
    expect(crdSchemaFacts(WIDGET_CRD, SOURCE, new Set(['Gadget']))).toEqual([]);
  });

  it('accepts what the API server keeps: int-or-string, null where nullable, maps, free-form values', () => {
    expect(
      validate(widget({ size: 1, port: 'http', mode: null, labels: { a: 'b' }, values: { any: { thing: 1 } } })),
    ).toBe(true);
    expect(validate(widget({ size: 2, port: 80, timeout: '1m', flavour: 'Vanilla' }))).toBe(true);
  });

  it('rejects what it would prune or refuse: unknown fields, a bound crossed, a value outside the enum', () => {
    expect(validate(widget({ size: 1, colour: 'red' }))).toBe(false);
    expect(validate.errors).toEqual([
      expect.objectContaining({ keyword: 'additionalProperties', params: { additionalProperty: 'colour' } }),
    ]);
    expect(validate(widget({ size: 0 }))).toBe(false); // exclusiveMinimum: true beside minimum: 0
    expect(validate(widget({ size: 1, mode: 'medium' }))).toBe(false);
    expect(validate(widget({ size: 3_000_000_000 }))).toBe(false); // int32
    expect(validate(widget({ size: 1, left: { name: 'x', nmae: 'y' } }))).toBe(false); // in a shared $def
    expect(validate(widget({ size: 1, flavour: 'mint' }))).toBe(false); // Go's (?i) as the i flag
  });

  it('keeps the output small: descriptions and defaults dropped, repeated subschemas shared', () => {
    const text = JSON.stringify(fact?.schema);
    expect(text).not.toMatch(/description|default/);
    expect(Object.keys((fact?.schema.$defs as object | undefined) ?? {})).toHaveLength(1);
  });

  it('fails on a keyword it does not know, rather than dropping a rule', () => {
    expect(() => strictSchemaOf({ type: 'object', properties: { a: { type: 'string', 'x-new-rule': 1 } } })).toThrow(
      /properties\/a\/x-new-rule: keyword x-new-rule is not supported/,
    );
  });
});

describe('the committed CRD schema facts (facts/crd-schemas)', () => {
  const ajv = crdSchemaAjv();

  it.each(crdSchemaFiles())('%s compiles strictly and names the project, version and file it comes from', (file) => {
    const [group, version, kind] = file.replace(/\.json$/, '').split('_');
    const fact = crdSchemaFact(`${group ?? ''}/${version ?? ''}`, kind ?? '');
    expect(fact && crdSchemaFileName(fact.apiVersion, fact.kind)).toBe(file);
    expect(fact?.source).toEqual({
      project: expect.stringMatching(/^[\w.-]+\/[\w.-]+$/),
      version: expect.stringMatching(/^v\d+\.\d+\.\d+$/),
      file: expect.stringMatching(/\.ya?ml$/),
    });
    expect(() => ajv.compile(fact?.schema ?? {})).not.toThrow();
  });
});

/** A valid object of each kind the blog deploys or may deploy, and a typo'd field in it. */
const KINDS: [name: string, object: Record<string, unknown>, typo: string[]][] = [
  [
    'Gateway API Gateway',
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'blog-gateway' },
      spec: {
        gatewayClassName: 'nginx',
        listeners: [{ name: 'http', port: 80, protocol: 'HTTP', hostname: 'posts.com' }],
      },
    },
    ['spec', 'listeners', '0', 'hostnames'],
  ],
  [
    'Gateway API HTTPRoute',
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'blog' },
      spec: {
        parentRefs: [{ name: 'blog-gateway', sectionName: 'http' }],
        hostnames: ['posts.com'],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/posts' }, method: 'GET' }],
            backendRefs: [{ name: 'query-srv', port: 4002 }],
            timeouts: { request: '10s' },
          },
        ],
      },
    },
    ['spec', 'rules', '0', 'backendRefs', '0', 'weigth'],
  ],
  [
    'Gateway API GatewayClass',
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'nginx' },
      spec: { controllerName: 'gateway.nginx.org/nginx-gateway-controller' },
    },
    ['spec', 'controller'],
  ],
  [
    'Gateway API ReferenceGrant',
    {
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: 'from-routes' },
      spec: {
        from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'blog-dev' }],
        to: [{ group: '', kind: 'Service' }],
      },
    },
    ['spec', 'to', '0', 'names'],
  ],
  [
    'NGINX Gateway Fabric ClientSettingsPolicy',
    {
      apiVersion: 'gateway.nginx.org/v1alpha1',
      kind: 'ClientSettingsPolicy',
      metadata: { name: 'body-size' },
      spec: {
        targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'blog-gateway' },
        body: { maxSize: '1m', timeout: '30s' },
      },
    },
    ['spec', 'body', 'maxSizeBytes'],
  ],
  [
    'NGINX Gateway Fabric RateLimitPolicy',
    {
      apiVersion: 'gateway.nginx.org/v1alpha1',
      kind: 'RateLimitPolicy',
      metadata: { name: 'rate' },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'blog-gateway' }],
        rateLimit: { local: { rules: [{ key: '$binary_remote_addr', rate: '10r/s', burst: 20 }] } },
      },
    },
    ['spec', 'rateLimit', 'local', 'rules', '0', 'burts'],
  ],
  [
    'Argo CD Application',
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'nats-staging', namespace: 'argocd' },
      spec: {
        project: 'default',
        sources: [
          {
            repoURL: 'https://nats-io.github.io/k8s/helm/charts/',
            chart: 'nats',
            targetRevision: '2.14.2',
            helm: { releaseName: 'nats', valueFiles: ['$values/infra/helm/nats/values.yaml'] },
          },
          { repoURL: 'https://example.com/blog.git', targetRevision: 'main', ref: 'values' },
        ],
        destination: { server: 'https://kubernetes.default.svc', namespace: 'blog-staging' },
        syncPolicy: { automated: { prune: true, selfHeal: true } },
      },
    },
    ['spec', 'syncPolicy', 'automated', 'selfheal'],
  ],
  [
    'Argo CD ApplicationSet (a list generator whose elements and Helm values are free-form)',
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'blog', namespace: 'argocd' },
      spec: {
        goTemplate: true,
        generators: [{ list: { elements: [{ env: 'staging', replicas: { posts: 2 } }] } }],
        template: {
          metadata: { name: 'blog-{{.env}}' },
          spec: {
            project: 'default',
            source: {
              repoURL: 'https://example.com/blog.git',
              targetRevision: 'main',
              path: 'infra/overlays/{{.env}}',
              helm: { valuesObject: { any: { shape: true } } },
            },
            destination: { server: 'https://kubernetes.default.svc', namespace: 'blog-{{.env}}' },
          },
        },
      },
    },
    ['spec', 'template', 'spec', 'destination', 'namespce'],
  ],
  [
    'External Secrets ExternalSecret',
    {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'nats-credentials' },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { kind: 'SecretStore', name: 'blog' },
        target: { name: 'nats-credentials', creationPolicy: 'Owner' },
        data: [{ secretKey: 'password', remoteRef: { key: 'blog/nats', property: 'password' } }],
      },
    },
    ['spec', 'data', '0', 'remoteRef', 'propery'],
  ],
  [
    'External Secrets SecretStore',
    {
      apiVersion: 'external-secrets.io/v1',
      kind: 'SecretStore',
      metadata: { name: 'blog' },
      spec: {
        provider: {
          vault: {
            server: 'https://vault.example.com:8200',
            path: 'secret',
            version: 'v2',
            auth: { kubernetes: { mountPath: 'kubernetes', role: 'blog' } },
          },
        },
      },
    },
    ['spec', 'provider', 'vault', 'auth', 'kubernetes', 'rol'],
  ],
  [
    'Prometheus Operator PodMonitor',
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'nats' },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': 'nats' } },
        podMetricsEndpoints: [{ port: 'prom-metrics', path: '/metrics', interval: '30s' }],
      },
    },
    ['spec', 'podMetricsEndpoints', '0', 'intervall'],
  ],
  [
    'Prometheus Operator ServiceMonitor',
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'posts' },
      spec: {
        selector: { matchLabels: { app: 'posts' } },
        endpoints: [{ port: 'http', path: '/metrics', targetPort: 4000 }],
      },
    },
    ['spec', 'endpoints', '0', 'scheme_'],
  ],
  [
    'Prometheus Operator PrometheusRule',
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'blog' },
      spec: { groups: [{ name: 'blog', rules: [{ alert: 'PostsDown', expr: 'up{job="posts"} == 0', for: '5m' }] }] },
    },
    ['spec', 'groups', '0', 'rules', '0', 'labelz'],
  ],
];

describe('strict validation of the custom resources against their CRD schemas', () => {
  it.each(KINDS)('%s: a valid object passes', (_name, object) => {
    expect(formatSchemaProblems(validateStrict(object))).toEqual([]);
  });

  it.each(KINDS)('%s: a typo in a field name is reported at its path', (_name, object, typo) => {
    const copy = structuredClone(object);
    let parent: unknown = copy;
    for (const key of typo.slice(0, -1)) parent = (parent as Record<string, unknown>)[key];
    const field = typo.at(-1) ?? '';
    (parent as Record<string, unknown>)[field] = 'x';
    const path = typo
      .map((key) => (/^\d+$/.test(key) ? `[${key}]` : `.${key}`))
      .join('')
      .slice(1);
    expect(formatSchemaProblems(validateStrict(copy))).toEqual([
      `${path}: unknown field "${field}" (not in the ${String(object.apiVersion)} ${String(object.kind)} schema)`,
    ]);
  });

  it("checks a custom resource's metadata against ObjectMeta", () => {
    const [, route] = KINDS[1] ?? [];
    const copy = { ...route, metadata: { name: 'blog', lables: { a: 'b' }, annotations: { a: 1 } } };
    expect(formatSchemaProblems(validateStrict(copy))).toEqual([
      'metadata.annotations.a: must be string',
      expect.stringMatching(/^metadata\.lables: unknown field "lables"/),
    ]);
  });

  it('reports a kind no CRD schema or model knows', () => {
    expect(formatSchemaProblems(validateStrict({ apiVersion: 'gateway.nginx.org/v1alpha1', kind: 'Widget' }))).toEqual([
      expect.stringMatching(/unknown apiVersion\/kind gateway.nginx.org\/v1alpha1 Widget/),
    ]);
  });
});
