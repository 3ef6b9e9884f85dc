/**
 * Kustomizations rendered by the real kubectl (`kubectl kustomize`, kustomize inside; kube-tools.ts), the
 * command the docs give for deploying them, with kustomize's default load restrictor (each kustomization
 * reads files below its own folder only), and read back as manifests.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseManifestText, type LoadedManifests } from './manifests';
import { repoPath } from './repo';
import { kubectlPath } from './kube-tools';

const rendered = new Map<string, string>();

/**
 * kubectl's output for `dir` (repo-relative or absolute), kept for the next call unless `cache` is false (a
 * folder that is removed afterwards); throws with kubectl's message when it fails.
 */
export function kustomizeBuild(dir: string, cache = true): string {
  const absolute = path.isAbsolute(dir) ? dir : repoPath(dir);
  const cached = cache ? rendered.get(absolute) : undefined;
  if (cached !== undefined) return cached;
  let output: string;
  try {
    output = execFileSync(kubectlPath(), ['kustomize', absolute], {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    const message = stderr?.trim() || (err as Error).message;
    // The dev overlays' credentials are git-ignored files that npm install writes.
    const hint = /dev-secrets\/[\w-]+\.env/.test(message)
      ? ' (the development credentials are missing: run node tools/scripts/dev-secrets.mjs, which npm install runs)'
      : '';
    throw new Error(`kubectl kustomize ${dir} failed: ${message}${hint}`);
  }
  if (cache) rendered.set(absolute, output);
  return output;
}

/**
 * The objects `dir` renders to, each from `source` (kustomize's output names no source file; by default the
 * folder), in kustomize's order; problems are what parseManifestText finds in that output.
 */
export function renderKustomization(dir: string, source: string = dir, cache = true): LoadedManifests {
  return parseManifestText(source, kustomizeBuild(dir, cache));
}
