import { podSecurityProblems } from '../src/checks/pod-security';
import type { PodSpec } from '../src/manifests';

const AT = 'test StatefulSet/demo';

/** A pod the restricted level admits: non-root, RuntimeDefault seccomp at the pod, each container locked down. */
function admitted(): PodSpec {
  const locked = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  return {
    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    initContainers: [{ name: 'setup', image: 'setup', securityContext: { ...locked } }],
    containers: [
      {
        name: 'server',
        image: 'server',
        ports: [{ containerPort: 4222 }],
        readinessProbe: { httpGet: { path: '/healthz', port: 8222 } },
        securityContext: { ...locked, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } },
      },
    ],
    volumes: [
      { name: 'config', configMap: { name: 'config' } },
      { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
      { name: 'tmp', emptyDir: {} },
    ],
  };
}

function mutated(mutate: (pod: PodSpec & { containers: NonNullable<PodSpec['containers']> }) => void): PodSpec {
  const pod = admitted() as PodSpec & { containers: NonNullable<PodSpec['containers']> };
  mutate(pod);
  return pod;
}

function server(pod: PodSpec) {
  const container = pod.containers[0];
  if (!container?.securityContext) throw new Error('no server container');
  return { container, context: container.securityContext };
}

describe('the restricted Pod Security level', () => {
  it('admits a locked-down pod, NET_BIND_SERVICE added back and Localhost profiles included', () => {
    expect(podSecurityProblems(admitted(), AT)).toEqual([]);
    const localhost = mutated((pod) => {
      pod.securityContext = { runAsNonRoot: true, seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } };
      server(pod).context.appArmorProfile = { type: 'Localhost', localhostProfile: 'p' };
    });
    expect(
      podSecurityProblems(localhost, AT, { 'container.apparmor.security.beta.kubernetes.io/server': 'localhost/p' }),
    ).toEqual([]);
  });

  it('takes runAsNonRoot and seccomp from each container where the pod does not set them', () => {
    const perContainer = mutated((pod) => {
      pod.securityContext = {};
      for (const container of [...(pod.initContainers ?? []), ...pod.containers])
        container.securityContext = {
          ...container.securityContext,
          runAsNonRoot: true,
          seccompProfile: { type: 'RuntimeDefault' },
        };
    });
    expect(podSecurityProblems(perContainer, AT)).toEqual([]);
  });

  it('lets a pod in a user namespace (hostUsers: false) run as root', () => {
    const userNamespace = mutated((pod) => {
      pod.hostUsers = false;
      pod.securityContext = { runAsUser: 0, seccompProfile: { type: 'RuntimeDefault' } };
    });
    expect(podSecurityProblems(userNamespace, AT)).toEqual([]);
  });
});

