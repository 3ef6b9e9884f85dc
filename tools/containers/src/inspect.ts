/**
 * What is true of a running container, read from outside: its probes over HTTP, and its main process in
 * /proc (user, capabilities, no_new_privs, command line, mounts); whether the native addons its service
 * needs load inside it; then SIGTERM and how it ended.
 */
import { readFileSync } from 'node:fs';
import { http } from '@blog/testkit';
import type { Podman } from './podman';
import type { ContainerSpec } from './stack';

/** Mount points of the runtime itself (kernel file systems, the files podman writes), not of the pod. */
const RUNTIME_MOUNTS = [
  /^\/proc(\/|$)/,
  /^\/sys(\/|$)/,
  /^\/dev(\/|$)/,
  /^\/etc\/(hosts|hostname|resolv\.conf)$/,
  /^\/run\/\.containerenv$/,
];

/**
 * The images whose services open SQLite stores through better-sqlite3 (a native addon, compiled in the
 * Dockerfile's build stage for the image's Node); the event bus and the client do not load it.
 */
export const SQLITE_IMAGES: readonly string[] = ['blog/posts', 'blog/comments', 'blog/query', 'blog/moderation'];

/** Opens an in-memory database with better-sqlite3, runs a statement and prints SQLite's version. */
const SQLITE_PROBE =
  "const db = new (require('better-sqlite3'))(':memory:'); console.log(db.prepare('select sqlite_version() as version').get().version); db.close()";

export interface ProcessFacts {
  pid: number;
  uid: number;
  gid: number;
  /** The effective and bounding capability sets, hex. */
  capEff: string;
  capBnd: string;
  noNewPrivs: boolean;
  argv: string[];
  rootReadOnly: boolean;
  /** Writable mount points that are not the runtime's own. */
  writable: string[];
}

/** /proc/<pid>/mountinfo: mount point (field 5, octal escapes) and its per-mount options (field 6). */
export function parseMountInfo(text: string): { mountPoint: string; options: string[] }[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      const mountPoint = (fields[4] ?? '').replace(/\\([0-7]{3})/g, (_match, octal: string) =>
        String.fromCharCode(parseInt(octal, 8)),
      );
      return { mountPoint, options: (fields[5] ?? '').split(',') };
    });
}

export function processFacts(pid: number): ProcessFacts {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  const mounts = parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
  const root = mounts.filter((mount) => mount.mountPoint === '/').at(-1);
  return {
    pid,
    uid: Number(field('Uid').split(/\s+/)[1]),
    gid: Number(field('Gid').split(/\s+/)[1]),
    capEff: field('CapEff'),
    capBnd: field('CapBnd'),
    noNewPrivs: field('NoNewPrivs') === '1',
    argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean),
    rootReadOnly: root?.options.includes('ro') ?? false,
    writable: mounts
      .filter(
        (mount) =>
          mount.mountPoint !== '/' &&
          mount.options.includes('rw') &&
          !RUNTIME_MOUNTS.some((pattern) => pattern.test(mount.mountPoint)),
      )
      .map((mount) => mount.mountPoint)
      .sort(),
  };
}

export interface ContainerReport {
  name: string;
  facts: ProcessFacts;
  health: number;
  ready: number;
  /** SQLite's version as better-sqlite3 reports it inside the container, or undefined if the image does not need it. */
  sqlite: string | undefined;
  problems: string[];
}

/**
 * The checks every container must pass: both probes 200; the main process is not root and is the user the
 * manifest asks for; no capabilities; no_new_privs; the root file system is read-only, and a write to it
 * fails even for root; the only writable places are the pod's volumes; better-sqlite3 loads (as the image's
 * user, under the same read-only root) where the service needs it.
 */
