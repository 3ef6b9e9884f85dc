/**
 * What each environment's NATS values (layered: values.yaml, then <env>.yaml) must say, read without the
 * chart: the tested nats-server as the image, requests equal to limits and GOMEMLIMIT from the memory limit
 * for every container, the restricted Pod Security level, the spread over nodes and zones, the Prometheus
 * exporter, routes authenticated with a password read from the environment, and no secret value at all.
 */
import { NATS_ROUTE_USER } from '@blog/common/nats';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { PodSpec } from '../manifests';
import { isValuesMap, NATS_RELEASE, type NatsEnvironment, type Values } from '../nats-chart';
import { parseQuantity } from './hardening';
import { podSecurityProblems } from './pod-security';

/** GOMEMLIMIT as a share of the container's memory limit: the chart's advice (its README, "~80%"). */
export const GOMEMLIMIT_SHARE = 0.8;

/** The environments that run the Prometheus Operator, where the chart's PodMonitor goes too. */
export const PROMETHEUS_OPERATOR_ENVIRONMENTS: readonly NatsEnvironment[] = ['staging', 'production'];

/** Each value key of the chart that renders a container of the NATS pod, and the container's name. */
export const NATS_CONTAINERS = { container: 'nats', reloader: 'reloader', promExporter: 'prom-exporter' } as const;
type ContainerKey = keyof typeof NATS_CONTAINERS;

/** What the chart puts in the server's environment before the values' `env` (which it lists by name). */
const CHART_ENV = ['POD_NAME', 'SERVER_NAME'];

/** The Secret and key each password variable of the server is read from. */
export const NATS_PASSWORD_SOURCES: Readonly<Record<string, { name: string; key: string }>> = {
  NATS_PASSWORD: { name: 'nats-credentials', key: 'NATS_PASSWORD' },
  NATS_ADMIN_PASSWORD: { name: 'nats-admin-credentials', key: 'NATS_ADMIN_PASSWORD' },
  NATS_ROUTE_PASSWORD: { name: 'nats-route-credentials', key: 'NATS_ROUTE_PASSWORD' },
};

export function valueAt(values: Values, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (isValuesMap(node) ? node[key] : undefined), values);
}

function mapAt(values: Values, path: string): Values {
  const found = valueAt(values, path);
  return isValuesMap(found) ? found : {};
}

/** The containers the chart renders with these values (the reloader unless disabled, the exporter if enabled). */
export function renderedContainerKeys(values: Values): ContainerKey[] {
  return (Object.keys(NATS_CONTAINERS) as ContainerKey[]).filter(
    (key) =>
      key === 'container' ||
      (key === 'reloader' && valueAt(values, 'reloader.enabled') !== false) ||
      (key === 'promExporter' && valueAt(values, 'promExporter.enabled') === true),
  );
}

/** A container's resources: the chart's `container.resources`, or what `merge` puts in. */
function resourcesOf(values: Values, key: ContainerKey): Values {
  const own = key === 'container' ? mapAt(values, 'container.resources') : {};
  const merged = mapAt(values, `${key}.merge.resources`);
  return Object.keys(merged).length > 0 ? merged : own;
}

/** The env list a map of the chart's `env` renders to: its names in order (Go's templates range over sorted keys). */
function envNames(env: Values): string[] {
  return Object.keys(env).sort();
}

export interface NatsValuesOptions {
  /** The nats-server version the tests run (tools/scripts/nats-server.sh --version). */
  testedVersion: string;
}

export function natsValuesProblems(environment: NatsEnvironment, values: Values, options: NatsValuesOptions): string[] {
  return [
    ...imageProblems(values, options.testedVersion),
    ...resourceProblems(values),
    ...podSecurityOfValues(environment, values),
    ...spreadProblems(environment, values),
    ...exporterProblems(environment, values),
    ...routeProblems(values),
    ...environmentProblems(values),
    ...secretValueProblems(values),
  ];
}

