/**
 * Every overlay of infra/overlays and every combination of the components on the base, as `kubectl kustomize`
 * renders them (no LoadRestrictionsNone), through the same strict checks as the course's infra/k8s: schemas,
 * the API server's format rules, references, hardening, autoscalers, the ways in; and what each environment
 * promises: every object in its namespace, restricted Pod Security, credentials and images.
 */
import { DEFAULT_DRAIN_TIMEOUT_MS } from '@blog/common';
import { checkApiServerRules } from '../src/checks/api-server';
import { checkAutoscaledReplicas } from '../src/checks/autoscaling';
import { requiredFlows } from '../src/checks/blog-flows';
import { checkGatewayConventions } from '../src/checks/gateway';
import { checkHardening } from '../src/checks/hardening';
import { podSecurityProblems } from '../src/checks/pod-security';
import { checkFlowsAllowed, GATEWAY_NGINX, NATS_SERVER } from '../src/checks/network';
import { checkIngressConventions } from '../src/checks/ingress';
import {
  checkConfigUrls,
  checkIngressBackends,
  checkPodReferences,
  checkPolicySelectors,
  checkServices,
  checkStatefulSetServices,
} from '../src/checks/references';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { DEVELOPMENT_SECRET_FILE } from '../src/checks/secrets';
import { BASE_DIR, componentCombinations, OVERLAYS, SHARED_OVERLAYS } from '../src/environments';
import { COURSE_COPIES } from '../src/generate/course-copies';
import { identityProblems, label, loadManifests, ofKind, workloads, type Manifest } from '../src/manifests';
import { readRepoFile, repoPath } from '../src/repo';
import { parse } from 'yaml';
import { allRenders, overlayRender } from './support/renders';
import { schemaProblems, secretValues } from './support/variants';

const renders = allRenders();
const byName = renders.map((render) => [render.name, render] as const);

/** The pods other controllers run in the namespace: the Gateway's NGINX, the NATS Helm release's servers. */
function podsMadeElsewhere(manifests: readonly Manifest[]): Record<string, string>[] {
  const bus = workloads(manifests).find((workload) => workload.name === 'event-bus-depl');
  return [
    ...(ofKind(manifests, 'Gateway').length > 0 ? [GATEWAY_NGINX.labels] : []),
    ...(bus ? [NATS_SERVER.labels] : []),
  ];
}