export async function checkContainer(podman: Podman, spec: ContainerSpec, baseUrl: string): Promise<ContainerReport> {
  const problems: string[] = [];
  const { plan } = spec;
  const health = (await http(`${baseUrl}${plan.healthPath}`)).status;
  const ready = (await http(`${baseUrl}${plan.readyPath}`)).status;
  if (health !== 200) problems.push(`${plan.healthPath} answered ${health}`);
  if (ready !== 200) problems.push(`${plan.readyPath} answered ${ready}`);

  const { pid } = await podman.state(spec.name);
  const facts = processFacts(pid);
  if (facts.uid === 0) problems.push('the main process runs as root');
  if (plan.runAsUser !== undefined && facts.uid !== plan.runAsUser)
    problems.push(`the main process runs as uid ${facts.uid}, the manifest's runAsUser is ${plan.runAsUser}`);
  if (plan.runAsGroup !== undefined && facts.gid !== plan.runAsGroup)
    problems.push(`the main process runs as gid ${facts.gid}, the manifest's runAsGroup is ${plan.runAsGroup}`);
  if (/[^0]/.test(facts.capEff) || /[^0]/.test(facts.capBnd))
    problems.push(`capabilities left: effective ${facts.capEff}, bounding ${facts.capBnd}`);
  if (!facts.noNewPrivs) problems.push('no_new_privs is not set');
  if (!facts.rootReadOnly) problems.push('the root file system is mounted read-write');
  const volumes = plan.volumes
    .filter((volume) => !volume.readOnly)
    .map((volume) => volume.path)
    .sort();
  if (JSON.stringify(facts.writable) !== JSON.stringify(volumes))
    problems.push(
      `writable mounts ${JSON.stringify(facts.writable)}, the pod's writable volumes ${JSON.stringify(volumes)}`,
    );

  // Even root (without capabilities) cannot write to the root file system.
  const write = await podman.run(['exec', '--user', '0', spec.name, 'sh', '-c', 'echo x > /.read-only-probe']);
  if (write.code === 0) problems.push('root could write /.read-only-probe');
  else if (!/read-only file system/i.test(write.stderr))
    problems.push(`writing / failed, but not as read-only: ${write.stderr.trim()}`);
  // The image's user can write where the pod has an emptyDir.
  for (const volume of plan.volumes.filter((candidate) => candidate.kind === 'emptyDir' && !candidate.readOnly)) {
    const probe = `${volume.path}/.write-probe`;
    const written = await podman.run(['exec', spec.name, 'sh', '-c', `echo x > ${probe} && rm ${probe}`]);
    if (written.code !== 0) problems.push(`the image's user cannot write ${volume.path}: ${written.stderr.trim()}`);
  }
  let sqlite: string | undefined;
  if (SQLITE_IMAGES.includes(plan.image)) {
    const loaded = await podman.run(['exec', spec.name, 'node', '-e', SQLITE_PROBE]);
    if (loaded.code === 0) {
      sqlite = loaded.stdout.trim();
    } else {
      sqlite = 'FAILED';
      // Node prints the failing line of code first; the error's own line says why (no bindings file, another ABI…).
      const why =
        loaded.stderr
          .split('\n')
          .find((line) => /^\w*Error\b/.test(line.trim()))
          ?.trim() ||
        loaded.stderr.trim() ||
        `node exited with ${loaded.code ?? loaded.signal}`;
      problems.push(`better-sqlite3 does not load: ${why}`);
    }
  }
  return { name: spec.name, facts, health, ready, sqlite, problems };
}

export interface StopReport {
  name: string;
  exitCode: number | undefined;
  seconds: number;
  /** The grace period ran out and the container had to be killed. */
  killed: boolean;
}

/** SIGTERM, then waits up to the pod's grace period for the container to exit; SIGKILL only if it does not. */
export async function stopContainer(podman: Podman, spec: ContainerSpec): Promise<StopReport> {
  const started = Date.now();
  await podman.check(['kill', '--signal', 'TERM', spec.name]);
  const graceMs = spec.plan.graceSeconds * 1000;
  const waited = await podman.run(['wait', spec.name], { timeoutMs: graceMs });
  const seconds = (Date.now() - started) / 1000;
  let killed = false;
  if (waited.code !== 0 && (await podman.state(spec.name)).status === 'running') {
    killed = true;
    await podman.run(['kill', '--signal', 'KILL', spec.name]);
    await podman.run(['wait', spec.name]);
  }
  const state = await podman.state(spec.name);
  return { name: spec.name, exitCode: state.status === 'exited' ? state.exitCode : undefined, seconds, killed };
}
