/**
 * The blog scaled out on NATS JetStream (the jetstream component, in the overlay `skaffold dev -p jetstream`
 * deploys, infra/overlays/dev-jetstream): the overlay as `kubectl kustomize` renders it against the dev
 * overlay without the component, and the skaffold profile (the NATS chart's values: nats-chart.test.ts).
 */
import {
  checkFlowsAllowed,
  checkFlowsDenied,
  GATEWAY_NGINX,
  INGRESS_NGINX,
  NATS_SERVER,
  KUBE_DNS,
  PROMETHEUS,
  type Flow,
  type PodModel,
} from '../src/checks/network';
import { renderKustomization } from '../src/kustomize';
import { objectKey, objectsChanged, podOf, schemaProblems, secretValues } from './support/variants';
import { identityProblems, ofKind, typedOf, workloads } from '../src/manifests';
import { valueAt } from '../src/checks/nats-values';
import { natsValuesOf, skaffoldNatsReleaseProblems } from '../src/nats-chart';
import { applyJsonPatch, loadSkaffold } from '../src/skaffold';

const DIR = 'infra/overlays/dev-jetstream';
/** The same overlay without the jetstream component. */
const WITHOUT = 'infra/overlays/dev';
const { manifests, problems: renderProblems } = renderKustomization(DIR);
const defaults = renderKustomization(WITHOUT).manifests;
const SERVICES = ['posts-depl', 'comments-depl', 'query-depl', 'moderation-depl'];

const NATS = NATS_SERVER;

describe('the jetstream objects (infra/overlays/dev-jetstream)', () => {
  it('render with kubectl, each object once, each valid strictly', () => {
    expect(renderProblems).toEqual([]);
    expect(identityProblems(manifests, 'blog-dev')).toEqual([]);
    expect(schemaProblems(manifests)).toEqual([]);
  });

  it("are the dev overlay's objects with the bus swapped: no StatefulSet (nor its headless Service), a bus Deployment, autoscalers, the NATS flows", () => {
    const { added, dropped } = objectsChanged(defaults, manifests);
    expect(dropped.sort()).toEqual(['Service/event-bus-headless', 'StatefulSet/event-bus']);
    expect(added.sort()).toEqual(
      [
        'Deployment/event-bus-depl',
        ...['event-bus', 'query', 'posts', 'comments', 'moderation'].map(
          (name) => `HorizontalPodAutoscaler/${name}-hpa`,
        ),
        'NetworkPolicy/allow-event-bus-to-nats',
        'NetworkPolicy/allow-nats',
      ].sort(),
    );
  });

  it('run the bus as a Deployment on JetStream, with its NATS account from the Secret, and otherwise the default bus pod', () => {
    const bus = typedOf(manifests, 'Deployment', 'event-bus-depl');
    const [container] = bus.spec?.template.spec?.containers ?? [];
    const env = Object.fromEntries((container?.env ?? []).map(({ name, value }) => [name, value]));
    expect(env).toMatchObject({ EVENT_LOG: 'jetstream', NATS_URL: 'nats://nats:4222' });
    expect(container?.envFrom?.map((source) => source.secretRef?.name ?? source.configMapRef?.name)).toEqual([
      'blog-config',
      expect.stringMatching(/^blog-secrets-[a-z0-9]+$/),
      'nats-credentials',
    ]);
    expect(Object.keys(secretValues(manifests, 'nats-credentials')).sort()).toEqual(['NATS_PASSWORD', 'NATS_USER']);
    // The administrator's password only reaches the init container that sets the stream up, never the bus.
    const [setup, ...otherInits] = bus.spec?.template.spec?.initContainers ?? [];
    expect(otherInits).toEqual([]);
    expect(setup?.command).toEqual(['node', 'event-bus/dist/setup.js']);
    expect(setup?.envFrom?.map((source) => source.secretRef?.name ?? source.configMapRef?.name)).toEqual([
      'blog-config',
      'nats-admin-credentials',
    ]);
    expect(Object.keys(secretValues(manifests, 'nats-admin-credentials')).sort()).toEqual([
      'NATS_ADMIN_PASSWORD',
      'NATS_ADMIN_USER',
    ]);

    // What it shares with the default bus stays the same: image, ports, probes, limits, hardening.
    const statefulSet = typedOf(defaults, 'StatefulSet', 'event-bus');
    const [before] = statefulSet.spec?.template.spec?.containers ?? [];
    const same = ({
      image,
      ports,
      readinessProbe,
      livenessProbe,
      resources,
      securityContext,
    }: typeof container & object) => ({ image, ports, readinessProbe, livenessProbe, resources, securityContext });
    expect(container && same(container)).toEqual(before && same(before));
    const { fsGroup: _volumeOnly, ...podSecurity } = statefulSet.spec?.template.spec?.securityContext ?? {};
    expect(bus.spec?.template.spec?.securityContext).toEqual(podSecurity);
    expect(bus.spec?.template.metadata).toEqual(statefulSet.spec?.template.metadata);
  });

  it('run the bus and every service reading the log itself, their replicas left to autoscalers from 2, each with a budget that keeps one', () => {
    const config = typedOf(manifests, 'ConfigMap', 'blog-config').data ?? {};
    expect(config).toMatchObject({ EVENTS_FOLLOW: 'true', EVENT_SUBSCRIBERS: 'none' });
    // Longer than the bus keeps publishing again while NATS elects a leader (NATS_PUBLISH_TIMEOUT_MS, 15 s by default).
    expect(Number(config.EVENT_BUS_CONFIRM_MS)).toBeGreaterThan(15_000);
    const all = workloads(manifests);
    for (const name of [...SERVICES, 'event-bus-depl']) {
      const workload = all.find((candidate) => candidate.name === name);
      // No replicas in the manifest (an apply would reset the autoscaler's count): the Deployment starts with
      // one pod and its autoscaler raises it to minReplicas.
      expect([name, typedOf(manifests, 'Deployment', name).spec?.replicas]).toEqual([name, undefined]);
      const hpa = ofKind(manifests, 'HorizontalPodAutoscaler').find(
        ({ typed }) => typed.spec?.scaleTargetRef.kind === 'Deployment' && typed.spec.scaleTargetRef.name === name,
      )?.typed.spec;
      expect([name, hpa?.minReplicas, (hpa?.maxReplicas ?? 0) > (hpa?.minReplicas ?? 0)]).toEqual([name, 2, true]);
      const budgets = ofKind(manifests, 'PodDisruptionBudget').filter(
        (pdb) =>
          workload &&
          pdb.typed.spec?.selector &&
          Object.entries(pdb.typed.spec.selector.matchLabels ?? {}).every(([k, v]) => workload.labels[k] === v),
      );
      expect([name, budgets.length]).toEqual([name, 1]);
      const { maxUnavailable, minAvailable } = budgets[0]?.typed.spec ?? {};
      expect([name, maxUnavailable === 1 || minAvailable === 1]).toEqual([name, true]);
    }
  });

  it('allow the NATS flows: bus → clients port, server ⇄ server, Prometheus → monitoring and exporter, servers → DNS; and still every flow of the blog', () => {
    const bus = podOf(manifests, 'event-bus-depl');
    const flows: Flow[] = [
      { from: bus, to: NATS, port: 4222, why: 'the bus publishes and reads (NATS_URL)' },
      { from: NATS, to: NATS, port: 6222, why: 'the servers replicate (cluster routes)' },
      { from: PROMETHEUS, to: NATS, port: 8222, why: 'monitoring' },
      { from: PROMETHEUS, to: NATS, port: 7777, why: "the chart's Prometheus exporter" },
      { from: NATS, to: KUBE_DNS, port: 53, protocol: 'UDP', why: 'the servers find each other by name' },
      ...SERVICES.flatMap((name) => [
        { from: podOf(manifests, name), to: bus, port: 4005, why: 'publishing and reading (EVENT_BUS_URL)' },
        {
          from: PROMETHEUS,
          to: podOf(manifests, name),
          port: Number(podOf(manifests, name).ports[0]?.port),
          why: 'metrics',
        },
      ]),
      { from: GATEWAY_NGINX, to: podOf(manifests, 'query-depl'), port: 4002, why: 'the public routes' },
      { from: PROMETHEUS, to: bus, port: 4005, why: 'metrics' },
    ];
    expect(checkFlowsAllowed(manifests, flows)).toEqual([]);
  });

  it('deny the rest: no service, the client, ingress-nginx or another namespace reaches NATS; NATS reaches no service', () => {
    const outsider: PodModel = {
      ...NATS,
      name: 'a pod in another namespace',
      namespace: 'other',
      namespaceLabels: { 'kubernetes.io/metadata.name': 'other' },
      labels: { app: 'event-bus' },
    };
    const flows: Flow[] = [
      ...SERVICES.map((name) => ({
        from: podOf(manifests, name),
        to: NATS,
        port: 4222,
        why: 'only the bus talks to NATS',
      })),
      { from: podOf(manifests, 'client-depl'), to: NATS, port: 4222, why: 'the client does not talk to NATS' },
      { from: INGRESS_NGINX, to: NATS, port: 4222, why: 'NATS is not public' },
      { from: outsider, to: NATS, port: 4222, why: 'only this namespace' },
      { from: podOf(manifests, 'event-bus-depl'), to: NATS, port: 6222, why: 'the bus is no cluster peer' },
      { from: NATS, to: podOf(manifests, 'query-depl'), port: 4002, why: 'NATS calls no service' },
    ];
    expect(checkFlowsDenied(manifests, flows)).toEqual([]);
  });
});

