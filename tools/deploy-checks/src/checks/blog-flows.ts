/**
 * The network flows the blog needs, read from the manifests themselves: the bus → its subscribers
 * (blog-config's EVENT_SUBSCRIBERS), each service holding a token → the bus (EVENT_BUS_URL), the way in → each route's backend (an Ingress's paths
 * from ingress-nginx, an HTTPRoute's backendRefs from the Gateway's NGINX), Prometheus → each pod's scrape
 * port (prometheus.io annotations) and to each port a PodMonitor scrapes, every pod → DNS; with the bus on NATS (a NATS_URL), the bus → NATS, NATS ⇄ NATS, NATS → DNS;
 * with tracing on (an OTLP endpoint in a pod's environment), the pod → the OpenTelemetry Collector's port.
 */
import { workloadsOfService } from './references';
import {
  GATEWAY_NGINX,
  INGRESS_NGINX,
  KUBE_DNS,
  NATS_SERVER,
  OTEL_COLLECTOR,
  OTEL_COLLECTOR_SERVICE,
  podModels,
  PROMETHEUS,
  type Flow,
  type PodModel,
} from './network';
import { nameOf, ofKind, selects, workloads, type IContainer, type LabelSelector, type Manifest } from '../manifests';

/** The pod behind a cluster URL (http://service:port), with the container port the Service sends to. */
function target(all: readonly Manifest[], url: URL): { pod: PodModel; port: number } {
  const service = ofKind(all, 'Service').find((s) => s.name === url.hostname);
  if (!service) throw new Error(`no Service ${url.hostname}`);
  const [workload] = workloadsOfService(service.typed, workloads(all));
  const servicePort = service.typed.spec?.ports?.find((p) => p.port === Number(url.port));
  const pod = workload && podModels(all).get(workload.name);
  const containerPort = workload?.pod.containers
    ?.flatMap((c) => c.ports ?? [])
    .find((p) =>
      typeof servicePort?.targetPort === 'string'
        ? p.name === servicePort.targetPort
        : p.containerPort === (servicePort?.targetPort ?? servicePort?.port),
    );
  if (!pod || !containerPort) throw new Error(`cannot resolve ${url.href}`);
  return { pod, port: containerPort.containerPort };
}

/** EVENT_SUBSCRIBERS' URLs; `none` (every service reads the log itself) lists none. */
function subscriberUrls(value: string | undefined): URL[] {
  if (value === undefined || value.trim() === 'none') return [];
  return value.split(',').map((url) => new URL(url.trim()));
}

export function requiredFlows(all: readonly Manifest[]): Flow[] {
  const data = ofKind(all, 'ConfigMap').find((c) => c.name === 'blog-config')?.typed.data ?? {};
  const bus = target(all, new URL(data.EVENT_BUS_URL ?? ''));
  const flows: Flow[] = [];
  for (const subscriber of subscriberUrls(data.EVENT_SUBSCRIBERS).map((url) => target(all, url)))
    flows.push({
      from: bus.pod,
      to: subscriber.pod,
      port: subscriber.port,
      why: 'the bus delivers events (EVENT_SUBSCRIBERS)',
    });
  for (const workload of workloads(all)) {
    const pod = podModels(all).get(workload.name);
    // A service holds its own token for the bus.
    const holdsToken = workload.containers.some((container) => container.env?.some((v) => v.name === 'EVENTS_TOKEN'));
    if (pod && pod !== bus.pod && holdsToken)
      flows.push({ from: pod, to: bus.pod, port: bus.port, why: 'publishing and reading the history (EVENT_BUS_URL)' });
  }
  for (const rule of ofKind(all, 'Ingress').flatMap((ingress) => ingress.typed.spec?.rules ?? [])) {
    for (const path of rule.http?.paths ?? []) {
      const service = path.backend.service;
      if (!service) continue;
      const { pod, port } = target(all, new URL(`http://${service.name}:${service.port?.number ?? 80}`));
      flows.push({ from: INGRESS_NGINX, to: pod, port, why: `the Ingress path ${path.path ?? ''}` });
    }
  }
  for (const route of ofKind(all, 'HTTPRoute')) {
    for (const backend of (route.typed.spec?.rules ?? []).flatMap((rule) => rule.backendRefs ?? [])) {
      const { pod, port } = target(all, new URL(`http://${backend.name}:${backend.port ?? 80}`));
      flows.push({ from: GATEWAY_NGINX, to: pod, port, why: `a backend of the HTTPRoute ${route.name}` });
    }
  }
  for (const workload of workloads(all)) {
    const port = Number(workload.template.metadata?.annotations?.['prometheus.io/port']);
    const pod = podModels(all).get(workload.name);
    if (pod && Number.isInteger(port))
      flows.push({
        from: PROMETHEUS,
        to: pod,
        port,
        why: 'Prometheus scrapes GET /metrics (prometheus.io annotations)',
      });
  }
  flows.push(...podMonitorFlows(all));
  flows.push(...otlpFlows(all));
  const onNats = workloads(all).find((workload) =>
    workload.containers.some((container) => container.env?.some((variable) => variable.name === 'NATS_URL')),
  );
  const natsBus = onNats && podModels(all).get(onNats.name);
  if (natsBus)
    flows.push(
      { from: natsBus, to: NATS_SERVER, port: 4222, why: 'the bus publishes and reads (NATS_URL)' },
      { from: NATS_SERVER, to: NATS_SERVER, port: 6222, why: 'the servers replicate (cluster routes)' },
      { from: NATS_SERVER, to: KUBE_DNS, port: 53, protocol: 'UDP', why: 'the servers find each other by name' },
    );
  for (const pod of podModels(all).values()) {
    flows.push(
      { from: pod, to: KUBE_DNS, port: 53, protocol: 'UDP', why: 'DNS' },
      { from: pod, to: KUBE_DNS, port: 53, protocol: 'TCP', why: 'DNS over TCP' },
    );
  }
  return flows;
}

