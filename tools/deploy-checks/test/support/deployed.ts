/**
 * The blog as infra/k8s deploys it, run here as processes (`npm test` has no cluster): each workload's
 * container runs its service's built entry point — what the image's CMD runs — with the environment its pod
 * gets (env and envFrom, as the kubelet builds it), the Services' URLs moved to loopback and the volumes'
 * mount paths to folders of a temp dir. The checks ask these processes over HTTP only, like a client in the
 * cluster; no code of the services is imported.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopProcess, type StartedProcess } from '@blog/stack';
import { freePorts, launchService, ServiceStartError, SERVICES, type ServiceName } from '@blog/testkit';
import { loopbackEnv } from '../../src/loopback';
import { containerEnv, imageRepository, workloads, type IContainer, type Manifest } from '../../src/manifests';

/** A pod of the manifests, as it would run in the cluster. */
export interface Pod {
  /** The workload's name, e.g. posts-depl. */
  workload: string;
  /** Its image repository, e.g. blog/posts. */
  image: string;
  /** The environment its container gets in the cluster. */
  env: Record<string, string>;
  container: IContainer;
}

/** Every workload of the manifests, with the environment of its one container. */
export function podsOf(manifests: readonly Manifest[]): Pod[] {
  return workloads(manifests).map((workload) => {
    const [container, ...more] = workload.pod.containers ?? [];
    if (!container?.image || more.length > 0) throw new Error(`${workload.name}: expected one container with an image`);
    return {
      workload: workload.name,
      image: imageRepository(container.image),
      env: containerEnv(manifests, container, workload.name),
      container,
    };
  });
}

/** The service whose built entry point an image runs: blog/posts → posts. */
function serviceOf(image: string): ServiceName {
  const name = image.replace(/^blog\//, '');
  const service = SERVICES.find((candidate) => candidate === name);
  if (!service) throw new Error(`no service of the blog is built into ${image}`);
  return service;
}

export interface RunningPods {
  /** `http://127.0.0.1:<port>` of a pod's container, by workload name. */
  url(workload: string): string;
  /** What a pod's container has written so far (all of it, after stop()), stdout and stderr. */
  output(workload: string): string;
  stop(): Promise<void>;
}

/**
 * What a container starts with besides its pod's environment: the production image's NODE_ENV, and PATH to
 * find node. Nothing else of the test process's environment, so a variable the manifests miss is missed here too.
 */
const CONTAINER_BASE_ENV = { PATH: process.env.PATH, NODE_ENV: 'production' };

/** How many times the pods are started on fresh ports when one of them finds its port taken. */
const PORT_ATTEMPTS = 3;

/**
 * Starts every pod's service at once, as `kubectl apply` would, and resolves once each answers 200 on
 * /readyz. A volume's mount path in an env value becomes a folder of a temp dir, removed by stop().
 */
export async function runPods(manifests: readonly Manifest[], pods: readonly Pod[]): Promise<RunningPods> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPods(manifests, pods);
    } catch (err) {
      // Another test's process took a port between freePorts() and the listen: try again on fresh ones.
      if (!(err instanceof ServiceStartError && err.addressInUse) || attempt === PORT_ATTEMPTS) throw err;
    }
  }
}

async function startPods(manifests: readonly Manifest[], pods: readonly Pod[]): Promise<RunningPods> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blog-deployed-'));
  const ports = await freePorts(pods.length);
  const portOfContainer = new Map(pods.map((pod, index) => [pod.container.name, ports[index] as number]));
  const urls = new Map(pods.map((pod, index) => [pod.workload, `http://127.0.0.1:${ports[index] as number}`]));
  const running: StartedProcess[] = [];
  const logFile = (workload: string) => path.join(dir, `${workload}.log`);
  // What each container wrote, kept when stop() removes the temp dir.
  const outputs = new Map<string, string>();
  const stop = async () => {
    await Promise.all(running.map((entry) => stopProcess(entry, 'SIGTERM', 5_000)));
    for (const pod of pods)
      if (existsSync(logFile(pod.workload))) outputs.set(pod.workload, readFileSync(logFile(pod.workload), 'utf8'));
    rmSync(dir, { recursive: true, force: true });
  };
  const launches = await Promise.allSettled(
    pods.map((pod, index) => {
      const port = ports[index] as number;
      const env = onLocalVolumes(
        loopbackEnv(pod.env, port, manifests, (name) => portOfContainer.get(name)),
        pod.container,
        path.join(dir, pod.workload),
      );
      return launchService({
        name: serviceOf(pod.image),
        port,
        env,
        baseEnv: CONTAINER_BASE_ENV,
        logFile: logFile(pod.workload),
        started: (entry) => running.push(entry),
      });
    }),
  );
  const failed = launches.find((launch) => launch.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return {
    url: (workload) => {
      const url = urls.get(workload);
      if (!url) throw new Error(`no pod of workload ${workload}`);
      return url;
    },
    output: (workload) => outputs.get(workload) ?? readFileSync(logFile(workload), 'utf8'),
    stop,
  };
}

/** The env with each volume's mount path (at the start of a value) moved to a folder of `podDir`. */
function onLocalVolumes(env: Record<string, string>, container: IContainer, podDir: string): Record<string, string> {
  const mounts = [...(container.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
  const local: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    const mount = mounts.find(({ mountPath }) => value === mountPath || value.startsWith(`${mountPath}/`));
    if (!mount) {
      local[key] = value;
      continue;
    }
    const folder = path.join(podDir, mount.name);
    mkdirSync(folder, { recursive: true });
    local[key] = folder + value.slice(mount.mountPath.length);
  }
  return local;
}
