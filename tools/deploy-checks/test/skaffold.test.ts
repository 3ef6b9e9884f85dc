import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  checkProductionProfile,
  checkProfileOverlays,
  checkSkaffoldBasics,
  checkStatedSkaffoldVersion,
  MIN_SKAFFOLD_API_VERSION,
  PRODUCTION_PROFILE,
} from '../src/checks/skaffold';
import { imageRepository, loadManifests, workloads } from '../src/manifests';
import { overlayDir } from '../src/environments';
import { renderKustomization } from '../src/kustomize';
import { skaffoldNatsReleaseProblems } from '../src/nats-chart';
import { OBSERVABILITY_SKAFFOLD } from '../src/observability-charts';
import { readRepoFile, REPO_ROOT, repoPath } from '../src/repo';
import {
  applyJsonPatch,
  compareSkaffoldVersions,
  dockerArtifacts,
  loadSkaffold,
  type SkaffoldConfig,
} from '../src/skaffold';

const skaffold = loadSkaffold();
const { manifests } = loadManifests();

/** The production profile of a config (a copy's, to mutate it). */
function productionOf(config: SkaffoldConfig) {
  const profile = config.profiles?.find((candidate) => candidate.name === PRODUCTION_PROFILE);
  if (!profile?.patches) throw new Error('no production profile with patches');
  return profile as typeof profile & { patches: NonNullable<typeof profile.patches> };
}

function skaffoldWith(mutate: (copy: SkaffoldConfig) => void): SkaffoldConfig {
  const copy = structuredClone(skaffold);
  mutate(copy);
  return copy;
}

describe('skaffold.yaml', () => {
  it(`is ${MIN_SKAFFOLD_API_VERSION} or newer, builds locally without pushing, with a dev target and manual sync per artifact`, () => {
    expect(checkSkaffoldBasics(skaffold)).toEqual([]);
  });

  it('builds an artifact for every image the manifests run (each service and the client), and no other', () => {
    const images = new Set(
      workloads(manifests).flatMap((w) => w.containers.map((c) => imageRepository(c.image ?? ''))),
    );
    expect(
      dockerArtifacts(skaffold)
        .map((a) => a.image)
        .sort(),
    ).toEqual([...images].sort());
  });

  it('states the skaffold release it needs, the first to read its apiVersion', () => {
    expect(checkStatedSkaffoldVersion(skaffold, readRepoFile('skaffold.yaml'))).toEqual([]);
    const older = skaffoldWith((copy) => {
      copy.apiVersion = 'skaffold/v4beta13';
    });
    expect(checkStatedSkaffoldVersion(older, readRepoFile('skaffold.yaml'))).toEqual([
      'skaffold.yaml: its first line should say "# Needs skaffold v2.15.0 or later" (skaffold/v4beta13); it says v2.19.0',
    ]);
  });

  it('deploys one overlay of infra/overlays without a profile and with each: dev by default', () => {
    expect(checkProfileOverlays(skaffold)).toEqual([]);
    expect(skaffold.manifests?.kustomize?.paths).toEqual(['infra/overlays/dev']);
    expect(skaffold.profiles?.map((profile) => profile.name)).toEqual(['ingress-nginx', 'jetstream', 'production']);
  });

  it('has a production profile whose patches hit existing artifacts, switch every one to production without file sync, and deploy the production overlay', () => {
    expect(checkProductionProfile(skaffold)).toEqual([]);
  });
});

describe('the images each profile deploys', () => {
  const variants = [undefined, ...(skaffold.profiles ?? []).map((profile) => profile.name)];

  it.each(variants)('are those it builds (profile %s): else skaffold would deploy images it did not build', (name) => {
    const profile = skaffold.profiles?.find((candidate) => candidate.name === name);
    const effective = applyJsonPatch(skaffold, profile?.patches ?? []);
    const [overlay] = effective.manifests?.kustomize?.paths ?? [];
    const { manifests: deployed } = renderKustomization(String(overlay));
    const running = new Set(
      workloads(deployed).flatMap((w) =>
        [...(w.pod.initContainers ?? []), ...w.containers].map((c) => imageRepository(c.image ?? '')),
      ),
    );
    expect([...running].sort()).toEqual(
      dockerArtifacts(effective)
        .map((artifact) => artifact.image)
        .sort(),
    );
  });
});

