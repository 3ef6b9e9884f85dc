import { requiredFlows } from '../src/checks/blog-flows';
import {
  checkFlowsAllowed,
  checkFlowsDenied,
  INGRESS_NGINX,
  podModels,
  PROMETHEUS,
  type Flow,
  type PodModel,
} from '../src/checks/network';
import { loadManifests, typedOf, mutatedCopy, type Manifest } from '../src/manifests';

const { manifests } = loadManifests();

function podOf(all: readonly Manifest[], workloadName: string): PodModel {
  const pod = podModels(all).get(workloadName);
  if (!pod) throw new Error(`no workload ${workloadName}`);
  return pod;
}

/** Flows least privilege forbids. */
function forbiddenFlows(all: readonly Manifest[]): Flow[] {
  const bus = podOf(all, 'event-bus');
  const client = podOf(all, 'client-depl');
  const outsider: PodModel = {
    name: 'a pod in another namespace',
    namespace: 'other',
    namespaceLabels: { 'kubernetes.io/metadata.name': 'other' },
    labels: { app: 'posts' },
    ports: [],
  };
  return [
    { from: INGRESS_NGINX, to: bus, port: 4005, why: 'the bus is not public' },
    { from: INGRESS_NGINX, to: podOf(all, 'moderation-depl'), port: 4003, why: 'moderation is not public' },
    { from: client, to: bus, port: 4005, why: 'the client does not use the bus' },
    { from: client, to: podOf(all, 'posts-depl'), port: 4000, why: 'the client does not proxy behind the Ingress' },
    { from: outsider, to: bus, port: 4005, why: 'only this namespace may publish' },
    { from: outsider, to: podOf(all, 'query-depl'), port: 4002, why: 'only the bus may deliver events' },
    {
      from: podOf(all, 'posts-depl'),
      to: podOf(all, 'comments-depl'),
      port: 4001,
      why: 'services talk through the bus only',
    },
    { from: bus, to: client, port: 3000, why: 'the client is no subscriber' },
    {
      from: {
        ...PROMETHEUS,
        name: 'Prometheus in another namespace',
        namespace: 'other',
        namespaceLabels: { 'kubernetes.io/metadata.name': 'other' },
      },
      to: bus,
      port: 4005,
      why: 'only the monitoring namespace scrapes',
    },
  ];
}

describe('NetworkPolicies', () => {
  it('allow every flow the blog needs: bus ⇄ subscribers, ingress-nginx → public backends, Prometheus → services, every pod → DNS', () => {
    const flows = requiredFlows(manifests);
    expect(flows.filter((flow) => flow.from === PROMETHEUS)).toHaveLength(5);
    expect(checkFlowsAllowed(manifests, flows)).toEqual([]);
  });

  it('deny the rest (default deny): e.g. the bus is not reachable from ingress-nginx, the client or other namespaces', () => {
    expect(checkFlowsDenied(manifests, forbiddenFlows(manifests))).toEqual([]);
  });
});

describe('the NetworkPolicy checks catch', () => {
  it('a needed flow that a policy change blocks (no egress to the bus; DNS on the wrong port)', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const toBus = typedOf(copy, 'NetworkPolicy', 'allow-event-bus-to-services');
      if (toBus.spec) delete toBus.spec.egress;
      const dns = typedOf(copy, 'NetworkPolicy', 'allow-dns-egress').spec?.egress?.[0]?.ports;
      if (dns?.[0]) dns[0].port = 5353;
    });
    const problems = checkFlowsAllowed(broken, requiredFlows(broken));
    expect(problems).toContainEqual(
      expect.stringMatching(
        /^Deployment\/posts-depl → StatefulSet\/event-bus:4005\/TCP \(publishing.*\) is blocked by the egress of Deployment\/posts-depl/,
      ),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(
        /^Deployment\/client-depl → kube-dns:53\/UDP \(DNS\) is blocked by the egress of Deployment\/client-depl/,
      ),
    );
    expect(problems).not.toContainEqual(expect.stringMatching(/kube-dns:53\/TCP/));
  });

  it('a forbidden flow that a policy change allows (an ingress rule without from; the client stays blocked by its own egress)', () => {
    const open = mutatedCopy(manifests, (copy) => {
      const ingress = typedOf(copy, 'NetworkPolicy', 'allow-services-to-event-bus').spec?.ingress?.[0];
      if (ingress) delete ingress.from;
    });
    expect(checkFlowsDenied(open, forbiddenFlows(open))).toEqual([
      expect.stringMatching(/^ingress-nginx controller → StatefulSet\/event-bus:4005\/TCP is allowed/),
      expect.stringMatching(/^a pod in another namespace → StatefulSet\/event-bus:4005\/TCP is allowed/),
      expect.stringMatching(/^Prometheus in another namespace → StatefulSet\/event-bus:4005\/TCP is allowed/),
    ]);
  });
});

describe('the scrapes of a PodMonitor', () => {
  const podMonitor = (port: string): Manifest => ({
    file: 'infra/components/monitoring/pod-monitor.yaml',
    index: 0,
    object: {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'blog-services' },
      spec: {
        selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['posts', 'event-bus'] }] },
        podMetricsEndpoints: [{ port, path: '/metrics' }],
      },
    },
  });
  const scrapesOf = (all: readonly Manifest[]) =>
    requiredFlows(all)
      .filter((flow) => flow.why.includes('PodMonitor'))
      .map((flow) => `${flow.to.name}:${flow.port}`);

  it('are flows from Prometheus to the named port of each pod it selects, which the policies allow', () => {
    const withMonitor = [...manifests, podMonitor('http')];
    expect(scrapesOf(withMonitor).sort()).toEqual(['Deployment/posts-depl:4000', 'StatefulSet/event-bus:4005']);
    expect(checkFlowsAllowed(withMonitor, requiredFlows(withMonitor))).toEqual([]);
  });

  it('are blocked once the scrape policy is gone', () => {
    const withMonitor = mutatedCopy([...manifests, podMonitor('http')], (copy) => {
      const scrape = typedOf(copy, 'NetworkPolicy', 'allow-metrics-scrape');
      if (scrape.spec) scrape.spec.ingress = [];
    });
    expect(checkFlowsAllowed(withMonitor, requiredFlows(withMonitor))).toContainEqual(
      expect.stringMatching(
        /^Prometheus → Deployment\/posts-depl:4000\/TCP \(.*PodMonitor blog-services\)\) is blocked/,
      ),
    );
  });

  it('name a port the pods have', () => {
    expect(() => requiredFlows([...manifests, podMonitor('metrics')])).toThrow(/has no container port metrics/);
  });
});
