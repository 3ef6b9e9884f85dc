import { DEFAULT_DRAIN_TIMEOUT_MS } from '@blog/common';
import { checkHardening, parseQuantity } from '../src/checks/hardening';
import { loadManifests, typedOf, workloads, mutatedCopy, type Manifest } from '../src/manifests';

const { manifests } = loadManifests();

/** Every service drains for up to runService's bound on SIGTERM: the pods' grace periods must outlast it. */
const options = { drainSeconds: DEFAULT_DRAIN_TIMEOUT_MS / 1000 };

function podOf(copy: Manifest[], name: string) {
  const pod = typedOf(copy, 'Deployment', name).spec?.template.spec;
  const container = pod?.containers[0];
  if (!pod || !container) throw new Error(`${name} has no pod spec`);
  return { pod, container };
}

describe('pod hardening', () => {
  it('covers every workload', () => {
    expect(
      workloads(manifests)
        .map((w) => `${w.kind}/${w.name}`)
        .sort(),
    ).toEqual([
      'Deployment/client-depl',
      'Deployment/comments-depl',
      'Deployment/moderation-depl',
      'Deployment/posts-depl',
      'Deployment/query-depl',
      'StatefulSet/event-bus',
    ]);
  });

  it('every pod template: non-root, read-only root with an emptyDir /tmp, no escalation, no capabilities, RuntimeDefault seccomp, no token, probes, requests and limits, a grace period', () => {
    expect(checkHardening(manifests, options)).toEqual([]);
  });

  it('reads quantities', () => {
    expect(parseQuantity('50m')).toBeCloseTo(0.05);
    expect(parseQuantity('1')).toBe(1);
    expect(parseQuantity(2)).toBe(2);
    expect(parseQuantity('256Mi')).toBe(256 * 2 ** 20);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('lots')).toBeUndefined();
  });
});

describe('the hardening check catches', () => {
  it('a pod that mounts the token, runs as root, may escalate, keeps capabilities, has no seccomp profile', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const { pod, container } = podOf(copy, 'posts-depl');
      delete pod.automountServiceAccountToken;
      pod.securityContext = { runAsUser: 0 };
      container.securityContext = {
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['NET_RAW'], add: ['NET_ADMIN'] },
      };
    });
    expect(checkHardening(broken, options)).toEqual([
      expect.stringMatching(/posts-depl: spec.template.spec.automountServiceAccountToken is not false/),
      expect.stringMatching(/posts-depl container posts: runAsNonRoot is not true/),
      expect.stringMatching(/container posts: runAsUser is 0/),
      expect.stringMatching(/container posts: seccompProfile.type is not RuntimeDefault/),
      expect.stringMatching(/container posts: securityContext.allowPrivilegeEscalation is not false/),
      expect.stringMatching(/container posts: securityContext.capabilities.drop does not include ALL/),
      expect.stringMatching(/container posts: securityContext.capabilities.add \["NET_ADMIN"\]/),
    ]);
  });

  it('a read-only root filesystem without an emptyDir at /tmp, and a writable root', () => {
    const noTmp = mutatedCopy(manifests, (copy) => {
      podOf(copy, 'comments-depl').container.volumeMounts = [];
      const { pod } = podOf(copy, 'query-depl');
      pod.volumes = [{ name: 'tmp', configMap: { name: 'blog-config' } }];
      const moderation = podOf(copy, 'moderation-depl').container;
      if (moderation.securityContext) moderation.securityContext.readOnlyRootFilesystem = false;
    });
    expect(checkHardening(noTmp, options)).toEqual([
      expect.stringMatching(
        /comments-depl container comments: readOnlyRootFilesystem without a volume mounted at \/tmp/,
      ),
      expect.stringMatching(/moderation-depl container moderation: securityContext.readOnlyRootFilesystem is not true/),
      expect.stringMatching(/query-depl container query: \/tmp is mounted from tmp, which is not an emptyDir/),
    ]);
  });

  it('missing or misdirected probes, missing limits, requests above limits, a short grace period', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const { pod, container } = podOf(copy, 'client-depl');
      delete container.startupProbe;
      if (container.livenessProbe?.httpGet) container.livenessProbe.httpGet.path = '/readyz';
      if (container.readinessProbe?.httpGet) container.readinessProbe.httpGet.port = 'web';
      container.resources = { requests: { cpu: '2', memory: '64Mi' }, limits: { cpu: '1' } };
      pod.terminationGracePeriodSeconds = options.drainSeconds;
    });
    expect(checkHardening(broken, options)).toEqual([
      expect.stringMatching(
        /client-depl: terminationGracePeriodSeconds 5 is not longer than the 5 s the service drains/,
      ),
      expect.stringMatching(/client-depl container client: no startupProbe/),
      expect.stringMatching(/container client: readinessProbe.httpGet.port "web" is not a containerPort/),
      expect.stringMatching(/container client: livenessProbe.httpGet.path is "\/readyz", expected \/healthz/),
      expect.stringMatching(/container client: resources.requests.cpu 2 exceeds resources.limits.cpu 1/),
      expect.stringMatching(/container client: no resources.limits.memory/),
    ]);
  });
});
