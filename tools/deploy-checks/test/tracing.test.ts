/**
 * The tracing component (infra/components/tracing): every blog pod told to send its spans to the OpenTelemetry
 * Collector's Service by OTLP/HTTP, and, with the network-policies component, allowed exactly that port of the
 * Collector's pods — in the overlays that switch it on and on the base with or without NATS.
 */
import { requiredFlows } from '../src/checks/blog-flows';
import {
  checkFlowsAllowed,
  checkFlowsDenied,
  OTEL_COLLECTOR,
  podModels,
  type Flow,
  type PodModel,
} from '../src/checks/network';
import { checkConfigUrls } from '../src/checks/references';
import { OVERLAYS, renderComponents } from '../src/environments';
import { mutatedCopy, objectOf, ofKind, workloads, type Manifest } from '../src/manifests';
import { overlayRender } from './support/renders';

const ENDPOINT = 'http://otel-collector.monitoring.svc.cluster.local:4318';
const withNats = renderComponents([
  'restricted-namespace',
  'network-policies',
  'gateway',
  'jetstream',
  'tracing',
  'dev-secrets',
]);
const onBase = renderComponents(['restricted-namespace', 'network-policies', 'gateway', 'tracing', 'dev-secrets']);

const configOf = (manifests: readonly Manifest[]) =>
  ofKind(manifests, 'ConfigMap').find((configMap) => configMap.name === 'blog-config')?.typed.data ?? {};

/** A copy of the manifests with blog-config's data changed. */
function withConfig(manifests: readonly Manifest[], data: Record<string, string>): Manifest[] {
  return mutatedCopy(manifests, (copy) => {
    const config = objectOf(copy, 'ConfigMap', 'blog-config') as { data?: Record<string, string> };
    config.data = { ...config.data, ...data };
  });
}

interface EgressRule {
  to?: { namespaceSelector?: { matchLabels?: Record<string, string> } }[];
}

/** A copy of the manifests whose NetworkPolicies lose every egress rule towards the namespace `monitoring`. */
function withoutCollectorEgress(manifests: readonly Manifest[]): Manifest[] {
  return mutatedCopy(manifests, (copy) => {
    for (const manifest of copy.filter((m) => m.object.kind === 'NetworkPolicy')) {
      const spec = manifest.object.spec as { egress?: EgressRule[] };
      spec.egress = spec.egress?.filter(
        (rule) =>
          !rule.to?.some(
            (peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring',
          ),
      );
    }
  });
}

describe('the tracing component', () => {
  it.each(OVERLAYS.map((overlay) => [overlay, ['staging', 'production'].includes(overlay)] as const))(
    '%s: tracing on = %s',
    (overlay, on) => {
      const config = configOf(overlayRender(overlay).manifests);
      expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(on ? ENDPOINT : undefined);
    },
  );

  it('gives every pod OTLP/HTTP (http/protobuf) to the Collector, every span of a trace started here kept', () => {
    expect(configOf(withNats.manifests)).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '1',
    });
    const envFromConfig = workloads(withNats.manifests).every((workload) =>
      workload.pod.containers?.every((container) =>
        container.envFrom?.some((source) => source.configMapRef?.name === 'blog-config'),
      ),
    );
    expect(envFromConfig).toBe(true);
  });

  it.each([
    ['on the base', onBase.manifests],
    ['with NATS', withNats.manifests],
  ])('%s: every pod may reach the Collector on 4318 and nothing else of it', (_name, manifests) => {
    const flows = requiredFlows(manifests).filter((flow) => flow.to === OTEL_COLLECTOR);
    expect(flows.map((flow) => flow.from.name).sort()).toEqual(
      [...podModels(manifests).values()].map((pod) => pod.name).sort(),
    );
    expect(checkFlowsAllowed(manifests, flows)).toEqual([]);
    const grpc: Flow[] = flows.map((flow) => ({ ...flow, port: 4317, why: 'OTLP/gRPC is not what the pods use' }));
    const elsewhere: PodModel = { ...OTEL_COLLECTOR, name: 'another pod in monitoring', labels: { app: 'other' } };
    const other: Flow[] = flows.map((flow) => ({ ...flow, to: elsewhere, why: 'only the Collector' }));
    expect(checkFlowsDenied(manifests, [...grpc, ...other])).toEqual([]);
  });

  it('fails the checks when the egress rule is missing, the port is not the Service’s, or the host is not the Collector', () => {
    const blocked = checkFlowsAllowed(withoutCollectorEgress(withNats.manifests), requiredFlows(withNats.manifests));
    expect(blocked.filter((problem) => problem.includes('OpenTelemetry Collector:4318'))).toHaveLength(
      podModels(withNats.manifests).size,
    );
    expect(
      checkConfigUrls(withConfig(onBase.manifests, { OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT.replace('4318', '4319') })),
    ).toEqual([
      expect.stringMatching(
        /data\.OTEL_EXPORTER_OTLP_ENDPOINT: .*:4319 — port 4319 is not a port of Service monitoring\/otel-collector$/,
      ),
    ]);
    expect(() =>
      requiredFlows(withConfig(onBase.manifests, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://tempo.monitoring:4318' })),
    ).toThrow(/is not the Collector's Service/);
  });
});
