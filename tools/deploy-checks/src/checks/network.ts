/**
 * NetworkPolicy semantics, evaluated on the manifests: may pod A open a connection to pod B on a port?
 * (A pod is isolated in a direction once any policy selecting it has that policyType; then some rule of
 * such a policy must allow the peer and the port. Both the sender's egress and the receiver's ingress
 * must allow it.) Pods outside the manifests (the ingress controller, cluster DNS) are modelled with
 * their usual labels.
 */
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ofKind, selects, workloads, type LabelSelector, type Manifest } from '../manifests';

/** The namespace the manifests are deployed to (none of them names one). */
export const APP_NAMESPACE = 'app-namespace';

export interface PodModel {
  /** For messages: the workload or the outside component. */
  name: string;
  namespace: string;
  namespaceLabels: Record<string, string>;
  labels: Record<string, string>;
  ports: { name?: string; port: number; protocol: string }[];
}

export interface Connection {
  from: PodModel;
  to: PodModel;
  port: number;
  protocol?: 'TCP' | 'UDP';
}

function namespaceLabels(name: string): Record<string, string> {
  return { 'kubernetes.io/metadata.name': name };
}

/** The ingress-nginx controller as the official manifests/chart label it. */
export const INGRESS_NGINX: PodModel = {
  name: 'ingress-nginx controller',
  namespace: 'ingress-nginx',
  namespaceLabels: namespaceLabels('ingress-nginx'),
  labels: {
    'app.kubernetes.io/name': 'ingress-nginx',
    'app.kubernetes.io/instance': 'ingress-nginx',
    'app.kubernetes.io/component': 'controller',
  },
  ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
};

/** Prometheus, where the scrape policy looks for it. */
export const PROMETHEUS: PodModel = {
  name: 'Prometheus',
  namespace: 'monitoring',
  namespaceLabels: namespaceLabels('monitoring'),
  labels: { 'app.kubernetes.io/name': 'prometheus' },
  ports: [{ name: 'web', port: 9090, protocol: 'TCP' }],
};

/** The NGINX pods NGINX Gateway Fabric runs for the Gateway blog-gateway, in the Gateway's namespace. */
export const GATEWAY_NGINX: PodModel = {
  name: 'NGINX of Gateway blog-gateway',
  namespace: APP_NAMESPACE,
  namespaceLabels: namespaceLabels(APP_NAMESPACE),
  labels: { 'app.kubernetes.io/name': 'blog-gateway-nginx', 'gateway.networking.k8s.io/gateway-name': 'blog-gateway' },
  ports: [{ name: 'port-80', port: 80, protocol: 'TCP' }],
};

/** The NATS servers as the official chart labels them (release `nats`), in the blog's namespace. */
export const NATS_SERVER: PodModel = {
  name: 'NATS server',
  namespace: APP_NAMESPACE,
  namespaceLabels: namespaceLabels(APP_NAMESPACE),
  labels: {
    'app.kubernetes.io/name': 'nats',
    'app.kubernetes.io/instance': 'nats',
    'app.kubernetes.io/component': 'nats',
  },
  ports: [
    { name: 'nats', port: 4222, protocol: 'TCP' },
    { name: 'cluster', port: 6222, protocol: 'TCP' },
    { name: 'monitor', port: 8222, protocol: 'TCP' },
    { name: 'prom-metrics', port: 7777, protocol: 'TCP' },
  ],
};

/**
 * The OpenTelemetry Collector as its official chart runs it in deployment mode for the release `otel-collector`
 * (infra/helm/otel-collector), in the namespace `monitoring`: its pods' labels and OTLP ports (gRPC, HTTP).
 */
export const OTEL_COLLECTOR: PodModel = {
  name: 'OpenTelemetry Collector',
  namespace: 'monitoring',
  namespaceLabels: namespaceLabels('monitoring'),
  labels: {
    'app.kubernetes.io/name': 'opentelemetry-collector',
    'app.kubernetes.io/instance': 'otel-collector',
    component: 'standalone-collector',
  },
  ports: [
    { name: 'otlp', port: 4317, protocol: 'TCP' },
    { name: 'otlp-http', port: 4318, protocol: 'TCP' },
  ],
};

/** The Collector's Service, otel-collector in `monitoring`, with the ports it forwards to those of its pods. */
export const OTEL_COLLECTOR_SERVICE = { name: 'otel-collector', namespace: 'monitoring', ports: [4317, 4318] };

/** CoreDNS / kube-dns. */
export const KUBE_DNS: PodModel = {
  name: 'kube-dns',
  namespace: 'kube-system',
  namespaceLabels: namespaceLabels('kube-system'),
  labels: { 'k8s-app': 'kube-dns' },
  ports: [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  ],
};

/** The pods of the manifests' workloads, by workload name. */
export function podModels(manifests: readonly Manifest[]): Map<string, PodModel> {
  return new Map(
    workloads(manifests).map((workload) => [
      workload.name,
      {
        name: `${workload.kind}/${workload.name}`,
        namespace: APP_NAMESPACE,
        namespaceLabels: namespaceLabels(APP_NAMESPACE),
        labels: workload.labels,
        ports: (workload.pod.containers ?? []).flatMap((container) =>
          (container.ports ?? []).map((port) => ({
            ...(port.name ? { name: port.name } : {}),
            port: port.containerPort,
            protocol: port.protocol ?? 'TCP',
          })),
        ),
      },
    ]),
  );
}

