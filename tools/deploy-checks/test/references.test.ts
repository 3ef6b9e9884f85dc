import {
  checkConfigUrls,
  checkIngressBackends,
  checkPodReferences,
  checkPolicySelectors,
  checkServices,
  checkStatefulSetServices,
} from '../src/checks/references';
import { loadManifests, typedOf, mutatedCopy, type Manifest } from '../src/manifests';

const { manifests } = loadManifests();

/** A copy of the manifests, changed by `mutate`. */
function firstContainer(copy: Manifest[], name: string) {
  const container = typedOf(copy, 'Deployment', name).spec?.template.spec?.containers[0];
  if (!container) throw new Error(`${name} has no container`);
  return container;
}

describe('cross-references between the manifests', () => {
  it('each Service selects the pods of exactly one workload, and targets one of its containerPorts', () => {
    expect(checkServices(manifests)).toEqual([]);
  });

  it("the StatefulSet's serviceName is a headless Service selecting its pods", () => {
    expect(checkStatefulSetServices(manifests)).toEqual([]);
  });

  it('each Ingress backend is an existing Service and one of its ports', () => {
    expect(checkIngressBackends(manifests)).toEqual([]);
  });

  it('each URL in the ConfigMap names an existing Service (host) and one of its ports', () => {
    expect(checkConfigUrls(manifests)).toEqual([]);
  });

  it('PodDisruptionBudgets and NetworkPolicies select existing pods, and the budgets allow drains', () => {
    expect(checkPolicySelectors(manifests)).toEqual([]);
  });

  it('pods read existing ConfigMaps, mount declared volumes, listen on their containerPort; selectors match their own pods only', () => {
    expect(checkPodReferences(manifests)).toEqual([]);
  });
});