describe('the profiles that install NATS', () => {
  const observability = { path: OBSERVABILITY_SKAFFOLD, configs: ['blog-observability'] };
  const profiles = [
    { name: 'jetstream', environment: 'dev' as const, alsoRequired: [] },
    { name: PRODUCTION_PROFILE, environment: 'production' as const, alsoRequired: [observability] },
  ];

  it.each(profiles)(
    '$name: deploys its namespace and credentials first (a required config), then the NATS release of $environment',
    ({ name, environment, alsoRequired }) => {
      const profile = skaffold.profiles?.find((candidate) => candidate.name === name);
      const effective = applyJsonPatch(skaffold, profile?.patches ?? []);
      const releases = (effective.deploy?.helm as { releases?: Record<string, unknown>[] } | undefined)?.releases ?? [];
      expect(releases).toHaveLength(1);
      expect(skaffoldNatsReleaseProblems(releases[0] ?? {}, environment)).toEqual([]);

      const [required, ...more] = (effective.requires ?? []) as { path: string; configs: string[] }[];
      expect(more).toEqual(alsoRequired);
      const configs = parseAllDocuments(readRepoFile(required?.path ?? '')).map(
        (doc) => doc.toJS() as SkaffoldConfig & { metadata: { name: string } },
      );
      const [first] = configs.filter((config) => required?.configs.includes(config.metadata.name));
      const paths = (first?.manifests?.kustomize?.paths ?? []).map((dir) =>
        path.posix.join(path.posix.dirname(required?.path ?? ''), String(dir)),
      );
      expect(paths).toEqual([`${overlayDir(environment)}/namespace`]);
      const { manifests: namespaceObjects } = renderKustomization(paths[0] ?? '');
      const namespaces = namespaceObjects
        .filter((m) => m.object.kind === 'Namespace')
        .map((m) => m.object.metadata?.name);
      expect(namespaces).toEqual([releases[0]?.namespace]);
      // The Secrets NATS reads, or the ExternalSecrets that make them.
      const credentials = namespaceObjects
        .filter((m) => m.object.kind === 'Secret' || m.object.kind === 'ExternalSecret')
        .map((m) => m.object.metadata?.name);
      expect(credentials).toEqual(
        expect.arrayContaining(['nats-credentials', 'nats-admin-credentials', 'nats-route-credentials']),
      );
    },
  );
});

describe('the skaffold checks catch', () => {
  it('an old apiVersion, push: true, a production target by default, a missing sync', () => {
    const broken = skaffoldWith((copy) => {
      copy.apiVersion = 'skaffold/v4beta10';
      if (copy.build?.local) copy.build.local.push = true;
      const [first, second] = copy.build?.artifacts ?? [];
      if (first?.docker) first.docker.target = 'production';
      if (second) delete second.sync;
    });
    expect(checkSkaffoldBasics(broken)).toEqual([
      'skaffold.yaml: apiVersion skaffold/v4beta10 is older than skaffold/v4beta14',
      expect.stringMatching(/build.local.push is not false/),
      expect.stringMatching(/build.artifacts\[0\] \(blog\/event-bus\): docker.target is "production", expected dev/),
      expect.stringMatching(/build.artifacts\[1\] \(blog\/posts\): no sync.manual rules/),
    ]);
  });

  it('orders skaffold versions', () => {
    expect(compareSkaffoldVersions('skaffold/v4beta14', 'skaffold/v4beta11')).toBeGreaterThan(0);
    expect(compareSkaffoldVersions('skaffold/v4', 'skaffold/v4beta11')).toBeGreaterThan(0);
    expect(compareSkaffoldVersions('skaffold/v5alpha1', 'skaffold/v4')).toBeGreaterThan(0);
    expect(compareSkaffoldVersions('skaffold/v4alpha3', 'skaffold/v4beta1')).toBeLessThan(0);
    expect(compareSkaffoldVersions('skaffold/v4beta11', 'skaffold/v4beta11')).toBe(0);
  });

  it('a profile deploying no overlay, two, or raw manifests beside one', () => {
    const broken = skaffoldWith((copy) => {
      const [ingressNginx, jetstream] = copy.profiles ?? [];
      ingressNginx?.patches?.splice(0, 1, { op: 'replace', path: '/manifests/kustomize/paths/0', value: 'infra/k8s' });
      jetstream?.patches?.push({ op: 'add', path: '/manifests/rawYaml', value: ['infra/k8s/*.yaml'] });
    });
    expect(checkProfileOverlays(broken)).toEqual([
      expect.stringMatching(/profile ingress-nginx: deploys \["infra\/k8s"\], expected one of infra\/overlays\/dev, /),
      'skaffold.yaml profile jetstream: deploys raw manifests beside the overlay',
    ]);
  });

  it('a production profile that misses an artifact, or patches one that does not exist', () => {
    const missing = skaffoldWith((copy) => {
      const profile = productionOf(copy);
      profile.patches = profile.patches.filter(
        (patch) => patch.path !== '/build/artifacts/5/docker/target' && patch.path !== '/build/artifacts/4/sync',
      );
    });
    expect(checkProductionProfile(missing)).toEqual([
      expect.stringMatching(/artifact 4 \(registry.example.com\/blog\/moderation\) syncs files into its pods/),
      expect.stringMatching(/artifact 5 \(registry.example.com\/blog\/client\) builds target "dev", not production/),
    ]);

    let index = 0;
    const beyond = skaffoldWith((copy) => {
      const { patches } = productionOf(copy);
      index = patches.length;
      patches.push({ op: 'replace', path: '/build/artifacts/6/docker/target', value: 'production' });
    });
    expect(checkProductionProfile(beyond)).toEqual([
      `skaffold.yaml profile production patches[${index}] ("/build/artifacts/6/docker/target"): there is no artifact 6 (6 artifacts)`,
      expect.stringMatching(/the patches do not apply: path \/build\/artifacts\/6\/docker\/target does not exist/),
    ]);
  });

  it('applies JSON patches like skaffold (add, replace, remove; a bad path throws)', () => {
    const doc = { a: [{ b: 1 }], c: { d: 2 } };
    expect(
      applyJsonPatch(doc, [
        { op: 'add', path: '/a/-', value: { b: 3 } },
        { op: 'replace', path: '/c/d', value: 4 },
        { op: 'remove', path: '/a/0' },
      ]),
    ).toEqual({ a: [{ b: 3 }], c: { d: 4 } });
    expect(doc).toEqual({ a: [{ b: 1 }], c: { d: 2 } });
    expect(() => applyJsonPatch(doc, [{ op: 'replace', path: '/x/y', value: 1 }])).toThrow(/does not exist/);
    expect(() => applyJsonPatch(doc, [{ op: 'replace', path: '/c/e', value: 1 }])).toThrow(/nothing there/);
  });
});