describe.each(byName)('%s', (_name, render) => {
  const { manifests } = render;

  it('renders with kubectl, each object once, each valid against its strict schema', () => {
    expect(manifests.length).toBeGreaterThan(0);
    expect(render.problems).toEqual([]);
    expect(identityProblems(manifests, render.namespace)).toEqual([]);
    expect(schemaProblems(manifests)).toEqual([]);
  });

  it("passes the API server's format rules", () => {
    expect(checkApiServerRules(manifests)).toEqual([]);
  });

  it('references only what it holds: Services, pods, config URLs, policy selectors', () => {
    expect([
      ...checkServices(manifests),
      ...checkStatefulSetServices(manifests),
      ...checkIngressBackends(manifests),
      ...checkConfigUrls(manifests),
      ...checkPolicySelectors(manifests, podsMadeElsewhere(manifests)),
      ...checkPodReferences(manifests),
    ]).toEqual([]);
  });

  it('runs every pod hardened, and leaves replica counts to the autoscalers', () => {
    expect(checkHardening(manifests, { drainSeconds: DEFAULT_DRAIN_TIMEOUT_MS / 1000 })).toEqual([]);
    expect(checkAutoscaledReplicas(manifests)).toEqual([]);
  });

  it('has exactly one way in, which follows its conventions', () => {
    const ingresses = ofKind(manifests, 'Ingress').length > 0;
    const gateways = ofKind(manifests, 'Gateway').length > 0;
    expect([ingresses, gateways].filter(Boolean)).toHaveLength(1);
    expect(ingresses ? checkIngressConventions(manifests) : checkGatewayConventions(manifests)).toEqual([]);
  });

  it('denies by default exactly where it has the network-policies component, and allows every flow the blog needs', () => {
    // Every overlay has the component. Without it, a policy of another component still isolates the pods it selects.
    const withPolicies = render.components?.includes('network-policies') ?? true;
    expect(ofKind(manifests, 'NetworkPolicy').some((policy) => policy.name === 'default-deny-all')).toBe(withPolicies);
    expect(checkFlowsAllowed(manifests, requiredFlows(manifests))).toEqual([]);
  });

  it('creates its namespace with the restricted Pod Security level enforced, which every pod meets', () => {
    const namespaces = ofKind(manifests, 'Namespace');
    expect(namespaces.map((namespace) => namespace.name)).toEqual([render.namespace]);
    expect(namespaces[0]?.typed.metadata?.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    expect(
      workloads(manifests).flatMap((workload) =>
        podSecurityProblems(workload.pod, label(workload.manifest), workload.template.metadata?.annotations),
      ),
    ).toEqual([]);
  });
});

describe("the course's folder, infra/k8s", () => {
  // What `kubectl apply -f infra/k8s` reads: the files with these extensions, not the base's `Kustomization`.
  const applied = readdirSync(repoPath(BASE_DIR)).filter((name) => /\.(ya?ml|json)$/.test(name));
  const base = parse(readRepoFile(`${BASE_DIR}/Kustomization`)) as { kind: string; resources: string[] };

  it('holds only Kubernetes objects where kubectl apply -f reads, and the base as a file it skips', () => {
    expect(applied).not.toContain('Kustomization');
    expect(base.kind).toBe('Kustomization');
    const kinds = loadManifests(applied.map((name) => `${BASE_DIR}/${name}`)).manifests.map((m) => m.object.kind);
    expect(kinds.filter((kind) => kind === 'Kustomization' || kind === 'Component')).toEqual([]);
  });

  it("makes the base of every file but the way in, the policies (the components' copies) and the development Secret", () => {
    const courseOnly = [
      ...COURSE_COPIES.map(({ copy }) => path.basename(copy)),
      path.basename(DEVELOPMENT_SECRET_FILE),
    ];
    expect([...base.resources].sort()).toEqual(applied.filter((name) => !courseOnly.includes(name)).sort());
  });
});

describe('the component combinations', () => {
  it('are each way in with every subset of the optional components: 2 × 2⁴', () => {
    expect(componentCombinations()).toHaveLength(32);
    expect(new Set(componentCombinations().map((set) => set.join())).size).toBe(32);
  });
});

/** Every value of the committed development Secret (infra/k8s/dev-secrets.yaml). */
function committedSecretValues(): string[] {
  const secret = parse(readRepoFile('infra/k8s/dev-secrets.yaml')) as { stringData: Record<string, string> };
  return Object.values(secret.stringData);
}

/** Every value a render's Secrets hold, decoded. */
function allSecretValues(manifests: readonly Manifest[]): string[] {
  return ofKind(manifests, 'Secret').flatMap(({ name }) => Object.values(secretValues(manifests, name)));
}

describe('the credentials', () => {
  it.each(SHARED_OVERLAYS)(
    'of %s come from the secret store: no Secret is rendered, an ExternalSecret for each',
    (overlay) => {
      const { manifests } = overlayRender(overlay);
      expect(ofKind(manifests, 'Secret')).toEqual([]);
      const wanted = ['blog-secrets', 'nats-credentials', 'nats-admin-credentials', 'nats-route-credentials'];
      const external = manifests.filter((manifest) => manifest.object.kind === 'ExternalSecret');
      expect(external.map((manifest) => manifest.object.metadata?.name).sort()).toEqual([...wanted].sort());
    },
  );

  it.each(OVERLAYS.filter((overlay) => !SHARED_OVERLAYS.includes(overlay)))(
    'of %s are generated for this checkout: none is a committed development value',
    (overlay) => {
      const values = allSecretValues(overlayRender(overlay).manifests);
      expect(values.length).toBeGreaterThan(0);
      const committed = new Set(committedSecretValues());
      expect(values.filter((value) => committed.has(value))).toEqual([]);
    },
  );

  it.each(SHARED_OVERLAYS)('of %s are checked as production ones (BLOG_ENV)', (overlay) => {
    const config = ofKind(overlayRender(overlay).manifests, 'ConfigMap').find((c) => c.name === 'blog-config');
    expect(config?.typed.data?.BLOG_ENV).toBe('production');
  });
});

describe('the images', () => {
  it.each(SHARED_OVERLAYS)('of %s are pinned: a registry, and a release tag or a digest', (overlay) => {
    const images = workloads(overlayRender(overlay).manifests).flatMap((workload) =>
      [...(workload.pod.initContainers ?? []), ...(workload.pod.containers ?? [])].map((c) => c.image ?? ''),
    );
    expect(images.length).toBeGreaterThan(0);
    const pinned = /^[a-z0-9.-]+\.[a-z]{2,}(?::\d+)?\/[a-z0-9/_.-]+(?::(?!latest$)[\w][\w.-]*|@sha256:[0-9a-f]{64})$/;
    expect(images.filter((image) => !pinned.test(image))).toEqual([]);
  });
});