/** The chart's own image repository and tag scheme, at the tested version: `nats:<version>-alpine`. */
export function imageProblems(values: Values, testedVersion: string): string[] {
  const problems: string[] = [];
  const { tag, ...other } = mapAt(values, 'container.image');
  if (tag !== `${testedVersion}-alpine`)
    problems.push(
      `container.image.tag is ${JSON.stringify(tag)}, not ${testedVersion}-alpine (the version the tests run)`,
    );
  const overrides = Object.entries(other).filter(([, value]) => value !== null && value !== undefined);
  if (overrides.length > 0)
    problems.push(
      `container.image sets ${overrides.map(([key]) => key).join(', ')}: the chart's image (nats) is the one tested`,
    );
  if (valueAt(values, 'global.image.registry')) problems.push('global.image.registry moves every image elsewhere');
  return problems;
}

function quantityOf(value: unknown): number | undefined {
  return typeof value === 'string' || typeof value === 'number' ? parseQuantity(value) : undefined;
}

/**
 * Every container with CPU and memory requests equal to its limits (the Guaranteed QoS class; Go sets
 * GOMAXPROCS from the CPU limit), and the server's GOMEMLIMIT at GOMEMLIMIT_SHARE of its memory limit, in
 * whole MiB: the garbage collector works harder before the limit is reached, instead of the pod being killed.
 */
export function resourceProblems(values: Values): string[] {
  const problems: string[] = [];
  for (const key of renderedContainerKeys(values)) {
    const resources = resourcesOf(values, key);
    const requests = isValuesMap(resources.requests) ? resources.requests : {};
    const limits = isValuesMap(resources.limits) ? resources.limits : {};
    for (const resource of ['cpu', 'memory']) {
      const [request, limit] = [requests[resource], limits[resource]];
      if (request === undefined || limit === undefined) {
        problems.push(`${key}: resources.requests.${resource} and resources.limits.${resource} must both be set`);
        continue;
      }
      const requested = quantityOf(request);
      if (requested === undefined || requested !== quantityOf(limit))
        problems.push(
          `${key}: resources.requests.${resource} ${JSON.stringify(request)} is not its limit ${JSON.stringify(limit)}`,
        );
    }
  }
  const memoryLimit = valueAt(resourcesOf(values, 'container'), 'limits.memory');
  const limitBytes = quantityOf(memoryLimit);
  const goMemLimit = valueAt(values, 'container.env.GOMEMLIMIT');
  if (limitBytes !== undefined) {
    const expected = `${Math.floor((GOMEMLIMIT_SHARE * limitBytes) / 2 ** 20)}MiB`;
    if (goMemLimit !== expected)
      problems.push(
        `container.env.GOMEMLIMIT is ${JSON.stringify(goMemLimit)}, expected ${expected} (${GOMEMLIMIT_SHARE * 100}% of the memory limit ${JSON.stringify(memoryLimit)})`,
      );
  }
  return problems;
}

/**
 * The NATS pod as far as the values shape it (the pod template's `merge`, each container's `merge`), held to
 * the restricted Pod Security level; and each container runs with a uid set, since the images set no user
 * (runAsNonRoot alone would make the kubelet refuse them) and a read-only root filesystem.
 */
export function podSecurityOfValues(environment: NatsEnvironment, values: Values): string[] {
  // The merge maps hold pod and container fields: the chart merges them into its pod template.
  const template = mapAt(values, 'podTemplate.merge.spec') as Partial<PodSpec>;
  const containers = renderedContainerKeys(values).map((key): IContainer => ({
    ...mapAt(values, `${key}.merge`),
    name: NATS_CONTAINERS[key],
  }));
  const pod: PodSpec = { ...template, containers: [...(template.containers ?? []), ...containers] };
  const at = `${environment} NATS pod`;
  const problems = podSecurityProblems(pod, at);
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    const runAsUser = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
    if (runAsUser === undefined)
      problems.push(`${at} container ${container.name}: no runAsUser (the image sets no user: it would run as root)`);
    if (container.securityContext?.readOnlyRootFilesystem !== true)
      problems.push(`${at} container ${container.name}: securityContext.readOnlyRootFilesystem is not true`);
  }
  if (valueAt(values, 'natsBox.enabled') !== false)
    problems.push('natsBox.enabled is not false (its pod is not locked down)');
  return problems;
}