type Peer = NonNullable<NonNullable<NonNullable<INetworkPolicy['spec']>['ingress']>[number]['from']>[number];
type PolicyPort = NonNullable<NonNullable<NonNullable<INetworkPolicy['spec']>['ingress']>[number]['ports']>[number];

function peerMatches(peer: Peer, policyNamespace: string, pod: PodModel): boolean {
  if (peer.ipBlock) return false; // pods are not addressed by IP here
  const podSelector: LabelSelector | undefined = peer.podSelector;
  const namespaceSelector: LabelSelector | undefined = peer.namespaceSelector;
  const namespaceOk = namespaceSelector
    ? selects(namespaceSelector, pod.namespaceLabels)
    : pod.namespace === policyNamespace;
  const podOk = podSelector ? selects(podSelector, pod.labels) : true;
  return namespaceOk && podOk;
}

function portMatches(rulePort: PolicyPort, destination: PodModel, port: number, protocol: string): boolean {
  if ((rulePort.protocol ?? 'TCP') !== protocol) return false;
  if (rulePort.port === undefined) return true;
  if (typeof rulePort.port === 'string')
    return destination.ports.some((p) => p.name === rulePort.port && p.port === port && p.protocol === protocol);
  return rulePort.endPort !== undefined ? port >= rulePort.port && port <= rulePort.endPort : port === rulePort.port;
}

function policyTypes(policy: INetworkPolicy): string[] {
  return policy.spec?.policyTypes ?? (policy.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress']);
}

/** Is the connection allowed? If not, which side blocks it. */
export function connectionVerdict(
  manifests: readonly Manifest[],
  { from, to, port, protocol = 'TCP' }: Connection,
): { allowed: boolean; blockedBy: string[] } {
  const policies = ofKind(manifests, 'NetworkPolicy').map((p) => ({
    name: p.name,
    namespace: APP_NAMESPACE,
    policy: p.typed,
  }));
  const blockedBy: string[] = [];

  const egressPolicies = policies.filter(
    ({ namespace, policy }) =>
      namespace === from.namespace &&
      policyTypes(policy).includes('Egress') &&
      selects(policy.spec?.podSelector ?? {}, from.labels),
  );
  const egressAllowed =
    egressPolicies.length === 0 ||
    egressPolicies.some(({ namespace, policy }) =>
      (policy.spec?.egress ?? []).some(
        (rule) =>
          ((rule.to ?? []).length === 0 || (rule.to ?? []).some((peer) => peerMatches(peer, namespace, to))) &&
          ((rule.ports ?? []).length === 0 || (rule.ports ?? []).some((p) => portMatches(p, to, port, protocol))),
      ),
    );
  if (!egressAllowed)
    blockedBy.push(`egress of ${from.name} (policies ${egressPolicies.map((p) => p.name).join(', ')})`);

  const ingressPolicies = policies.filter(
    ({ namespace, policy }) =>
      namespace === to.namespace &&
      policyTypes(policy).includes('Ingress') &&
      selects(policy.spec?.podSelector ?? {}, to.labels),
  );
  const ingressAllowed =
    ingressPolicies.length === 0 ||
    ingressPolicies.some(({ namespace, policy }) =>
      (policy.spec?.ingress ?? []).some(
        (rule) =>
          ((rule.from ?? []).length === 0 || (rule.from ?? []).some((peer) => peerMatches(peer, namespace, from))) &&
          ((rule.ports ?? []).length === 0 || (rule.ports ?? []).some((p) => portMatches(p, to, port, protocol))),
      ),
    );
  if (!ingressAllowed)
    blockedBy.push(`ingress of ${to.name} (policies ${ingressPolicies.map((p) => p.name).join(', ')})`);

  return { allowed: egressAllowed && ingressAllowed, blockedBy };
}

export interface Flow extends Connection {
  why: string;
}

/** The flows that must be allowed; returns one problem per blocked flow. */
export function checkFlowsAllowed(manifests: readonly Manifest[], flows: readonly Flow[]): string[] {
  return flows.flatMap((flow) => {
    const { allowed, blockedBy } = connectionVerdict(manifests, flow);
    return allowed
      ? []
      : [
          `${flow.from.name} → ${flow.to.name}:${flow.port}/${flow.protocol ?? 'TCP'} (${flow.why}) is blocked by the ${blockedBy.join(' and the ')}`,
        ];
  });
}

/** The flows that must stay denied (least privilege); returns one problem per allowed flow. */
export function checkFlowsDenied(manifests: readonly Manifest[], flows: readonly Flow[]): string[] {
  return flows.flatMap((flow) =>
    connectionVerdict(manifests, flow).allowed
      ? [
          `${flow.from.name} → ${flow.to.name}:${flow.port}/${flow.protocol ?? 'TCP'} is allowed, but should not be (${flow.why})`,
        ]
      : [],
  );
}