describe('the cross-reference checks catch', () => {
  it('a Service selecting no pods, or the pods of two workloads', () => {
    const none = mutatedCopy(manifests, (copy) => {
      const spec = typedOf(copy, 'Service', 'posts-clusterip-srv').spec;
      if (spec) spec.selector = { app: 'post' };
    });
    expect(checkServices(none)).toEqual([
      expect.stringMatching(
        /Service\/posts-clusterip-srv: spec.selector \{"app":"post"\} matches the pod template labels of 0 workloads/,
      ),
    ]);

    const two = mutatedCopy(manifests, (copy) => {
      const spec = typedOf(copy, 'Service', 'posts-clusterip-srv').spec;
      if (spec) spec.selector = { 'app.kubernetes.io/part-of': 'blog' };
    });
    expect(checkServices(two)).toEqual([expect.stringMatching(/matches the pod template labels of 6 workloads/)]);
  });

  it('a targetPort that is no containerPort, by name or by number', () => {
    const byName = mutatedCopy(manifests, (copy) => {
      const port = typedOf(copy, 'Service', 'comments-srv').spec?.ports?.[0];
      if (port) port.targetPort = 'web';
    });
    expect(checkServices(byName)).toEqual([
      expect.stringMatching(
        /comments-srv: spec.ports\[0\].targetPort "web" is not a TCP containerPort \(by name\) of Deployment\/comments-depl/,
      ),
    ]);

    const byNumber = mutatedCopy(manifests, (copy) => {
      const port = typedOf(copy, 'Service', 'comments-srv').spec?.ports?.[0];
      if (port) port.targetPort = 4000;
    });
    expect(checkServices(byNumber)).toEqual([
      expect.stringMatching(/targetPort 4000 is not a TCP containerPort \(by number\)/),
    ]);

    const rightNumber = mutatedCopy(manifests, (copy) => {
      const port = typedOf(copy, 'Service', 'comments-srv').spec?.ports?.[0];
      if (port) port.targetPort = 4001;
    });
    expect(checkServices(rightNumber)).toEqual([]);
  });

  it('an Ingress backend naming a missing Service or port', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const paths = typedOf(copy, 'Ingress', 'ingress-srv').spec?.rules?.[0]?.http?.paths ?? [];
      if (paths[0]?.backend.service) paths[0].backend.service.name = 'posts-srv';
      if (paths[1]?.backend.service) paths[1].backend.service.port = { number: 4000 };
    });
    expect(checkIngressBackends(broken)).toEqual([
      expect.stringMatching(/paths\[0\] \(\/posts\/create\): backend Service posts-srv does not exist/),
      expect.stringMatching(/paths\[1\] .*: backend port \{"number":4000\} is not a port of Service comments-srv/),
    ]);
  });

  it('a ConfigMap URL whose host is not a Service, or whose port is not one of its ports', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const data = typedOf(copy, 'ConfigMap', 'blog-config').data ?? {};
      data.EVENT_BUS_URL = 'http://event-bus:4005';
      data.EVENT_SUBSCRIBERS =
        'http://posts-clusterip-srv:4000,http://comments-srv:4011,http://query-srv.default.svc.cluster.local:4002';
    });
    expect(checkConfigUrls(broken)).toEqual([
      expect.stringMatching(/data.EVENT_BUS_URL: http:\/\/event-bus:4005 — host event-bus is not a Service/),
      expect.stringMatching(
        /data.EVENT_SUBSCRIBERS: http:\/\/comments-srv:4011 — port 4011 is not a port of Service comments-srv/,
      ),
    ]);
  });

  it('a PDB or NetworkPolicy selecting nothing (the default-deny {} is fine), and a PDB blocking drains', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const pdb = typedOf(copy, 'PodDisruptionBudget', 'posts-pdb');
      if (pdb.spec) pdb.spec.selector = { matchLabels: { app: 'post' } };
      const query = typedOf(copy, 'PodDisruptionBudget', 'query-pdb');
      if (query.spec) query.spec = { minAvailable: 1, selector: { matchLabels: { app: 'query' } } };
      const policy = typedOf(copy, 'NetworkPolicy', 'allow-services-to-event-bus');
      if (policy.spec) policy.spec.podSelector = { matchLabels: { app: 'eventbus' } };
    });
    expect(checkPolicySelectors(broken)).toEqual([
      expect.stringMatching(/PodDisruptionBudget\/posts-pdb: spec.selector .* selects no workload's pods/),
      expect.stringMatching(/PodDisruptionBudget\/query-pdb: allows no voluntary disruption of its 1 pod\(s\)/),
      expect.stringMatching(
        /NetworkPolicy\/allow-services-to-event-bus: spec.podSelector .* selects no workload's pods/,
      ),
    ]);
  });

  it('a missing ConfigMap, an undeclared volume, a PORT that is not the containerPort, overlapping selectors', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const container = firstContainer(copy, 'posts-depl');
      container.envFrom = [{ configMapRef: { name: 'blog-cfg' } }];
      container.volumeMounts = [{ name: 'temp', mountPath: '/tmp' }];
      container.env = [{ name: 'PORT', value: '4001' }];
      const spec = typedOf(copy, 'Deployment', 'query-depl').spec;
      if (spec) spec.selector = { matchLabels: { 'app.kubernetes.io/part-of': 'blog' } };
    });
    expect(checkPodReferences(broken)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/posts-depl container posts: envFrom ConfigMap blog-cfg does not exist/),
        expect.stringMatching(/posts-depl container posts: volumeMount temp \(\/tmp\) names no volume/),
        expect.stringMatching(/posts-depl container posts: env PORT=4001 but the containerPorts are \[4000\]/),
        expect.stringMatching(/Deployment\/query-depl: spec.selector also matches the pods of Deployment\/posts-depl/),
      ]),
    );
  });

  it('a StatefulSet whose serviceName is no Service', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const spec = typedOf(copy, 'StatefulSet', 'event-bus').spec;
      if (spec) spec.serviceName = 'event-bus';
    });
    expect(checkStatefulSetServices(broken)).toEqual([
      expect.stringMatching(/spec.serviceName event-bus is not a Service/),
    ]);
  });

  it('a StatefulSet whose serviceName is a Service with a cluster IP', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const spec = typedOf(copy, 'StatefulSet', 'event-bus').spec;
      if (spec) spec.serviceName = 'event-bus-srv';
    });
    expect(checkStatefulSetServices(broken)).toEqual([
      expect.stringMatching(/spec.serviceName event-bus-srv is not headless/),
    ]);
  });
});