const HOST = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';

/** One server per node everywhere; in production one per zone too, and both strictly. */
export function spreadProblems(environment: NatsEnvironment, values: Values): string[] {
  const problems: string[] = [];
  const spread = mapAt(values, 'podTemplate.topologySpreadConstraints');
  const strict = (key: string) => {
    const constraint = isValuesMap(spread[key]) ? spread[key] : undefined;
    if (!constraint) problems.push(`podTemplate.topologySpreadConstraints has no ${key}`);
    else if (constraint.maxSkew !== 1 || constraint.whenUnsatisfiable !== 'DoNotSchedule')
      problems.push(`podTemplate.topologySpreadConstraints.${key} is not maxSkew 1, DoNotSchedule`);
  };
  strict(HOST);
  if (environment === 'production') strict(ZONE);
  if (environment === 'staging' && !isValuesMap(spread[ZONE]))
    problems.push(`podTemplate.topologySpreadConstraints has no ${ZONE}`);
  return problems;
}

/** The exporter everywhere; its PodMonitor where the Prometheus Operator runs, and only there. */
export function exporterProblems(environment: NatsEnvironment, values: Values): string[] {
  const problems: string[] = [];
  if (valueAt(values, 'promExporter.enabled') !== true) problems.push('promExporter.enabled is not true');
  const wanted = PROMETHEUS_OPERATOR_ENVIRONMENTS.includes(environment);
  if ((valueAt(values, 'promExporter.podMonitor.enabled') === true) !== wanted)
    problems.push(`promExporter.podMonitor.enabled should be ${wanted} in ${environment}`);
  return problems;
}

/** The URLs NATS_ROUTE_URLS must hold: one per server of the StatefulSet, by the headless Service, with the route user. */
export function expectedRouteUrls(values: Values): string[] {
  const replicas = Number(valueAt(values, 'config.cluster.replicas') ?? 3);
  const port = Number(valueAt(values, 'config.cluster.port') ?? 6222);
  return Array.from(
    { length: replicas },
    (_, i) => `nats://${NATS_ROUTE_USER}:$(NATS_ROUTE_PASSWORD)@${NATS_RELEASE}-${i}.${NATS_RELEASE}-headless:${port}`,
  );
}

/**
 * Routes authenticated without the chart's routeURLs (which would write the password into the ConfigMap):
 * the cluster's authorization and its routes read from the server's environment, the URLs one per server.
 */
export function routeProblems(values: Values): string[] {
  const problems: string[] = [];
  const routeUrls = mapAt(values, 'config.cluster.routeURLs');
  if (routeUrls.user || routeUrls.password)
    problems.push('config.cluster.routeURLs.user/password are set: the chart writes them into the ConfigMap');
  for (const key of ['nameOverride', 'fullnameOverride', 'statefulSet.name', 'headlessService.name'])
    if (valueAt(values, key))
      problems.push(`${key} is set: the route URLs name the servers ${NATS_RELEASE}-<i>.${NATS_RELEASE}-headless`);
  const cluster = mapAt(values, 'config.cluster.merge');
  const authorization = isValuesMap(cluster.authorization) ? cluster.authorization : {};
  if (authorization.user !== NATS_ROUTE_USER || authorization.password !== '<< $NATS_ROUTE_PASSWORD >>')
    problems.push(
      `config.cluster.merge.authorization is not { user: ${NATS_ROUTE_USER}, password: << $NATS_ROUTE_PASSWORD >> }`,
    );
  if (cluster.routes !== '<< $NATS_ROUTE_URLS >>')
    problems.push('config.cluster.merge.routes is not << $NATS_ROUTE_URLS >>');
  const urls = valueAt(values, 'container.env.NATS_ROUTE_URLS');
  let parsed: unknown;
  try {
    parsed = typeof urls === 'string' ? JSON.parse(urls) : undefined;
  } catch {
    parsed = undefined;
  }
  const expected = expectedRouteUrls(values);
  if (JSON.stringify(parsed) !== JSON.stringify(expected))
    problems.push(
      `container.env.NATS_ROUTE_URLS is ${JSON.stringify(urls)}, expected the list ${JSON.stringify(expected)}`,
    );
  return problems;
}

