/**
 * Cross-references between the manifests: what names, selects or points at what. Each check returns the
 * problems it finds (empty = fine), so tests can run it on mutated copies too.
 */
import {
  label,
  isEmptySelector,
  ofKind,
  selects,
  selectsMap,
  workloads,
  type IContainer,
  type IService,
  type Manifest,
  type Workload,
} from '../manifests';
import { OTEL_COLLECTOR_SERVICE } from './network';

type ServicePort = NonNullable<NonNullable<IService['spec']>['ports']>[number];

/** The workloads whose pod template labels a Service's selector matches. */
export function workloadsOfService(service: IService, all: readonly Workload[]): Workload[] {
  const selector = service.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return [];
  return all.filter((workload) => selectsMap(selector, workload.labels));
}

/** The container port a Service port's targetPort (number, name, or default = port) lands on, if any. */
export function targetContainerPort(
  port: ServicePort,
  workload: Workload,
): { container: IContainer; containerPort: number } | undefined {
  const target = port.targetPort ?? port.port;
  const protocol = port.protocol ?? 'TCP';
  for (const container of workload.pod.containers ?? []) {
    for (const candidate of container.ports ?? []) {
      if ((candidate.protocol ?? 'TCP') !== protocol) continue;
      if (typeof target === 'number' ? candidate.containerPort === target : candidate.name === target)
        return { container, containerPort: candidate.containerPort };
    }
  }
  return undefined;
}

/** Each Service selects exactly one workload's pods, and each of its ports targets a containerPort there. */
export function checkServices(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  const all = workloads(manifests);
  for (const service of ofKind(manifests, 'Service')) {
    const where = label(service);
    const selector = service.typed.spec?.selector;
    if (service.typed.spec?.type === 'ExternalName') continue;
    if (!selector || Object.keys(selector).length === 0) {
      problems.push(`${where}: spec.selector is empty: the Service has no endpoints`);
      continue;
    }
    const selected = workloadsOfService(service.typed, all);
    if (selected.length !== 1) {
      problems.push(
        `${where}: spec.selector ${JSON.stringify(selector)} matches the pod template labels of ${selected.length} workloads (${selected.map((w) => `${w.kind}/${w.name}`).join(', ') || 'none'}); it must match exactly one`,
      );
      continue;
    }
    const [workload] = selected as [Workload];
    (service.typed.spec?.ports ?? []).forEach((port, i) => {
      if (!targetContainerPort(port, workload)) {
        const target = port.targetPort ?? port.port;
        problems.push(
          `${where}: spec.ports[${i}].targetPort ${JSON.stringify(target)} is not a ${port.protocol ?? 'TCP'} containerPort (by ${typeof target === 'number' ? 'number' : 'name'}) of ${workload.kind}/${workload.name}`,
        );
      }
    });
  }
  return problems;
}

/** Each StatefulSet's serviceName is a headless Service (clusterIP None, its pods' DNS names) selecting its pods. */
export function checkStatefulSetServices(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  const services = ofKind(manifests, 'Service');
  const all = workloads(manifests);
  for (const set of ofKind(manifests, 'StatefulSet')) {
    const serviceName = set.typed.spec?.serviceName;
    if (serviceName === undefined) continue;
    const service = services.find((s) => s.name === serviceName);
    const workload = all.find((w) => w.manifest.object === set.object);
    if (!service) problems.push(`${label(set)}: spec.serviceName ${serviceName} is not a Service in the manifests`);
    else if (workload && !workloadsOfService(service.typed, all).includes(workload))
      problems.push(`${label(set)}: spec.serviceName ${serviceName} does not select its pods`);
    else if (service.typed.spec?.clusterIP !== 'None')
      problems.push(
        `${label(set)}: spec.serviceName ${serviceName} is not headless (clusterIP: None), so its pods get no stable DNS names`,
      );
  }
  return problems;
}

function serviceHasPort(service: IService, port: { number?: number; name?: string }): boolean {
  return (service.spec?.ports ?? []).some((p) =>
    port.number !== undefined ? p.port === port.number : port.name !== undefined && p.name === port.name,
  );
}

