/**
 * The blog as podman containers on the host network: each container as its manifest describes it (env,
 * read-only root, tmpfs where the pod has an emptyDir, a folder where it has a persistent volume, no
 * capabilities, no privilege escalation), as the image's own user, started all at once like
 * `kubectl apply`, and ready once its readiness path answers 200.
 */
import { chownSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { delay } from '@blog/testkit';
import type { ContainerPlan } from './plan';
import { ULIMITS, type Podman } from './podman';
import { tail } from './proc';

export const CONTAINER_PREFIX = 'blog-ci-';

export interface ContainerSpec {
  plan: ContainerPlan;
  /** The podman container's name. */
  name: string;
  /** The image to run, e.g. blog/posts or blog/client:dev. */
  tag: string;
  /** The port it listens on here (its containerPort unless that was taken). */
  port: number;
  /** The environment it gets here. */
  env: Record<string, string>;
}

/** The podman arguments that make a container of a plan. */
export function runArguments(spec: ContainerSpec, volumeDir: (volume: string) => string): string[] {
  const { plan } = spec;
  const args = ['run', '--detach', '--name', spec.name, '--label', 'blog-ci=1', '--network', 'host', ...ULIMITS];
  // podman's --read-only also mounts tmpfs on /run, /tmp and /var/tmp unless told not to; a pod has none.
  if (plan.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false');
  if (plan.dropAllCapabilities) args.push('--cap-drop', 'ALL');
  if (!plan.allowPrivilegeEscalation) args.push('--security-opt', 'no-new-privileges');
  for (const volume of plan.volumes) {
    const mode = volume.readOnly ? 'ro' : 'rw';
    if (volume.kind === 'emptyDir') {
      const size = volume.sizeBytes === undefined ? '' : `,size=${Math.floor(volume.sizeBytes)}`;
      args.push('--tmpfs', `${volume.path}:${mode},mode=1777${size}`);
    } else {
      args.push('--volume', `${volumeDir(volume.volume)}:${volume.path}:${mode}`);
    }
  }
  for (const [key, value] of Object.entries(spec.env).sort(([a], [b]) => a.localeCompare(b)))
    args.push('--env', `${key}=${value}`);
  args.push(spec.tag);
  return args;
}

/** Is a TCP port free on every interface (the services listen on all of them)? */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

export class ContainerStack {
  private readonly started: ContainerSpec[] = [];

  constructor(
    private readonly podman: Podman,
    /** Holds the persistent volumes' folders. */
    private readonly volumesDir: string,
    /** Where each container's log is saved when the stack is removed. */
    private readonly logDir: string,
  ) {}

  get containers(): readonly ContainerSpec[] {
    return this.started;
  }

  url(spec: ContainerSpec): string {
    return `http://127.0.0.1:${spec.port}`;
  }

  /** A persistent volume: a folder of this run owned by the pod's user and fsGroup, as the kubelet prepares it. */
  private volumeDir(spec: ContainerSpec, volume: string): string {
    const dir = path.join(this.volumesDir, `${spec.name}-${volume}`);
    mkdirSync(dir, { recursive: true });
    const uid = spec.plan.runAsUser ?? 0;
    const gid = spec.plan.fsGroup ?? spec.plan.runAsGroup ?? 0;
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o2770);
    return dir;
  }

  async start(spec: ContainerSpec): Promise<void> {
    this.started.push(spec);
    await this.podman.check(runArguments(spec, (volume) => this.volumeDir(spec, volume)));
  }

  /** Waits until the readiness path answers 200, within the startup probe's budget; fails early if the container exits. */
  async waitReady(spec: ContainerSpec): Promise<number> {
    const started = Date.now();
    const deadline = started + spec.plan.startupBudgetMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${this.url(spec)}${spec.plan.readyPath}`, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        if (response.status === 200) return Date.now() - started;
        last = `HTTP ${response.status}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      const state = await this.podman.state(spec.name);
      if (state.status !== 'running')
        throw new Error(
          `${spec.name} stopped before it was ready (${state.status}, exit code ${state.exitCode})\n${await this.logTail(spec.name)}`,
        );
      await delay(250);
    }
    throw new Error(
      `${spec.name} was not ready within ${spec.plan.startupBudgetMs} ms (last ${spec.plan.readyPath}: ${last})\n${await this.logTail(spec.name)}`,
    );
  }

  async logTail(name: string, lines = 20): Promise<string> {
    const result = await this.podman.run(['logs', '--tail', String(lines), name]);
    return tail(`${result.stdout}${result.stderr}`, lines);
  }

  /** Saves every container's log, then removes the containers (forcefully: this is cleanup). */
  async remove(): Promise<void> {
    mkdirSync(this.logDir, { recursive: true });
    for (const spec of this.started) {
      const logs = await this.podman.run(['logs', spec.name]);
      if (logs.code === 0) writeFileSync(path.join(this.logDir, `${spec.name}.log`), `${logs.stdout}${logs.stderr}`);
    }
    const names = await this.podman.containers();
    if (names.length > 0) await this.podman.run(['rm', '--force', '--time', '0', ...names]);
  }
}
