/**
 * The Kubernetes manifests as data: every YAML document with where it came from, and typed
 * views (kubernetes-models' interfaces) of the kinds the checks look at.
 */
import { isDeepStrictEqual } from 'node:util';
import type { IGateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import type { IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { manifestFiles, readRepoFile } from './repo';

export type {
  IConfigMap,
  IContainer,
  IDeployment,
  IGateway,
  IHTTPRoute,
  IHorizontalPodAutoscaler,
  IIngress,
  INetworkPolicy,
  IPodDisruptionBudget,
  IPodTemplateSpec,
  ISecret,
  IService,
  IStatefulSet,
};
export type LabelSelector = NonNullable<NonNullable<IDeployment['spec']>['selector']>;
export type PodSpec = NonNullable<IPodTemplateSpec['spec']>;

/** A YAML document of a manifest: any object (the schema check decides whether it is a valid one). */
export interface KubeObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; labels?: unknown; annotations?: unknown };
  [field: string]: unknown;
}

export interface Manifest {
  /** Repo-relative file, e.g. infra/k8s/posts.yaml. */
  file: string;
  /** Position of the document in its file, from 0 (empty documents are skipped, not counted). */
  index: number;
  object: KubeObject;
}

export interface LoadedManifests {
  manifests: Manifest[];
  /** YAML errors, and scalars that YAML 1.1 (Kubernetes' parser) and 1.2 read differently. */
  problems: string[];
}

/** Parses YAML text that may hold several documents. */
export function parseManifestText(file: string, text: string): LoadedManifests {
  const problems: string[] = [];
  const manifests: Manifest[] = [];
  // Kubernetes' YAML library follows YAML 1.1 (`on`, `yes`, `0755` are not strings there); most editors
  // and tools follow 1.2. A value both read the same way is unambiguous.
  const v12 = parseAllDocuments(text, { version: '1.2', uniqueKeys: true });
  const v11 = parseAllDocuments(text, { version: '1.1', uniqueKeys: true });
  if (!Array.isArray(v12) || !Array.isArray(v11)) return { manifests, problems: [`${file}: not a YAML stream`] };
  let index = 0;
  v12.forEach((doc, position) => {
    for (const error of [...doc.errors, ...doc.warnings])
      problems.push(`${file}: document ${position + 1}: ${error.message}`);
    if (doc.errors.length > 0 || doc.contents === null) return;
    const object: unknown = doc.toJS();
    const object11: unknown = v11[position]?.toJS();
    if (!isDeepStrictEqual(object, object11)) {
      problems.push(
        `${file}: document ${position + 1} reads differently under YAML 1.1 (Kubernetes) and 1.2: quote ambiguous scalars such as yes/no/on/off or 0755`,
      );
    }
    if (typeof object !== 'object' || object === null || Array.isArray(object)) {
      problems.push(`${file}: document ${position + 1} is not a mapping`);
      return;
    }
    manifests.push({ file, index: index++, object: object as KubeObject });
  });
  return { manifests, problems };
}

/**
 * Every document of infra/k8s/*.yaml: plain files, which `kubectl apply -f infra/k8s` applies as they are
 * (the kustomizations of the variants are rendered by kubectl: kustomize.ts).
 */
export function loadManifests(files: readonly string[] = manifestFiles()): LoadedManifests {
  const all: LoadedManifests = { manifests: [], problems: [] };
  for (const file of files) {
    const { manifests, problems } = parseManifestText(file, readRepoFile(file));
    all.manifests.push(...manifests);
    all.problems.push(...problems);
  }
  return all;
}

export function nameOf(manifest: Manifest): string {
  const name = manifest.object.metadata?.name;
  return typeof name === 'string' ? name : `<document ${manifest.index + 1}>`;
}

/** `infra/k8s/posts.yaml Deployment/posts-depl`, for messages. */
export function label(manifest: Manifest): string {
  return `${manifest.file} ${String(manifest.object.kind)}/${nameOf(manifest)}`;
}

/** Kinds that are not in a namespace. */
const CLUSTER_SCOPED_KINDS = new Set(['Namespace']);

/**
 * Names, kinds and namespaces every document must have, and no two documents may share. Without `namespace`
 * (the course's files) no object names one: they go where kubectl or skaffold deploys them; an overlay puts
 * each object but a Namespace in its `namespace`.
 */