/** Each Ingress backend names an existing Service and one of its ports. */
export function checkIngressBackends(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  const services = ofKind(manifests, 'Service');
  for (const ingress of ofKind(manifests, 'Ingress')) {
    const backends: { at: string; backend: NonNullable<NonNullable<typeof ingress.typed.spec>['defaultBackend']> }[] =
      [];
    if (ingress.typed.spec?.defaultBackend)
      backends.push({ at: 'spec.defaultBackend', backend: ingress.typed.spec.defaultBackend });
    (ingress.typed.spec?.rules ?? []).forEach((rule, r) =>
      (rule.http?.paths ?? []).forEach((path, p) =>
        backends.push({ at: `spec.rules[${r}].http.paths[${p}] (${path.path ?? ''})`, backend: path.backend }),
      ),
    );
    for (const { at, backend } of backends) {
      if (!backend.service) {
        problems.push(`${label(ingress)}: ${at}: the backend is not a Service`);
        continue;
      }
      const { name, port } = backend.service;
      const service = services.find((s) => s.name === name);
      if (!service) problems.push(`${label(ingress)}: ${at}: backend Service ${name} does not exist`);
      else if (!port || !serviceHasPort(service.typed, port))
        problems.push(
          `${label(ingress)}: ${at}: backend port ${JSON.stringify(port ?? null)} is not a port of Service ${name}`,
        );
    }
  }
  return problems;
}

/** The http(s) URLs in a ConfigMap value (a URL or a comma-separated list of them). */
export function urlsIn(value: string): URL[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => /^[a-z][a-z0-9+.-]*:\/\//i.test(item))
    .map((item) => new URL(item));
}

/** The Service a cluster-internal host name refers to: `name`, `name.ns`, `name.ns.svc[.cluster.local]`. */
export function serviceNameOfHost(hostname: string): string | undefined {
  const parts = hostname.split('.');
  if (parts.length === 1 || parts.length === 2) return parts[0];
  if (parts.length >= 3 && parts[2] === 'svc' && (parts.length === 3 || parts.slice(3).join('.') === 'cluster.local'))
    return parts[0];
  return undefined;
}

/** Keys whose URLs are where browsers load pages from (CORS_ORIGINS), not addresses inside the cluster. */
const BROWSER_ORIGIN_KEY = /_ORIGINS$/;

/** A Service another namespace holds (a Helm release's), which a URL reaches as `name.namespace[.svc...]`. */
export interface ServiceElsewhere {
  name: string;
  namespace: string;
  ports: readonly number[];
}

/**
 * Each URL in a ConfigMap names an existing Service (host) and one of its ports: a Service of the manifests,
 * or one of `elsewhere` named with its namespace.
 */
export function checkConfigUrls(
  manifests: readonly Manifest[],
  elsewhere: readonly ServiceElsewhere[] = [OTEL_COLLECTOR_SERVICE],
): string[] {
  const problems: string[] = [];
  const services = ofKind(manifests, 'Service');
  for (const configMap of ofKind(manifests, 'ConfigMap')) {
    for (const [key, value] of Object.entries(configMap.typed.data ?? {})) {
      if (BROWSER_ORIGIN_KEY.test(key)) continue;
      let urls: URL[];
      try {
        urls = urlsIn(value);
      } catch {
        problems.push(`${label(configMap)}: data.${key} holds a malformed URL: ${value}`);
        continue;
      }
      for (const url of urls) {
        const name = serviceNameOfHost(url.hostname);
        const service = services.find((s) => s.name === name);
        const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
        const namespace = name === undefined ? undefined : url.hostname.split('.')[1];
        const other = elsewhere.find((s) => s.name === name && s.namespace === namespace);
        if (other) {
          if (!other.ports.includes(port))
            problems.push(
              `${label(configMap)}: data.${key}: ${url.origin} — port ${port} is not a port of Service ${other.namespace}/${other.name}`,
            );
        } else if (!service)
          problems.push(
            `${label(configMap)}: data.${key}: ${url.origin} — host ${url.hostname} is not a Service in the manifests`,
          );
        else if (!serviceHasPort(service.typed, { number: port }))
          problems.push(
            `${label(configMap)}: data.${key}: ${url.origin} — port ${port} is not a port of Service ${service.name}`,
          );
      }
    }
  }
  return problems;
}

