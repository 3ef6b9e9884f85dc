/**
 * Podman with a store of its own: every call names the graph root, run root and libpod temp folder under
 * the container step's cache, so nothing here touches (or is touched by) other podman users of the
 * machine, and deleting the cache folder removes all of it. Root podman, the vfs driver and runc: what
 * works on the CI machines (no overlay mount needed, and crun fails on their cgroup setup).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { check, run, type RunOptions, type RunResult } from './proc';

/** Limits every build step and container gets (the machine's defaults are too low for npm and node). */
export const ULIMITS = ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
export const RUNTIME = 'runc';

export interface PodmanStore {
  /** Images and containers (`--root`). */
  graphRoot: string;
  /** Locks and the state of running containers (`--runroot`, `--tmpdir`); empty once nothing runs. */
  runRoot: string;
  /** TMPDIR of podman itself (image imports and commits stage files there). */
  tmpDir: string;
  driver: string;
}

export interface ImageInfo {
  id: string;
  names: string[];
  /** Bytes, as `podman images` shows them. */
  size: number;
}

export class Podman {
  constructor(readonly store: PodmanStore) {}

  private global(): string[] {
    const { graphRoot, runRoot, driver } = this.store;
    return [
      '--root',
      graphRoot,
      '--runroot',
      runRoot,
      '--tmpdir',
      path.join(runRoot, 'libpod'),
      '--storage-driver',
      driver,
      '--runtime',
      RUNTIME,
    ];
  }

  private options(options: RunOptions): RunOptions {
    mkdirSync(this.store.tmpDir, { recursive: true });
    return { ...options, env: { ...process.env, ...options.env, TMPDIR: this.store.tmpDir } };
  }

  /** `podman <args>`; never throws for an exit status. */
  run(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return run('podman', [...this.global(), ...args], this.options(options));
  }

  /** `podman <args>`; its stdout, or a CommandError unless it exits 0. */
  check(args: readonly string[], options: RunOptions = {}): Promise<string> {
    return check('podman', [...this.global(), ...args], this.options(options));
  }

  /** Removes every container of the store, synchronously: for a signal handler, where nothing can be awaited. */
  removeAllContainersNow(): void {
    const env = { ...process.env, TMPDIR: this.store.tmpDir };
    const listed = spawnSync('podman', [...this.global(), 'ps', '--all', '--external', '--quiet'], {
      env,
      encoding: 'utf8',
    });
    const ids = (listed.stdout ?? '').split('\n').filter(Boolean);
    if (ids.length > 0)
      spawnSync('podman', [...this.global(), 'rm', '--force', '--time', '0', ...ids], { env, stdio: 'ignore' });
  }

  async images(): Promise<ImageInfo[]> {
    const listed: unknown = JSON.parse((await this.check(['images', '--all', '--format', 'json'])) || '[]');
    if (!Array.isArray(listed)) return [];
    return listed.flatMap((entry: unknown) => {
      if (typeof entry !== 'object' || entry === null) return [];
      const { Id, Names, Size } = entry as { Id?: unknown; Names?: unknown; Size?: unknown };
      if (typeof Id !== 'string') return [];
      const names = Array.isArray(Names) ? Names.filter((name): name is string => typeof name === 'string') : [];
      return [{ id: Id, names, size: typeof Size === 'number' ? Size : 0 }];
    });
  }

  /**
   * The image a name or id refers to, if the store has it. Read with `image inspect` alone: `podman images`
   * fails ("image not known") when a build running at the same time removes one of its intermediate images.
   */
  async image(reference: string): Promise<ImageInfo | undefined> {
    const result = await this.run(['image', 'inspect', '--format', '{{.Id}} {{.Size}} {{json .RepoTags}}', reference]);
    if (result.code !== 0) return undefined;
    const [id = '', size = '', ...tags] = result.stdout.trim().split(' ');
    const parsed: unknown = JSON.parse(tags.join(' ') || 'null');
    const names = Array.isArray(parsed) ? parsed.filter((name): name is string => typeof name === 'string') : [];
    return id === '' ? undefined : { id, names, size: Number(size) || 0 };
  }

  /** Names of every container in the store, running or not; `external` adds the working containers of builds. */
  async containers({ external = false } = {}): Promise<string[]> {
    const out = await this.check(['ps', '--all', ...(external ? ['--external'] : []), '--format', '{{.Names}}']);
    return out
      .split('\n')
      .map((name) => name.trim())
      .filter(Boolean);
  }

  /** The container's state: running/exited, its exit code and main process id (0 once it has exited). */
  async state(name: string): Promise<{ status: string; exitCode: number; pid: number; oomKilled: boolean }> {
    const out = await this.check([
      'inspect',
      '--type',
      'container',
      '--format',
      '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}} {{.State.OOMKilled}}',
      name,
    ]);
    const [status = '', exitCode = '', pid = '', oom = ''] = out.trim().split(' ');
    return { status, exitCode: Number(exitCode), pid: Number(pid), oomKilled: oom === 'true' };
  }
}

/** `1234567` → `1.2 MB` (decimal units, as podman and docker print sizes). */
export function formatSize(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${Math.round(bytes / 1e6)} MB`;
}
