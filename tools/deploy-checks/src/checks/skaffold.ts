/**
 * skaffold.yaml's own rules: a recent enough schema version, local builds that are not pushed, dev
 * targets with file sync for every artifact, each profile deploying one overlay of infra/overlays, and a
 * production profile that switches every artifact to its production stage, without file sync.
 */
import { overlayDir, OVERLAYS } from '../environments';
import { applyJsonPatch, compareSkaffoldVersions, dockerArtifacts, type SkaffoldConfig } from '../skaffold';

export const MIN_SKAFFOLD_API_VERSION = 'skaffold/v4beta14';

/** The first skaffold release that reads each config version (skaffold's CHANGELOG). */
export const FIRST_SKAFFOLD_RELEASE: Record<string, string> = {
  'skaffold/v4beta13': 'v2.15.0',
  'skaffold/v4beta14': 'v2.19.0',
};

/** skaffold.yaml states, in its first line, the skaffold release its apiVersion needs. */
export function checkStatedSkaffoldVersion(config: SkaffoldConfig, text: string): string[] {
  const release = FIRST_SKAFFOLD_RELEASE[String(config.apiVersion)];
  if (!release)
    return [
      `skaffold.yaml: apiVersion ${String(config.apiVersion)}: which skaffold release reads it first is not known here`,
    ];
  const stated = /^# Needs skaffold (v\d+\.\d+\.\d+) or later/.exec(text)?.[1];
  return stated === release
    ? []
    : [
        `skaffold.yaml: its first line should say "# Needs skaffold ${release} or later" (${String(config.apiVersion)}); it says ${stated ?? 'no version'}`,
      ];
}
export const PRODUCTION_PROFILE = 'production';

export function checkSkaffoldBasics(config: SkaffoldConfig): string[] {
  const problems: string[] = [];
  const { apiVersion } = config;
  if (typeof apiVersion !== 'string') problems.push('skaffold.yaml: no apiVersion');
  else {
    const order = compareSkaffoldVersions(apiVersion, MIN_SKAFFOLD_API_VERSION);
    if (order === undefined)
      problems.push(`skaffold.yaml: apiVersion ${apiVersion} is not a skaffold/vN[alpha|betaN] version`);
    else if (order < 0)
      problems.push(`skaffold.yaml: apiVersion ${apiVersion} is older than ${MIN_SKAFFOLD_API_VERSION}`);
  }
  if (config.kind !== 'Config') problems.push(`skaffold.yaml: kind is ${JSON.stringify(config.kind)}, expected Config`);
  if (config.build?.local?.push !== false)
    problems.push('skaffold.yaml: build.local.push is not false (images would be pushed to a registry)');
  if ((config.build?.artifacts ?? []).length === 0) problems.push('skaffold.yaml: no build.artifacts');
  for (const artifact of dockerArtifacts(config)) {
    const at = `skaffold.yaml build.artifacts[${artifact.index}] (${artifact.image})`;
    if (artifact.target !== 'dev')
      problems.push(
        `${at}: docker.target is ${JSON.stringify(artifact.target)}, expected dev (skaffold dev runs the watch-mode image)`,
      );
    if (artifact.sync.length === 0) problems.push(`${at}: no sync.manual rules: every edit would rebuild the image`);
  }
  return problems;
}

/** The kustomize paths a config deploys. */
export function kustomizePaths(config: SkaffoldConfig): unknown[] {
  return config.manifests?.kustomize?.paths ?? [];
}

/**
 * Without a profile and with each one, skaffold deploys exactly one overlay of infra/overlays, by kustomize
 * only (no raw manifests beside it); the profiles' patches apply.
 */
export function checkProfileOverlays(config: SkaffoldConfig): string[] {
  const problems: string[] = [];
  const overlays = new Set<string>(OVERLAYS.map(overlayDir));
  const variants = [
    { name: 'skaffold.yaml', patches: [] as NonNullable<SkaffoldConfig['profiles']>[number]['patches'] },
    ...(config.profiles ?? []).map((profile) => ({
      name: `skaffold.yaml profile ${String(profile.name)}`,
      patches: profile.patches,
    })),
  ];
  for (const { name, patches } of variants) {
    let effective: SkaffoldConfig;
    try {
      effective = applyJsonPatch(config, patches ?? []);
    } catch (error) {
      problems.push(`${name}: the patches do not apply: ${(error as Error).message}`);
      continue;
    }
    const paths = kustomizePaths(effective);
    if (paths.length !== 1 || typeof paths[0] !== 'string' || !overlays.has(paths[0]))
      problems.push(`${name}: deploys ${JSON.stringify(paths)}, expected one of ${[...overlays].join(', ')}`);
    if (effective.manifests?.rawYaml !== undefined) problems.push(`${name}: deploys raw manifests beside the overlay`);
  }
  return problems;
}

/**
 * The production profile's patches apply, touch existing artifacts only, switch every one to production with
 * no file sync, and deploy the production overlay.
 */
export function checkProductionProfile(config: SkaffoldConfig): string[] {
  const problems: string[] = [];
  const profile = (config.profiles ?? []).find((p) => p.name === PRODUCTION_PROFILE);
  if (!profile) return [`skaffold.yaml: no "${PRODUCTION_PROFILE}" profile`];
  const count = (config.build?.artifacts ?? []).length;
  (profile.patches ?? []).forEach((patch, i) => {
    const at = `skaffold.yaml profile ${PRODUCTION_PROFILE} patches[${i}] (${JSON.stringify(patch.path)})`;
    const match = typeof patch.path === 'string' ? /^\/build\/artifacts\/(\d+|-)(\/|$)/.exec(patch.path) : null;
    if (match && (match[1] === '-' || Number(match[1]) >= count))
      problems.push(`${at}: there is no artifact ${match[1] ?? ''} (${count} artifacts)`);
  });
  let patched: SkaffoldConfig;
  try {
    patched = applyJsonPatch(config, profile.patches ?? []);
  } catch (error) {
    return [
      ...problems,
      `skaffold.yaml profile ${PRODUCTION_PROFILE}: the patches do not apply: ${(error as Error).message}`,
    ];
  }
  if ((patched.build?.artifacts ?? []).length !== count)
    problems.push(`skaffold.yaml profile ${PRODUCTION_PROFILE}: changes the number of artifacts`);
  for (const artifact of dockerArtifacts(patched)) {
    if (artifact.target !== 'production')
      problems.push(
        `skaffold.yaml profile ${PRODUCTION_PROFILE}: artifact ${artifact.index} (${artifact.image}) builds target ${JSON.stringify(artifact.target)}, not production`,
      );
    if (artifact.sync.length > 0)
      problems.push(
        `skaffold.yaml profile ${PRODUCTION_PROFILE}: artifact ${artifact.index} (${artifact.image}) syncs files into its pods`,
      );
  }
  const production = overlayDir('production');
  if (kustomizePaths(patched).join() !== production)
    problems.push(
      `skaffold.yaml profile ${PRODUCTION_PROFILE}: deploys ${JSON.stringify(kustomizePaths(patched))}, not ${production}`,
    );
  return problems;
}