describe('the NATS chart release of the skaffold jetstream profile', () => {
  const config = loadSkaffold();
  const profile = config.profiles?.find((candidate) => candidate.name === 'jetstream');
  const effective = applyJsonPatch(config, profile?.patches ?? []);

  // The values of each environment and what they must say: nats-chart.test.ts.
  it("deploy the overlay, and the official chart as a Helm release with dev's values", () => {
    expect(effective.manifests?.kustomize?.paths).toEqual([DIR]);
    const releases = (effective.deploy?.helm as { releases: Record<string, unknown>[] }).releases;
    expect(releases).toHaveLength(1);
    expect(skaffoldNatsReleaseProblems(releases[0] ?? {}, 'dev')).toEqual([]);
  });

  it("give the Secrets' users an account in the chart's values", () => {
    const secrets = {
      bus: secretValues(manifests, 'nats-credentials'),
      admin: secretValues(manifests, 'nats-admin-credentials'),
    };
    const users = Object.values(
      valueAt(natsValuesOf('dev'), 'config.merge.accounts') as Record<string, { users: { user: string }[] }>,
    )
      .flatMap((account) => account.users)
      .map((user) => user.user);
    expect(users.sort()).toEqual([secrets.admin.NATS_ADMIN_USER, secrets.bus.NATS_USER].sort());
  });
});

describe('the jetstream checks catch', () => {
  it('NATS servers that cannot reach each other once their policy is gone', () => {
    const without = manifests.filter((manifest) => objectKey(manifest) !== 'NetworkPolicy/allow-nats');
    expect(checkFlowsAllowed(without, [{ from: NATS, to: NATS, port: 6222, why: 'replication' }])).toEqual([
      expect.stringMatching(/NATS server → NATS server:6222\/TCP \(replication\) is blocked/),
    ]);
  });
});
