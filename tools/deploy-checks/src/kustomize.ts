/**
 * Kustomizations rendered by the real kubectl (`kubectl kustomize`, kustomize inside; kube-tools.ts), the
 * command the docs give for deploying them, and read back as manifests.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseManifestText, type LoadedManifests } from './manifests';
import { repoPath } from './repo';
import { kubectlPath } from './kube-tools';

/**
 * The flags of `kubectl kustomize` here and in skaffold.yaml (buildArgs): the variants' kustomizations list
 * files of infra/k8s, outside their own folder, which kustomize refuses without this one.
 */
export const KUSTOMIZE_FLAGS: readonly string[] = ['--load-restrictor', 'LoadRestrictionsNone'];

const rendered = new Map<string, string>();

/** kubectl's output for `dir` (repo-relative or absolute); throws with kubectl's message when it fails. */
export function kustomizeBuild(dir: string): string {
  const absolute = path.isAbsolute(dir) ? dir : repoPath(dir);
  const cached = rendered.get(absolute);
  if (cached !== undefined) return cached;
  let output: string;
  try {
    output = execFileSync(kubectlPath(), ['kustomize', ...KUSTOMIZE_FLAGS, absolute], {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr?.trim() || (err as Error).message}`);
  }
  rendered.set(absolute, output);
  return output;
}

/**
 * The objects `dir` renders to, each from `dir` (kustomize's output names no source file), in kustomize's
 * order; problems are what parseManifestText finds in that output.
 */
export function renderKustomization(dir: string): LoadedManifests {
  return parseManifestText(dir, kustomizeBuild(dir));
}