/** Prometheus → each named port of the pods a PodMonitor (Prometheus Operator) selects. */
function podMonitorFlows(all: readonly Manifest[]): Flow[] {
  const flows: Flow[] = [];
  for (const monitor of all.filter((manifest) => manifest.object.kind === 'PodMonitor')) {
    const spec = monitor.object.spec as
      { selector?: LabelSelector; podMetricsEndpoints?: { port?: string }[] } | undefined;
    for (const workload of workloads(all)) {
      const pod = podModels(all).get(workload.name);
      if (!pod || !spec?.selector || !selects(spec.selector, workload.labels)) continue;
      for (const endpoint of spec.podMetricsEndpoints ?? []) {
        const port = workload.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === endpoint.port);
        if (!port)
          throw new Error(
            `PodMonitor ${nameOf(monitor)}: ${workload.name} has no container port ${endpoint.port ?? ''}`,
          );
        flows.push({
          from: PROMETHEUS,
          to: pod,
          port: port.containerPort,
          why: `Prometheus scrapes GET /metrics (PodMonitor ${nameOf(monitor)})`,
        });
      }
    }
  }
  return flows;
}

/** The variables an OpenTelemetry SDK reads its traces' destination from, the more specific first. */
const OTLP_ENDPOINT_VARIABLES = ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'] as const;

/** A container's variables from ConfigMaps and literal values: where its OTLP settings are (no Secret is read). */
function plainEnv(all: readonly Manifest[], container: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const configMap = ofKind(all, 'ConfigMap').find((candidate) => candidate.name === source.configMapRef?.name);
    for (const [key, value] of Object.entries(configMap?.typed.data ?? {})) env[(source.prefix ?? '') + key] = value;
  }
  for (const variable of container.env ?? []) if (variable.value !== undefined) env[variable.name] = variable.value;
  return env;
}

/**
 * Each pod whose containers are given an OTLP endpoint → the Collector on that URL's port. An endpoint that is
 * not the Collector's Service (otel-collector in `monitoring`) is an error: no flow to it can be checked.
 */
function otlpFlows(all: readonly Manifest[]): Flow[] {
  const flows: Flow[] = [];
  for (const workload of workloads(all)) {
    const pod = podModels(all).get(workload.name);
    const endpoints = new Map<number, string>();
    for (const container of workload.containers) {
      const env = plainEnv(all, container);
      const variable = OTLP_ENDPOINT_VARIABLES.find((name) => env[name] !== undefined);
      if (variable === undefined) continue;
      const url = new URL(env[variable] ?? '');
      const [service, namespace] = url.hostname.split('.');
      if (service !== OTEL_COLLECTOR_SERVICE.name || namespace !== OTEL_COLLECTOR_SERVICE.namespace)
        throw new Error(`${workload.name}: ${variable} ${url.href} is not the Collector's Service`);
      endpoints.set(Number(url.port || (url.protocol === 'https:' ? 443 : 80)), variable);
    }
    for (const [port, variable] of endpoints)
      if (pod)
        flows.push({ from: pod, to: OTEL_COLLECTOR, port, why: `spans to the OpenTelemetry Collector (${variable})` });
  }
  return flows;
}
