/**
 * GitOps (infra/gitops/applicationset.yaml): Argo CD's ApplicationSet against its CRD's schema, each
 * Application it generates deploying an existing overlay and NATS with that environment's values to the
 * overlay's namespace, the same chart as skaffold installs, and promotion as a one-line change.
 */
import { parse } from 'yaml';
import { OVERLAY_NAMESPACE, overlayDir, SHARED_OVERLAYS, type Overlay } from '../src/environments';
import { parseManifestText } from '../src/manifests';
import { readRepoFile, repoDirExists, repoFileExists } from '../src/repo';
import { applyJsonPatch, loadSkaffold } from '../src/skaffold';
import { schemaProblems } from './support/variants';

const FILE = 'infra/gitops/applicationset.yaml';

interface Source {
  repoURL: string;
  targetRevision: string;
  path?: string;
  chart?: string;
  ref?: string;
  helm?: { releaseName?: string; valueFiles?: string[] };
}
interface ApplicationSet {
  spec: {
    generators: { list: { elements: Record<string, string>[] } }[];
    template: {
      metadata: { name: string };
      spec: { sources: Source[]; destination: { server: string; namespace: string } };
    };
  };
}

const applicationSet = parse(readRepoFile(FILE)) as ApplicationSet;

/** The template filled in for one element, as Argo CD's Go templates do for `{{ .key }}`. */
function generate(element: Record<string, string>): ApplicationSet['spec']['template'] {
  const text = JSON.stringify(applicationSet.spec.template).replace(/\{\{ \.(\w+) \}\}/g, (_, key: string) => {
    const value = element[key];
    if (value === undefined) throw new Error(`no ${key} in ${JSON.stringify(element)}`);
    return value;
  });
  return JSON.parse(text) as ApplicationSet['spec']['template'];
}

const elements = applicationSet.spec.generators.flatMap((generator) => generator.list.elements);
const applications = elements.map((element) => ({ environment: element.environment, app: generate(element) }));

/** The NATS releases skaffold's profiles install. */
function skaffoldNatsReleases(): Record<string, unknown>[] {
  const config = loadSkaffold();
  return (config.profiles ?? []).flatMap((profile) => {
    const helm = applyJsonPatch(config, profile.patches ?? []).deploy?.helm as
      { releases?: Record<string, unknown>[] } | undefined;
    return helm?.releases ?? [];
  });
}

describe('the ApplicationSet', () => {
  it("is valid against Argo CD's CRD schema", () => {
    const { manifests, problems } = parseManifestText(FILE, readRepoFile(FILE));
    expect(problems).toEqual([]);
    expect(schemaProblems(manifests)).toEqual([]);
  });

  it('generates one Application for each shared environment', () => {
    expect(applications.map(({ environment }) => environment).sort()).toEqual([...SHARED_OVERLAYS].sort());
    expect(applications.map(({ app }) => app.metadata.name).sort()).toEqual(['blog-production', 'blog-staging']);
  });

  it.each(applications)(
    'deploys $environment from its overlay, with NATS from its values, to its namespace',
    ({ environment, app }) => {
      const [overlay, chart, values, ...others] = app.spec.sources;
      expect(others).toEqual([]);
      expect(overlay?.path).toBe(overlayDir(environment as Overlay));
      expect(repoDirExists(overlay?.path ?? '')).toBe(true);
      expect(app.spec.destination.namespace).toBe(OVERLAY_NAMESPACE[environment as Overlay]);
      expect(values).toMatchObject({
        repoURL: overlay?.repoURL,
        targetRevision: overlay?.targetRevision,
        ref: 'values',
      });
      const files = chart?.helm?.valueFiles ?? [];
      expect(files.every((file) => file.startsWith('$values/'))).toBe(true);
      const local = files.map((file) => file.replace(/^\$values\//, ''));
      expect(local).toEqual(['infra/helm/nats/values.yaml', `infra/helm/nats/${environment}.yaml`]);
      expect(local.filter((file) => !repoFileExists(file))).toEqual([]);
    },
  );

  it('installs the same NATS chart, version and release name as skaffold', () => {
    const releases = skaffoldNatsReleases();
    expect(releases.length).toBeGreaterThan(0);
    for (const { app } of applications) {
      const chart = app.spec.sources.find((source) => source.chart !== undefined);
      for (const release of releases)
        expect({
          repo: chart?.repoURL,
          chart: chart?.chart,
          version: chart?.targetRevision,
          name: chart?.helm?.releaseName,
        }).toEqual({ repo: release.repo, chart: release.remoteChart, version: release.version, name: release.name });
    }
  });
});

describe('promoting an image from staging to production', () => {
  const images = (overlay: Overlay) =>
    (
      parse(readRepoFile(`${overlayDir(overlay)}/kustomization.yaml`)) as {
        images: { name: string; newTag?: string; digest?: string }[];
      }
    ).images;

  it('pins the same images in both, each on one line of its own (a tag or a digest)', () => {
    expect(images('production').map((image) => image.name)).toEqual(images('staging').map((image) => image.name));
    for (const overlay of SHARED_OVERLAYS) {
      const lines = readRepoFile(`${overlayDir(overlay)}/kustomization.yaml`).split('\n');
      for (const { name, newTag, digest } of images(overlay)) {
        const pin = digest === undefined ? `newTag: ${newTag ?? '?'}` : `digest: ${digest}`;
        const holding = lines.filter((line) => line.includes(`name: ${name},`));
        expect([overlay, name, holding.length, holding[0]?.includes(pin)]).toEqual([overlay, name, 1, true]);
      }
    }
  });
});
