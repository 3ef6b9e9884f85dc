/**
 * The kustomize layout of infra/: the base (infra/k8s, through its `Kustomization` file), the components an
 * overlay chooses from (infra/components) and the overlays, one per environment (infra/overlays). Rendered
 * by the real kubectl (kustomize.ts), without `--load-restrictor LoadRestrictionsNone`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { LoadedManifests } from './manifests';
import { renderKustomization } from './kustomize';
import { repoPath } from './repo';

export const BASE_DIR = 'infra/k8s';
export const OVERLAYS = ['dev', 'dev-ingress-nginx', 'dev-jetstream', 'staging', 'production'] as const;
export type Overlay = (typeof OVERLAYS)[number];
/** The overlays a shared cluster runs: credentials from a secret store, images pinned. */
export const SHARED_OVERLAYS: readonly Overlay[] = ['staging', 'production'];

export const overlayDir = (overlay: Overlay) => `infra/overlays/${overlay}`;
export const componentDir = (component: string) => `infra/components/${component}`;

/** The namespace each overlay deploys to (its `namespace` field; the restricted-namespace component's name). */
export const OVERLAY_NAMESPACE: Record<Overlay, string> = {
  dev: 'blog-dev',
  'dev-ingress-nginx': 'blog-dev',
  'dev-jetstream': 'blog-dev',
  staging: 'blog-staging',
  production: 'blog-production',
};

/** Exactly one way in. */
export const WAYS_IN = ['ingress-nginx', 'gateway'] as const;
/** Each on or off, in the order a kustomization lists them (network-policies before what patches its policies). */
export const OPTIONAL_COMPONENTS = ['network-policies', 'jetstream', 'monitoring', 'tracing'] as const;

/**
 * Every combination of the components on the base: each way in, with every subset of the optional ones, in a
 * restricted namespace, with the development credentials (the shared overlays cover the secret store).
 */
export function componentCombinations(): string[][] {
  const subsets = OPTIONAL_COMPONENTS.reduce<string[][]>(
    (sets, component) => sets.flatMap((set) => [set, [...set, component]]),
    [[]],
  );
  // The order a kustomization lists them in: each set keeps the components it holds, in this order.
  const order = (wayIn: string) => [
    'restricted-namespace',
    'network-policies',
    wayIn,
    'jetstream',
    'monitoring',
    'tracing',
    'dev-secrets',
  ];
  const always = new Set(['restricted-namespace', 'dev-secrets']);
  return WAYS_IN.flatMap((wayIn) =>
    subsets.map((optional) =>
      order(wayIn).filter((component) => component === wayIn || always.has(component) || optional.includes(component)),
    ),
  );
}

/** The namespace combinations render to. */
export const COMBINATION_NAMESPACE = 'blog-check';

/**
 * The base with these components, rendered by kubectl from a kustomization written for the purpose. It is
 * written inside the repository (under node_modules/.cache), because kustomize takes other kustomizations
 * by relative path only, and removed afterwards.
 */
export function renderComponents(components: readonly string[]): LoadedManifests {
  const cache = repoPath('node_modules/.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(path.join(cache, 'blog-kustomize-'));
  try {
    const relative = (repoRelative: string) => path.relative(dir, repoPath(repoRelative));
    const kustomization = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      namespace: COMBINATION_NAMESPACE,
      resources: [relative(BASE_DIR)],
      components: components.map((component) => relative(componentDir(component))),
    };
    writeFileSync(path.join(dir, 'kustomization.yaml'), stringify(kustomization));
    return renderKustomization(dir, `components ${components.join(' + ')}`, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