/**
 * PDB selectors and NetworkPolicy podSelectors select at least one workload's pods ({} excepted), or one of
 * `podsMadeElsewhere`: the labels of pods another controller runs in the namespace (a Helm release, the
 * Gateway's NGINX).
 */
export function checkPolicySelectors(
  manifests: readonly Manifest[],
  podsMadeElsewhere: readonly Record<string, string>[] = [],
): string[] {
  const problems: string[] = [];
  const all = workloads(manifests);
  for (const pdb of ofKind(manifests, 'PodDisruptionBudget')) {
    const selector = pdb.typed.spec?.selector;
    if (isEmptySelector(selector)) {
      problems.push(`${label(pdb)}: spec.selector is empty: the budget would cover every pod in the namespace`);
      continue;
    }
    const selected = all.filter((w) => selector && selects(selector, w.labels));
    if (selected.length === 0)
      problems.push(`${label(pdb)}: spec.selector ${JSON.stringify(selector)} selects no workload's pods`);
    // minAvailable as high as the replicas makes every voluntary eviction wait forever (node drains hang).
    const minAvailable = pdb.typed.spec?.minAvailable;
    const maxUnavailable = pdb.typed.spec?.maxUnavailable;
    const replicas = selected.reduce((sum, w) => sum + replicasOf(w, manifests), 0);
    if (
      (typeof minAvailable === 'number' && minAvailable >= replicas && replicas > 0) ||
      minAvailable === '100%' ||
      maxUnavailable === 0 ||
      maxUnavailable === '0%'
    ) {
      problems.push(`${label(pdb)}: allows no voluntary disruption of its ${replicas} pod(s): node drains would block`);
    }
  }
  for (const policy of ofKind(manifests, 'NetworkPolicy')) {
    const selector = policy.typed.spec?.podSelector;
    if (isEmptySelector(selector)) continue;
    const labelSets = [...all.map((w) => w.labels), ...podsMadeElsewhere];
    if (!labelSets.some((labels) => selector && selects(selector, labels)))
      problems.push(`${label(policy)}: spec.podSelector ${JSON.stringify(selector)} selects no workload's pods`);
  }
  return problems;
}

/** The fewest pods the workload runs: its autoscaler's minReplicas (1 by default) when one scales it, else its replicas (1 by default). */
export function replicasOf(workload: Workload, manifests: readonly Manifest[]): number {
  const autoscaler = ofKind(manifests, 'HorizontalPodAutoscaler').find(
    ({ typed }) =>
      typed.spec?.scaleTargetRef.kind === workload.kind && typed.spec.scaleTargetRef.name === workload.name,
  );
  if (autoscaler) return autoscaler.typed.spec?.minReplicas ?? 1;
  const spec = (workload.manifest.object as { spec?: { replicas?: unknown } }).spec;
  return typeof spec?.replicas === 'number' ? spec.replicas : 1;
}

/**
 * Inside each pod: the workload's selector matches its own template (the API server insists) and no
 * other workload's pods; the ConfigMaps/Secrets it reads exist (with the keys it reads; a Secret an
 * ExternalSecret makes exists, with keys only the store knows when it copies whole entries); every
 * volumeMount names a volume; a PORT variable equals the container's port.
 */