/**
 * The server's environment: every `<< $VAR >>` of the config is a variable of the server container (else
 * nats-server refuses the config), every password variable comes from its Secret, and every `$(VAR)` a value
 * names is listed before it (Kubernetes expands only those).
 */
export function environmentProblems(values: Values): string[] {
  const problems: string[] = [];
  const env = mapAt(values, 'container.env');
  const names = [...CHART_ENV, ...envNames(env)];
  const walk = (node: unknown, at: string): void => {
    if (typeof node === 'string') {
      const variable = /^<<\s+\$(\w+)\s+>>$/.exec(node)?.[1];
      if (variable && !names.includes(variable))
        problems.push(`${at} reads $${variable}, which container.env does not set`);
    } else if (isValuesMap(node)) for (const [key, value] of Object.entries(node)) walk(value, `${at}.${key}`);
    else if (Array.isArray(node)) node.forEach((value, i) => walk(value, `${at}[${i}]`));
  };
  walk(valueAt(values, 'config'), 'config');
  for (const [name, source] of Object.entries(NATS_PASSWORD_SOURCES)) {
    const ref = valueAt(env, `${name}.valueFrom.secretKeyRef`);
    if (!isValuesMap(ref) || ref.name !== source.name || ref.key !== source.key)
      problems.push(`container.env.${name} is not read from the Secret ${source.name}, key ${source.key}`);
  }
  for (const [name, value] of Object.entries(env)) {
    if (typeof value !== 'string') continue;
    for (const [, referenced = ''] of value.matchAll(/\$\((\w+)\)/g)) {
      const index = names.indexOf(referenced);
      if (index < 0 || index >= names.indexOf(name))
        problems.push(`container.env.${name} names $(${referenced}), which is not listed before it`);
    }
  }
  return problems;
}

const SECRET_KEY = /^(password|pass|token|auth_token|secret|contents)$/i;
const SECRET_ENV = /PASSWORD|TOKEN|SECRET|CREDS|_KEY$/;
/** user:password@ in a URL whose password is not a variable reference `$(NAME)`. */
const URL_PASSWORD = /:\/\/[^/@:\s"]+:(?!\$\(\w+\)@)[^@/\s"]+@/;

/** No value that is a secret: secret keys hold `<< $VAR >>`, secret variables come from Secrets, URLs carry no password. */
export function secretValueProblems(values: Values): string[] {
  const problems: string[] = [];
  const walk = (node: unknown, at: string[]): void => {
    const here = at.join('.');
    const key = at[at.length - 1] ?? '';
    if (typeof node === 'string') {
      if (SECRET_KEY.test(key) && !/^<<\s+\$\w+\s+>>$/.test(node)) problems.push(`${here} holds a literal secret`);
      else if (URL_PASSWORD.test(node)) problems.push(`${here} holds a URL with a literal password`);
      else if (at[at.length - 2] === 'env' && SECRET_ENV.test(key))
        problems.push(`${here} is a literal, not from a Secret`);
    } else if (isValuesMap(node)) {
      if (at[at.length - 2] === 'env' && SECRET_ENV.test(key) && !isValuesMap(valueAt(node, 'valueFrom.secretKeyRef')))
        problems.push(`${here} is not read from a Secret (valueFrom.secretKeyRef)`);
      for (const [child, value] of Object.entries(node)) walk(value, [...at, child]);
    } else if (Array.isArray(node)) node.forEach((value, i) => walk(value, [...at, String(i)]));
  };
  walk(values, []);
  return problems;
}
