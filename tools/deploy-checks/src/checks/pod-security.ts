/**
 * The `restricted` level of the Kubernetes Pod Security Standards
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/), which a namespace labelled
 * `pod-security.kubernetes.io/enforce: restricted` admits: every control of the baseline level, and the
 * restricted level's own, at the standards' latest version, over the init, regular and ephemeral
 * containers. Pods with `hostUsers: false` (a user namespace) may run as root, as the standard allows. The
 * relaxations for Windows pods (`spec.os.name: windows`) are not modelled: such a pod is judged as a Linux one.
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEphemeralContainer } from 'kubernetes-models/v1/EphemeralContainer';
import type { PodSpec } from '../manifests';

type AnyContainer = IContainer | IEphemeralContainer;
type Profile = { type: string } | undefined;

/** The inline volume sources the restricted level allows (hostPath and the other node-level sources are out). */
export const RESTRICTED_VOLUME_SOURCES: ReadonlySet<string> = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/** The sysctls the baseline level calls safe: namespaced, and isolated from other pods on the node. */
export const SAFE_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ping_group_range',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_notsent_lowat',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_slow_start_after_idle',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.tcp_wmem',
]);

const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);
const ALLOWED_PROFILE_TYPES = new Set(['RuntimeDefault', 'Localhost']);
const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';
const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

/**
 * What keeps the pod out of a `restricted` namespace, one message per control and container, each starting
 * with `workloadLabel`; [] when the pod is admitted. `annotations` are the pod template's (AppArmor's
 * annotations are read from them).
 */
export function podSecurityProblems(
  pod: PodSpec,
  workloadLabel: string,
  annotations: Readonly<Record<string, string>> = {},
): string[] {
  const problems: string[] = [];
  const podProblem = (message: string) => problems.push(`${workloadLabel}: ${message}`);
  const podContext = pod.securityContext ?? {};
  const userNamespace = pod.hostUsers === false;
  const containers: [string, AnyContainer][] = [
    ...(pod.initContainers ?? []).map((c): [string, AnyContainer] => [`init container ${c.name}`, c]),
    ...(pod.containers ?? []).map((c): [string, AnyContainer] => [`container ${c.name}`, c]),
    ...(pod.ephemeralContainers ?? []).map((c): [string, AnyContainer] => [`ephemeral container ${c.name}`, c]),
  ];

  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const)
    if (pod[field] === true) podProblem(`${field} is true (the host's namespace)`);
  if (podContext.windowsOptions?.hostProcess === true) podProblem('securityContext.windowsOptions.hostProcess is true');

  for (const volume of pod.volumes ?? []) {
    const sources = Object.keys(volume).filter((key) => key !== 'name');
    for (const source of sources.filter((key) => !RESTRICTED_VOLUME_SOURCES.has(key)))
      podProblem(`volume ${volume.name} is a ${source} volume`);
  }

  const sysctls = (podContext.sysctls ?? []).map((sysctl) => sysctl.name).filter((name) => !SAFE_SYSCTLS.has(name));
  if (sysctls.length > 0) podProblem(`securityContext.sysctls ${sysctls.join(', ')} are not among the safe ones`);

  for (const [key, value] of Object.entries(annotations)) {
    if (
      key.startsWith(APPARMOR_ANNOTATION) &&
      !(value === '' || value === 'runtime/default' || value.startsWith('localhost/'))
    )
      podProblem(`annotation ${key} is ${JSON.stringify(value)}`);
  }
  profileProblem(podContext.appArmorProfile, 'securityContext.appArmorProfile', podProblem);
  seLinuxProblems(podContext.seLinuxOptions, 'securityContext', podProblem);

  if (!userNamespace) {
    if (podContext.runAsNonRoot === false) podProblem('securityContext.runAsNonRoot is false');
    if (podContext.runAsUser === 0) podProblem('securityContext.runAsUser is 0 (root)');
  }
  const podSeccomp = podContext.seccompProfile as Profile;
  profileProblem(podSeccomp, 'securityContext.seccompProfile', podProblem);

  for (const [which, container] of containers) {
    const problem = (message: string) => problems.push(`${workloadLabel} ${which}: ${message}`);
    const own = container.securityContext ?? {};
    if (own.privileged === true) problem('securityContext.privileged is true');
    if (own.allowPrivilegeEscalation !== false) problem('securityContext.allowPrivilegeEscalation is not false');
    if (own.windowsOptions?.hostProcess === true) problem('securityContext.windowsOptions.hostProcess is true');
    if (own.procMount !== undefined && own.procMount !== 'Default')
      problem(`securityContext.procMount is ${JSON.stringify(own.procMount)}`);

    if (!(own.capabilities?.drop ?? []).includes('ALL'))
      problem('securityContext.capabilities.drop does not include ALL');
    const added = (own.capabilities?.add ?? []).filter((capability) => capability !== 'NET_BIND_SERVICE');
    if (added.length > 0)
      problem(`securityContext.capabilities.add has ${added.join(', ')} (only NET_BIND_SERVICE may be added)`);

    if (!userNamespace) {
      if (own.runAsNonRoot === false) problem('securityContext.runAsNonRoot is false');
      else if (own.runAsNonRoot !== true && podContext.runAsNonRoot !== true)
        problem('runAsNonRoot is not true (pod or container securityContext)');
      if (own.runAsUser === 0) problem('securityContext.runAsUser is 0 (root)');
    }

    const seccomp = own.seccompProfile as Profile;
    if (seccomp) profileProblem(seccomp, 'securityContext.seccompProfile', problem);
    else if (!podSeccomp || !ALLOWED_PROFILE_TYPES.has(podSeccomp.type))
      problem('seccompProfile.type is not RuntimeDefault or Localhost (pod or container securityContext)');

    profileProblem(own.appArmorProfile, 'securityContext.appArmorProfile', problem);
    seLinuxProblems(own.seLinuxOptions, 'securityContext', problem);

    for (const port of container.ports ?? [])
      if (port.hostPort !== undefined && port.hostPort !== 0)
        problem(`port ${port.containerPort} has hostPort ${port.hostPort}`);
    const handlers = [
      ...PROBES.map((probe) => [probe, container[probe]] as const),
      ...(['postStart', 'preStop'] as const).map((hook) => [`lifecycle.${hook}`, container.lifecycle?.[hook]] as const),
    ];
    for (const [name, handler] of handlers) {
      for (const action of ['httpGet', 'tcpSocket'] as const) {
        const host = handler?.[action]?.host;
        if (host) problem(`${name}.${action}.host is ${JSON.stringify(host)}`);
      }
    }
  }
  return problems;
}

/** A seccomp or AppArmor profile, when set, must be the runtime's default or a profile on the node. */
function profileProblem(profile: Profile, field: string, problem: (message: string) => void): void {
  if (profile && !ALLOWED_PROFILE_TYPES.has(profile.type)) problem(`${field}.type is ${JSON.stringify(profile.type)}`);
}

function seLinuxProblems(
  options: { type?: string; user?: string; role?: string } | undefined,
  at: string,
  problem: (message: string) => void,
): void {
  if (options?.type !== undefined && !SELINUX_TYPES.has(options.type))
    problem(`${at}.seLinuxOptions.type is ${JSON.stringify(options.type)}`);
  if (options?.user) problem(`${at}.seLinuxOptions.user is set`);
  if (options?.role) problem(`${at}.seLinuxOptions.role is set`);
}