export function identityProblems(manifests: readonly Manifest[], namespace?: string): string[] {
  const problems: string[] = [];
  const seen = new Map<string, Manifest>();
  for (const manifest of manifests) {
    const { kind, metadata } = manifest.object;
    if (typeof kind !== 'string') problems.push(`${manifest.file} document ${manifest.index + 1}: no kind`);
    if (typeof metadata?.name !== 'string' || metadata.name === '')
      problems.push(`${label(manifest)}: no metadata.name`);
    const expected = CLUSTER_SCOPED_KINDS.has(String(kind)) ? undefined : namespace;
    if (metadata?.namespace !== expected) {
      problems.push(
        expected === undefined
          ? `${label(manifest)}: metadata.namespace is set; the manifests are deployed to the namespace skaffold/kubectl targets`
          : `${label(manifest)}: in the namespace ${String(metadata?.namespace)}, not ${expected}`,
      );
    }
    const key = `${String(kind)}/${String(metadata?.name)}`;
    const earlier = seen.get(key);
    if (earlier) problems.push(`${label(manifest)}: the same kind and name as ${label(earlier)}`);
    seen.set(key, manifest);
  }
  return problems;
}

/** The documents of one kind, typed (valid per the schema check; this only narrows the type). */
export interface KindMap {
  ConfigMap: IConfigMap;
  Namespace: INamespace;
  Secret: ISecret;
  Service: IService;
  Deployment: IDeployment;
  StatefulSet: IStatefulSet;
  PodDisruptionBudget: IPodDisruptionBudget;
  Ingress: IIngress;
  NetworkPolicy: INetworkPolicy;
  HorizontalPodAutoscaler: IHorizontalPodAutoscaler;
  Gateway: IGateway;
  HTTPRoute: IHTTPRoute;
}

export interface Typed<K extends keyof KindMap> extends Manifest {
  typed: KindMap[K];
  name: string;
}

export function ofKind<K extends keyof KindMap>(manifests: readonly Manifest[], kind: K): Typed<K>[] {
  return manifests
    .filter((manifest) => manifest.object.kind === kind)
    .map((manifest) => ({ ...manifest, typed: manifest.object as unknown as KindMap[K], name: nameOf(manifest) }));
}

/** A Deployment or StatefulSet: something that runs pods. */
export interface Workload {
  manifest: Manifest;
  kind: 'Deployment' | 'StatefulSet';
  name: string;
  selector: LabelSelector | undefined;
  template: IPodTemplateSpec;
  labels: Record<string, string>;
  pod: PodSpec;
  containers: IContainer[];
  /** Names of the StatefulSet's volumeClaimTemplates (mountable like volumes). */
  claimTemplates: string[];
}

export function workloads(manifests: readonly Manifest[]): Workload[] {
  const deployments = ofKind(manifests, 'Deployment').map((m) => ({
    m,
    kind: 'Deployment' as const,
    spec: m.typed.spec,
    claims: [] as string[],
  }));
  const statefulSets = ofKind(manifests, 'StatefulSet').map((m) => ({
    m,
    kind: 'StatefulSet' as const,
    spec: m.typed.spec,
    claims: (m.typed.spec?.volumeClaimTemplates ?? []).map((claim) => claim.metadata?.name ?? ''),
  }));
  return [...deployments, ...statefulSets].map(({ m, kind, spec, claims }) => {
    const template = spec?.template ?? {};
    const pod: PodSpec = template.spec ?? { containers: [] };
    return {
      manifest: m,
      kind,
      name: m.name,
      selector: spec?.selector,
      template,
      labels: template.metadata?.labels ?? {},
      pod,
      containers: [...(pod.initContainers ?? []), ...(pod.containers ?? [])],
      claimTemplates: claims,
    };
  });
}

/** The regular (not init) containers, which serve traffic and are probed. */
export function servingContainers(workload: Workload): IContainer[] {
  return workload.pod.containers ?? [];
}

