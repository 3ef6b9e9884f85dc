/**
 * How each image runs, read from the Kubernetes manifests: its env (env + envFrom, ConfigMap and Secret),
 * port, volumes, security context, probes and grace period, and how that becomes a podman container on
 * this machine's loopback: cluster URLs (http://posts-clusterip-srv:4000) become http://127.0.0.1:<port>,
 * an emptyDir becomes a tmpfs of the same size, a persistent volume a folder of the run.
 */
import { parseQuantity } from '@blog/deploy-checks/hardening';
import { loopbackEnv } from '@blog/deploy-checks/loopback';
import {
  containerEnv,
  containersRunning,
  loadManifests,
  workloads,
  type IContainer,
  type Manifest,
  type Workload,
} from '@blog/deploy-checks/manifests';

export interface VolumePlan {
  /** Where the container sees it. */
  path: string;
  /** The volume's name in the pod. */
  volume: string;
  kind: 'emptyDir' | 'persistent';
  /** emptyDir sizeLimit in bytes. */
  sizeBytes: number | undefined;
  readOnly: boolean;
}

export interface ContainerPlan {
  /** The container's name in its pod (posts, event-bus, …). */
  name: string;
  /** The image repository, e.g. blog/posts. */
  image: string;
  /** For messages: infra/k8s/posts.yaml Deployment/posts-depl. */
  workload: string;
  /** The port the pod's probes and Services use. */
  containerPort: number;
  /** Environment as the pod gets it in the cluster. */
  env: Record<string, string>;
  volumes: VolumePlan[];
  graceSeconds: number;
  runAsUser: number | undefined;
  runAsGroup: number | undefined;
  fsGroup: number | undefined;
  readOnlyRootFilesystem: boolean;
  dropAllCapabilities: boolean;
  allowPrivilegeEscalation: boolean;
  /** The paths of the liveness and readiness probes. */
  healthPath: string;
  readyPath: string;
  /** How long the startup probe lets the container take to answer. */
  startupBudgetMs: number;
}

export interface Plans {
  manifests: Manifest[];
  containers: ContainerPlan[];
}

/** The containers that run the given images, one per image, in the order given. */
export function containerPlans(images: readonly string[]): Plans {
  const { manifests, problems } = loadManifests();
  if (problems.length > 0) throw new Error(`infra/k8s does not load:\n${problems.join('\n')}`);
  const all = workloads(manifests);
  const containers = images.map((image) => {
    const running = containersRunning(all, image);
    const [found, ...more] = running;
    if (!found || more.length > 0)
      throw new Error(
        `${image} runs in ${running.length} containers of the manifests; the container step expects exactly one`,
      );
    return planOf(manifests, found.workload, found.container, image);
  });
  return { manifests, containers };
}

function planOf(
  manifests: readonly Manifest[],
  workload: Workload,
  container: IContainer,
  image: string,
): ContainerPlan {
  const where = `${workload.manifest.file} ${workload.kind}/${workload.name} container ${container.name}`;
  const httpPort = (container.ports ?? []).find((port) => port.name === 'http') ?? container.ports?.[0];
  if (!httpPort) throw new Error(`${where}: no containerPort`);
  const probePath = (probe: IContainer['readinessProbe'], what: string) => {
    const found = probe?.httpGet?.path;
    if (!found) throw new Error(`${where}: no ${what} with an httpGet path`);
    return found;
  };
  const startup = container.startupProbe ?? container.livenessProbe;
  const startupBudgetMs =
    ((startup?.initialDelaySeconds ?? 0) + (startup?.periodSeconds ?? 10) * (startup?.failureThreshold ?? 3)) * 1000;
  const pod = workload.pod;
  const security = container.securityContext ?? {};
  return {
    name: container.name,
    image,
    workload: `${workload.manifest.file} ${workload.kind}/${workload.name}`,
    containerPort: httpPort.containerPort,
    env: containerEnv(manifests, container, where),
    volumes: (container.volumeMounts ?? []).map((mount) => {
      const volume = (pod.volumes ?? []).find((candidate) => candidate.name === mount.name);
      const readOnly = mount.readOnly ?? false;
      if (volume?.emptyDir) {
        const limit = volume.emptyDir.sizeLimit;
        return {
          path: mount.mountPath,
          volume: mount.name,
          kind: 'emptyDir',
          sizeBytes: limit === undefined ? undefined : parseQuantity(limit),
          readOnly,
        };
      }
      if (!volume && workload.claimTemplates.includes(mount.name))
        return { path: mount.mountPath, volume: mount.name, kind: 'persistent', sizeBytes: undefined, readOnly };
      if (volume?.persistentVolumeClaim)
        return { path: mount.mountPath, volume: mount.name, kind: 'persistent', sizeBytes: undefined, readOnly };
      throw new Error(
        `${where}: volume ${mount.name} is neither an emptyDir nor a persistent volume; the container step does not know how to give it`,
      );
    }),
    graceSeconds: pod.terminationGracePeriodSeconds ?? 30,
    runAsUser: security.runAsUser ?? pod.securityContext?.runAsUser,
    runAsGroup: security.runAsGroup ?? pod.securityContext?.runAsGroup,
    fsGroup: pod.securityContext?.fsGroup,
    readOnlyRootFilesystem: security.readOnlyRootFilesystem ?? false,
    dropAllCapabilities: (security.capabilities?.drop ?? []).includes('ALL'),
    allowPrivilegeEscalation: security.allowPrivilegeEscalation ?? true,
    healthPath: probePath(container.livenessProbe, 'livenessProbe'),
    readyPath: probePath(container.readinessProbe, 'readinessProbe'),
    startupBudgetMs,
  };
}

/**
 * The env a container gets here: the manifest's, with cluster URLs on loopback and PORT set to the port it
 * listens on here. With no Ingress on this machine, the client server routes the API paths the way the
 * Ingress does (PROXY_API, as `npm start` runs it; README, "How it works").
 */
export function localEnv(
  plan: ContainerPlan,
  port: number,
  portOf: (containerName: string) => number | undefined,
  manifests: readonly Manifest[],
): Record<string, string> {
  const env = loopbackEnv(plan.env, port, manifests, portOf);
  if (plan.name === 'client') {
    const url = (name: string) => {
      const local = portOf(name);
      if (local === undefined) throw new Error(`the client routes to ${name}, which the container step does not run`);
      return `http://127.0.0.1:${local}`;
    };
    Object.assign(env, {
      PROXY_API: 'true',
      POSTS_URL: url('posts'),
      COMMENTS_URL: url('comments'),
      QUERY_URL: url('query'),
    });
  }
  return env;
}