export function checkPodReferences(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  const all = workloads(manifests);
  const configMaps = ofKind(manifests, 'ConfigMap');
  const secrets = ofKind(manifests, 'Secret');
  const configMapKeys = (name: string) => {
    const found = configMaps.find((c) => c.name === name);
    return found
      ? new Set([...Object.keys(found.typed.data ?? {}), ...Object.keys(found.typed.binaryData ?? {})])
      : undefined;
  };
  const externalSecrets = externalSecretTargets(manifests);
  const secretKeys = (name: string): { has(key: string): boolean } | undefined => {
    const found = secrets.find((s) => s.name === name);
    if (found) return new Set([...Object.keys(found.typed.data ?? {}), ...Object.keys(found.typed.stringData ?? {})]);
    const external = externalSecrets.get(name);
    return external === 'any key' ? { has: () => true } : external;
  };

  for (const workload of all) {
    const where = label(workload.manifest);
    if (!workload.selector || isEmptySelector(workload.selector)) problems.push(`${where}: spec.selector is empty`);
    else {
      if (!selects(workload.selector, workload.labels))
        problems.push(`${where}: spec.selector does not match spec.template.metadata.labels`);
      for (const other of all) {
        if (other !== workload && selects(workload.selector, other.labels))
          problems.push(`${where}: spec.selector also matches the pods of ${other.kind}/${other.name}`);
      }
    }

    const volumes = new Set([...(workload.pod.volumes ?? []).map((v) => v.name), ...workload.claimTemplates]);
    for (const volume of workload.pod.volumes ?? []) {
      if (volume.configMap?.name && !volume.configMap.optional && !configMapKeys(volume.configMap.name))
        problems.push(`${where}: volume ${volume.name}: ConfigMap ${volume.configMap.name} does not exist`);
      if (volume.secret?.secretName && !volume.secret.optional && !secretKeys(volume.secret.secretName))
        problems.push(`${where}: volume ${volume.name}: Secret ${volume.secret.secretName} does not exist`);
    }

    for (const container of workload.containers) {
      const at = `${where} container ${container.name}`;
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef?.name && !source.configMapRef.optional && !configMapKeys(source.configMapRef.name))
          problems.push(`${at}: envFrom ConfigMap ${source.configMapRef.name} does not exist`);
        if (source.secretRef?.name && !source.secretRef.optional && !secretKeys(source.secretRef.name))
          problems.push(`${at}: envFrom Secret ${source.secretRef.name} does not exist`);
      }
      for (const variable of container.env ?? []) {
        const cm = variable.valueFrom?.configMapKeyRef;
        const secret = variable.valueFrom?.secretKeyRef;
        if (cm && !cm.optional && !configMapKeys(cm.name ?? '')?.has(cm.key))
          problems.push(`${at}: env ${variable.name}: ConfigMap ${cm.name ?? ''} has no key ${cm.key}`);
        if (secret && !secret.optional && !secretKeys(secret.name ?? '')?.has(secret.key))
          problems.push(`${at}: env ${variable.name}: Secret ${secret.name ?? ''} has no key ${secret.key}`);
      }
      for (const mount of container.volumeMounts ?? []) {
        if (!volumes.has(mount.name))
          problems.push(`${at}: volumeMount ${mount.name} (${mount.mountPath}) names no volume or volumeClaimTemplate`);
      }
      const portVariable = (container.env ?? []).find((variable) => variable.name === 'PORT');
      const containerPorts = (container.ports ?? []).map((p) => p.containerPort);
      if (
        portVariable?.value !== undefined &&
        !(containerPorts.length === 1 && String(containerPorts[0]) === portVariable.value)
      ) {
        problems.push(
          `${at}: env PORT=${portVariable.value} but the containerPorts are ${JSON.stringify(containerPorts)}: the server would listen where no Service sends traffic`,
        );
      }
    }
  }
  return problems;
}

/** An ExternalSecret as far as these checks read it (external-secrets.io/v1). */
interface ExternalSecretSpec {
  target?: { name?: string };
  data?: { secretKey: string }[];
  dataFrom?: unknown[];
}

/**
 * The Secrets the manifests' ExternalSecrets make, by name: the keys each holds, or 'any key' when it copies
 * whole entries of the store (dataFrom), whose keys only the store knows.
 */
export function externalSecretTargets(manifests: readonly Manifest[]): Map<string, Set<string> | 'any key'> {
  const targets = new Map<string, Set<string> | 'any key'>();
  for (const manifest of manifests) {
    if (manifest.object.kind !== 'ExternalSecret') continue;
    const spec = (manifest.object as { spec?: ExternalSecretSpec }).spec ?? {};
    const name = spec.target?.name ?? String(manifest.object.metadata?.name);
    targets.set(
      name,
      (spec.dataFrom?.length ?? 0) > 0 ? 'any key' : new Set((spec.data ?? []).map((entry) => entry.secretKey)),
    );
  }
  return targets;
}