/** Does a label selector (matchLabels + matchExpressions) select these labels? `{}` selects everything. */
export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const value = labels[key];
    switch (operator) {
      case 'In':
        if (!has || value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (has && value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function isEmptySelector(selector: LabelSelector | undefined): boolean {
  return (
    !selector ||
    (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0)
  );
}

/** A Service's selector is a plain map. */
export function selectsMap(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return selects({ matchLabels: selector }, labels);
}

/** A deep copy to mutate in negative tests. */
export function copyManifests(manifests: readonly Manifest[]): Manifest[] {
  return structuredClone([...manifests]);
}

/** The object of the named document, for mutating a copy in tests. */
/** A copy of the manifests changed by `mutate`: for showing that a check catches the change. */
export function mutatedCopy(manifests: readonly Manifest[], mutate: (copy: Manifest[]) => void): Manifest[] {
  const copy = copyManifests(manifests);
  mutate(copy);
  return copy;
}

export function objectOf(manifests: readonly Manifest[], kind: string, name: string): KubeObject {
  const found = manifests.find((m) => m.object.kind === kind && m.object.metadata?.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in the manifests`);
  return found.object;
}

/** Sets a field of the named object, by a path of keys and indexes (removes it when `value` is undefined): for mutated copies. */
export function setField(
  manifests: readonly Manifest[],
  kind: string,
  name: string,
  path: readonly (string | number)[],
  value: unknown,
): void {
  let node: Record<string | number, unknown> = objectOf(manifests, kind, name);
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/** Like objectOf, typed. */
export function typedOf<K extends keyof KindMap>(manifests: readonly Manifest[], kind: K, name: string): KindMap[K] {
  return objectOf(manifests, kind, name) as unknown as KindMap[K];
}

/** The workload running an image (by repository, ignoring any tag), with the container. */
export function containersRunning(
  all: readonly Workload[],
  image: string,
): { workload: Workload; container: IContainer }[] {
  const found: { workload: Workload; container: IContainer }[] = [];
  for (const workload of all)
    for (const container of workload.containers)
      if (container.image !== undefined && imageRepository(container.image) === image)
        found.push({ workload, container });
  return found;
}

/** `blog/posts:1.2@sha256:…` → `blog/posts` (the registry port's colon is kept). */
export function imageRepository(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  return lastColon > lastSlash ? withoutDigest.slice(0, lastColon) : withoutDigest;
}

/** envFrom (ConfigMaps and Secrets, in order), then env, which wins, as the kubelet does. */
export function containerEnv(
  manifests: readonly Manifest[],
  container: IContainer,
  where: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    if (source.configMapRef) {
      const configMap = ofKind(manifests, 'ConfigMap').find(
        (candidate) => candidate.name === source.configMapRef?.name,
      );
      if (!configMap) throw new Error(`${where}: envFrom ConfigMap ${source.configMapRef.name} does not exist`);
      for (const [key, value] of Object.entries(configMap.typed.data ?? {})) env[prefix + key] = value;
    }
    if (source.secretRef) {
      const secret = ofKind(manifests, 'Secret').find((candidate) => candidate.name === source.secretRef?.name);
      if (!secret) throw new Error(`${where}: envFrom Secret ${source.secretRef.name} does not exist`);
      for (const [key, value] of Object.entries(secret.typed.data ?? {}))
        env[prefix + key] = Buffer.from(value, 'base64').toString('utf8');
      for (const [key, value] of Object.entries(secret.typed.stringData ?? {})) env[prefix + key] = value;
    }
  }
  for (const variable of container.env ?? []) {
    env[variable.name] =
      variable.valueFrom === undefined ? (variable.value ?? '') : valueFromKey(manifests, variable, where);
  }
  return env;
}

/** The value of an env variable taken from a key of a ConfigMap or Secret (`valueFrom`); other sources are not resolved here. */
function valueFromKey(
  manifests: readonly Manifest[],
  variable: NonNullable<IContainer['env']>[number],
  where: string,
): string {
  const { configMapKeyRef, secretKeyRef } = variable.valueFrom ?? {};
  if (configMapKeyRef) {
    const value = ofKind(manifests, 'ConfigMap').find((candidate) => candidate.name === configMapKeyRef.name)?.typed
      .data?.[configMapKeyRef.key];
    if (value === undefined)
      throw new Error(
        `${where}: env ${variable.name}: ConfigMap ${configMapKeyRef.name ?? ''} has no key ${configMapKeyRef.key}`,
      );
    return value;
  }
  if (secretKeyRef) {
    const secret = ofKind(manifests, 'Secret').find((candidate) => candidate.name === secretKeyRef.name)?.typed;
    const encoded = secret?.data?.[secretKeyRef.key];
    const value =
      secret?.stringData?.[secretKeyRef.key] ??
      (encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8'));
    if (value === undefined)
      throw new Error(
        `${where}: env ${variable.name}: Secret ${secretKeyRef.name ?? ''} has no key ${secretKeyRef.key}`,
      );
    return value;
  }
  throw new Error(
    `${where}: env ${variable.name} uses a valueFrom other than a ConfigMap or Secret key, which is not resolved here`,
  );
}
