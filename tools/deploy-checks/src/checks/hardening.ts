/**
 * The hardening every pod template must have: non-root, read-only root filesystem (with an emptyDir at
 * /tmp), no privilege escalation, no capabilities, the runtime's seccomp profile, no service account
 * token, the three probes, requests and limits, and a grace period longer than the services' drain.
 */
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { label, workloads, type IContainer, type Manifest, type Workload } from '../manifests';

export interface HardeningOptions {
  /** How long a service drains in-flight requests after SIGTERM (common/src/service/server.ts); the grace period must exceed it. */
  drainSeconds: number;
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A Kubernetes quantity (`50m`, `1`, `256Mi`, `1e3`) as a number, or undefined when malformed. */
export function parseQuantity(quantity: string | number): number | undefined {
  if (typeof quantity === 'number') return quantity;
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$/.exec(
    quantity.trim(),
  );
  if (!match) return undefined;
  const base = Number(match[1]);
  if (match[2] !== undefined) return base * 10 ** Number(match[2].slice(1));
  const suffix = match[3] ?? '';
  return base * (BINARY[suffix] ?? DECIMAL[suffix] ?? Number.NaN);
}

function probePath(probe: IProbe | undefined): string | undefined {
  return probe?.httpGet?.path;
}

function checkProbes(container: IContainer, at: string, problems: string[]): void {
  const probes: [string, IProbe | undefined, string | undefined][] = [
    ['startupProbe', container.startupProbe, undefined],
    ['readinessProbe', container.readinessProbe, '/readyz'],
    ['livenessProbe', container.livenessProbe, '/healthz'],
  ];
  for (const [field, probe, expectedPath] of probes) {
    if (!probe) {
      problems.push(`${at}: no ${field}`);
      continue;
    }
    if (!probe.httpGet) {
      problems.push(`${at}: ${field} is not an httpGet probe`);
      continue;
    }
    if (expectedPath !== undefined && probePath(probe) !== expectedPath)
      problems.push(`${at}: ${field}.httpGet.path is ${JSON.stringify(probePath(probe))}, expected ${expectedPath}`);
    const port = probe.httpGet.port;
    const ports = container.ports ?? [];
    if (!ports.some((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port)))
      problems.push(`${at}: ${field}.httpGet.port ${JSON.stringify(port)} is not a containerPort of the container`);
  }
}

function checkResources(container: IContainer, at: string, problems: string[]): void {
  const { requests = {}, limits = {} } = container.resources ?? {};
  for (const resource of ['cpu', 'memory']) {
    const request = requests[resource];
    const limit = limits[resource];
    if (request === undefined) problems.push(`${at}: no resources.requests.${resource}`);
    if (limit === undefined) problems.push(`${at}: no resources.limits.${resource}`);
    if (request === undefined || limit === undefined) continue;
    const requested = parseQuantity(request);
    const limited = parseQuantity(limit);
    if (requested === undefined || limited === undefined)
      problems.push(`${at}: resources.${resource} ${String(request)}/${String(limit)} is not a quantity`);
    else if (requested > limited)
      problems.push(
        `${at}: resources.requests.${resource} ${String(request)} exceeds resources.limits.${resource} ${String(limit)}`,
      );
  }
}

function checkContainer(workload: Workload, container: IContainer, isInit: boolean, problems: string[]): void {
  const at = `${label(workload.manifest)} container ${container.name}`;
  const pod = workload.pod.securityContext ?? {};
  const own = container.securityContext ?? {};

  if ((own.runAsNonRoot ?? pod.runAsNonRoot) !== true)
    problems.push(`${at}: runAsNonRoot is not true (pod or container securityContext)`);
  if ((own.runAsUser ?? pod.runAsUser) === 0) problems.push(`${at}: runAsUser is 0 (root)`);
  if ((own.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault')
    problems.push(`${at}: seccompProfile.type is not RuntimeDefault (pod or container securityContext)`);
  if (own.allowPrivilegeEscalation !== false)
    problems.push(`${at}: securityContext.allowPrivilegeEscalation is not false`);
  if (own.readOnlyRootFilesystem !== true) problems.push(`${at}: securityContext.readOnlyRootFilesystem is not true`);
  if (own.privileged === true) problems.push(`${at}: securityContext.privileged is true`);
  if (!(own.capabilities?.drop ?? []).includes('ALL'))
    problems.push(`${at}: securityContext.capabilities.drop does not include ALL`);
  if ((own.capabilities?.add ?? []).length > 0)
    problems.push(`${at}: securityContext.capabilities.add ${JSON.stringify(own.capabilities?.add)}`);

  if (own.readOnlyRootFilesystem === true) {
    const tmp = (container.volumeMounts ?? []).find((mount) => mount.mountPath.replace(/\/+$/, '') === '/tmp');
    const volume = tmp && (workload.pod.volumes ?? []).find((v) => v.name === tmp.name);
    if (!tmp)
      problems.push(
        `${at}: readOnlyRootFilesystem without a volume mounted at /tmp (Node and the dev image write there)`,
      );
    else if (!volume?.emptyDir) problems.push(`${at}: /tmp is mounted from ${tmp.name}, which is not an emptyDir`);
    else if (tmp.readOnly) problems.push(`${at}: /tmp is mounted readOnly`);
  }

  if (!isInit) checkProbes(container, at, problems);
  checkResources(container, at, problems);
}

export function checkHardening(manifests: readonly Manifest[], { drainSeconds }: HardeningOptions): string[] {
  const problems: string[] = [];
  for (const workload of workloads(manifests)) {
    const where = label(workload.manifest);
    const pod = workload.pod;
    if (pod.automountServiceAccountToken !== false)
      problems.push(`${where}: spec.template.spec.automountServiceAccountToken is not false`);
    if (pod.terminationGracePeriodSeconds === undefined)
      problems.push(`${where}: spec.template.spec.terminationGracePeriodSeconds is not set`);
    else if (pod.terminationGracePeriodSeconds <= drainSeconds) {
      problems.push(
        `${where}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} is not longer than the ${drainSeconds} s the service drains after SIGTERM`,
      );
    }
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC)
      problems.push(`${where}: uses the host's network/PID/IPC namespace`);
    for (const volume of pod.volumes ?? [])
      if (volume.hostPath) problems.push(`${where}: volume ${volume.name} is a hostPath`);
    if ((pod.containers ?? []).length === 0) problems.push(`${where}: no containers`);
    for (const container of pod.initContainers ?? []) checkContainer(workload, container, true, problems);
    for (const container of pod.containers ?? []) checkContainer(workload, container, false, problems);
  }
  return problems;
}