describe('tools/scripts/check-skaffold-schema.mjs', () => {
  const script = repoPath('tools/scripts/check-skaffold-schema.mjs');
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [script, ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });

  let sandbox: string;
  beforeAll(() => {
    sandbox = mkdtempSync(path.join(tmpdir(), 'skaffold-schema-'));
    // A small draft-07 schema in skaffold's style (anyOf + additionalProperties: false, x-intellij keywords).
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      anyOf: [{ $ref: '#/definitions/SkaffoldConfig' }],
      definitions: {
        SkaffoldConfig: {
          required: ['apiVersion', 'kind'],
          properties: {
            apiVersion: { type: 'string' },
            kind: { type: 'string' },
            build: { $ref: '#/definitions/Build' },
            profiles: { type: 'array' },
          },
          additionalProperties: false,
          'x-intellij-html-description': 'the config',
        },
        Build: {
          properties: { local: { properties: { push: { type: 'boolean' } }, additionalProperties: false } },
          additionalProperties: false,
        },
      },
    };
    writeFileSync(path.join(sandbox, 'skaffold-v9beta1.json'), JSON.stringify(schema));
  });
  afterAll(() => rmSync(sandbox, { recursive: true, force: true }));

  it('validates with the schema of the apiVersion, also with every profile applied', () => {
    const valid = path.join(sandbox, 'valid.yaml');
    writeFileSync(
      valid,
      'apiVersion: skaffold/v9beta1\nkind: Config\nbuild: { local: { push: false } }\nprofiles: [{ name: p, patches: [{ op: add, path: /build/local/pushh, value: true }] }]\n',
    );
    const result = run([valid], { SKAFFOLD_SCHEMAS_DIR: sandbox });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /valid.yaml with profile p is not valid against .*skaffold-v9beta1.json:\n {2}\/build\/local must NOT have additional properties "pushh"/,
    );
    expect(result.stderr).not.toMatch(/^\S*valid.yaml is not valid/m);

    writeFileSync(valid, 'apiVersion: skaffold/v9beta1\nkind: Config\nbuild: { local: { push: false } }\n');
    expect(run([valid], { SKAFFOLD_SCHEMAS_DIR: sandbox })).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/valid against .*skaffold-v9beta1.json/),
    });
  });

  it('also validates each profile set the docs beside the file name, in their order, and a set naming a missing profile fails', () => {
    const dir = mkdtempSync(path.join(sandbox, 'documented-'));
    const config = path.join(dir, 'skaffold.yaml');
    writeFileSync(
      config,
      'apiVersion: skaffold/v9beta1\nkind: Config\nbuild: { local: { push: false } }\nprofiles:\n' +
        '  - { name: a, patches: [{ op: remove, path: /build/local/push }] }\n' +
        '  - { name: b, patches: [{ op: add, path: /build/local/pushh, value: true }] }\n',
    );
    writeFileSync(path.join(dir, 'README.md'), 'Run `skaffold dev -p a,b` or `skaffold run -p a,c`.\n');
    const result = run([config], { SKAFFOLD_SCHEMAS_DIR: sandbox });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /with profiles a,b \(named in .*README.md\) is not valid .*\n {2}\/build\/local must NOT have additional properties "pushh"/,
    );
    expect(result.stderr).toMatch(/names the profiles a,c, and c does not exist/);
  });

  it('fails when there is no schema for the apiVersion, and skips when there is no schemas folder', () => {
    const other = path.join(sandbox, 'other.yaml');
    writeFileSync(other, 'apiVersion: skaffold/v9beta2\nkind: Config\n');
    const missing = run([other], { SKAFFOLD_SCHEMAS_DIR: sandbox });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(
      /no schema for skaffold\/v9beta2: .*skaffold-v9beta2.json does not exist \(available: skaffold-v9beta1.json\)/,
    );

    const skipped = run([other], { SKAFFOLD_SCHEMAS_DIR: path.join(sandbox, 'absent') });
    expect(skipped.status).toBe(0);
    expect(skipped.stdout).toMatch(/skipped: no schemas folder/);
  });
});