describe('the Pod Security check catches', () => {
  it("the host's namespaces, hostPath and other node volumes, unsafe sysctls, Windows host processes", () => {
    const pod = mutated((pod) => {
      pod.hostNetwork = true;
      pod.hostPID = true;
      pod.hostIPC = true;
      pod.volumes?.push(
        { name: 'host', hostPath: { path: '/' } },
        { name: 'share', nfs: { server: 'nfs', path: '/' } },
      );
      pod.securityContext = {
        ...pod.securityContext,
        sysctls: [
          { name: 'net.ipv4.tcp_syncookies', value: '1' },
          { name: 'kernel.msgmax', value: '1' },
        ],
        windowsOptions: { hostProcess: true },
      };
    });
    expect(podSecurityProblems(pod, AT)).toEqual([
      `${AT}: hostNetwork is true (the host's namespace)`,
      `${AT}: hostPID is true (the host's namespace)`,
      `${AT}: hostIPC is true (the host's namespace)`,
      `${AT}: securityContext.windowsOptions.hostProcess is true`,
      `${AT}: volume host is a hostPath volume`,
      `${AT}: volume share is a nfs volume`,
      `${AT}: securityContext.sysctls kernel.msgmax are not among the safe ones`,
    ]);
  });

  it('a privileged container that may escalate, keeps capabilities or adds one, and an Unmasked /proc', () => {
    const pod = mutated((pod) => {
      const { context } = server(pod);
      context.privileged = true;
      delete context.allowPrivilegeEscalation;
      context.capabilities = { drop: ['NET_RAW'], add: ['NET_BIND_SERVICE', 'SYS_ADMIN'] };
      context.procMount = 'Unmasked';
    });
    expect(podSecurityProblems(pod, AT)).toEqual([
      `${AT} container server: securityContext.privileged is true`,
      `${AT} container server: securityContext.allowPrivilegeEscalation is not false`,
      `${AT} container server: securityContext.procMount is "Unmasked"`,
      `${AT} container server: securityContext.capabilities.drop does not include ALL`,
      `${AT} container server: securityContext.capabilities.add has SYS_ADMIN (only NET_BIND_SERVICE may be added)`,
    ]);
  });

  it('root: runAsNonRoot missing everywhere or false anywhere, runAsUser 0 on the pod or a container', () => {
    const missing = mutated((pod) => {
      pod.securityContext = { seccompProfile: { type: 'RuntimeDefault' } };
    });
    expect(podSecurityProblems(missing, AT)).toEqual([
      `${AT} init container setup: runAsNonRoot is not true (pod or container securityContext)`,
      `${AT} container server: runAsNonRoot is not true (pod or container securityContext)`,
    ]);
    const root = mutated((pod) => {
      pod.securityContext = { ...pod.securityContext, runAsUser: 0 };
      server(pod).context.runAsNonRoot = false;
      server(pod).context.runAsUser = 0;
    });
    expect(podSecurityProblems(root, AT)).toEqual([
      `${AT}: securityContext.runAsUser is 0 (root)`,
      `${AT} container server: securityContext.runAsNonRoot is false`,
      `${AT} container server: securityContext.runAsUser is 0 (root)`,
    ]);
  });

  it('no seccomp profile, or an Unconfined one on the pod or a container', () => {
    const none = mutated((pod) => {
      pod.securityContext = { runAsNonRoot: true };
      server(pod).context.seccompProfile = { type: 'RuntimeDefault' };
    });
    expect(podSecurityProblems(none, AT)).toEqual([
      `${AT} init container setup: seccompProfile.type is not RuntimeDefault or Localhost (pod or container securityContext)`,
    ]);
    const unconfined = mutated((pod) => {
      server(pod).context.seccompProfile = { type: 'Unconfined' };
    });
    expect(podSecurityProblems(unconfined, AT)).toEqual([
      `${AT} container server: securityContext.seccompProfile.type is "Unconfined"`,
    ]);
    const podUnconfined = mutated((pod) => {
      pod.securityContext = { runAsNonRoot: true, seccompProfile: { type: 'Unconfined' } };
    });
    expect(podSecurityProblems(podUnconfined, AT)).toEqual([
      `${AT}: securityContext.seccompProfile.type is "Unconfined"`,
      `${AT} init container setup: seccompProfile.type is not RuntimeDefault or Localhost (pod or container securityContext)`,
      `${AT} container server: seccompProfile.type is not RuntimeDefault or Localhost (pod or container securityContext)`,
    ]);
  });

  it('SELinux options beyond the container types, and AppArmor unconfined by field or annotation', () => {
    const pod = mutated((pod) => {
      pod.securityContext = {
        ...pod.securityContext,
        seLinuxOptions: { type: 'spc_t' },
        appArmorProfile: { type: 'Unconfined' },
      };
      server(pod).context.seLinuxOptions = { type: 'container_t', user: 'system_u', role: 'system_r' };
    });
    expect(
      podSecurityProblems(pod, AT, {
        'container.apparmor.security.beta.kubernetes.io/server': 'unconfined',
        'container.apparmor.security.beta.kubernetes.io/setup': 'runtime/default',
      }),
    ).toEqual([
      `${AT}: annotation container.apparmor.security.beta.kubernetes.io/server is "unconfined"`,
      `${AT}: securityContext.appArmorProfile.type is "Unconfined"`,
      `${AT}: securityContext.seLinuxOptions.type is "spc_t"`,
      `${AT} container server: securityContext.seLinuxOptions.user is set`,
      `${AT} container server: securityContext.seLinuxOptions.role is set`,
    ]);
  });

  it('host ports, and probes or lifecycle hooks aimed at another host', () => {
    const pod = mutated((pod) => {
      const { container } = server(pod);
      container.ports = [{ containerPort: 4222, hostPort: 4222 }];
      container.readinessProbe = { httpGet: { path: '/healthz', port: 8222, host: '10.0.0.1' } };
      container.lifecycle = { preStop: { tcpSocket: { port: 80, host: 'metadata' } } };
    });
    expect(podSecurityProblems(pod, AT)).toEqual([
      `${AT} container server: port 4222 has hostPort 4222`,
      `${AT} container server: readinessProbe.httpGet.host is "10.0.0.1"`,
      `${AT} container server: lifecycle.preStop.tcpSocket.host is "metadata"`,
    ]);
  });

  it('an ephemeral container (kubectl debug) as much as the others', () => {
    const pod = mutated((pod) => {
      pod.ephemeralContainers = [{ name: 'debug', image: 'busybox' }];
    });
    expect(podSecurityProblems(pod, AT)).toEqual([
      `${AT} ephemeral container debug: securityContext.allowPrivilegeEscalation is not false`,
      `${AT} ephemeral container debug: securityContext.capabilities.drop does not include ALL`,
    ]);
  });
});
