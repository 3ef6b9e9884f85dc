/**
 * Renders a kustomization the way `kubectl kustomize` does, for the few features this repository uses
 * (`resources` files and JSON 6902 `patches` aimed at one object), so the checks need no kustomize binary.
 * Anything else in the file is reported, not silently ignored.
 */
import path from 'node:path';
import { parse } from 'yaml';
import { loadManifests, type LoadedManifests } from './manifests';
import { readRepoFile } from './repo';
import { applyJsonPatch, type JsonPatchOperation } from './skaffold';

export interface Kustomization {
  apiVersion?: unknown;
  kind?: unknown;
  resources?: unknown;
  patches?: unknown;
  [field: string]: unknown;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'patches']);

export function loadKustomization(dir: string): Kustomization {
  return parse(readRepoFile(`${dir}/kustomization.yaml`), { uniqueKeys: true }) as Kustomization;
}

/** The objects `dir` (repo-relative) renders to, and what in it these checks cannot render. */
export function renderKustomization(dir: string, config: Kustomization = loadKustomization(dir)): LoadedManifests {
  const file = `${dir}/kustomization.yaml`;
  const problems = Object.keys(config)
    .filter((key) => !SUPPORTED.has(key))
    .map((key) => `${file}: "${key}" is not rendered by these checks (only resources and JSON 6902 patches are)`);
  if (config.kind !== 'Kustomization')
    problems.push(`${file}: kind is ${JSON.stringify(config.kind)}, expected Kustomization`);
  const resources = Array.isArray(config.resources)
    ? config.resources.filter((item): item is string => typeof item === 'string')
    : [];
  const loaded = loadManifests(resources.map((resource) => path.posix.normalize(`${dir}/${resource}`)));
  problems.push(...loaded.problems);
  const patches = Array.isArray(config.patches) ? (config.patches as unknown[]) : [];
  for (const [index, entry] of patches.entries()) {
    const { target, patch, ...rest } = (entry ?? {}) as {
      target?: { kind?: unknown; name?: unknown; [field: string]: unknown };
      patch?: unknown;
      [field: string]: unknown;
    };
    const where = `${file} patches[${index}]`;
    const { kind, name, ...otherSelectors } = target ?? {};
    if (Object.keys(rest).length > 0 || Object.keys(otherSelectors).length > 0 || typeof patch !== 'string') {
      problems.push(
        `${where}: only { target: { kind, name }, patch: <JSON 6902 operations> } is rendered by these checks`,
      );
      continue;
    }
    const matches = loaded.manifests.filter(
      (manifest) => manifest.object.kind === kind && manifest.object.metadata?.name === name,
    );
    if (matches.length !== 1) {
      problems.push(`${where}: ${matches.length} objects are ${String(kind)}/${String(name)}, expected one`);
      continue;
    }
    const manifest = matches[0] as (typeof matches)[number];
    try {
      manifest.object = applyJsonPatch(manifest.object, parse(patch) as JsonPatchOperation[]);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  }
  return { manifests: loaded.manifests, problems };
}
