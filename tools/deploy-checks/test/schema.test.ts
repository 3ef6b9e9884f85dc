import {
  copyManifests,
  label,
  identityProblems,
  loadManifests,
  objectOf,
  parseManifestText,
  type KubeObject,
} from '../src/manifests';
import { formatSchemaProblems, validateStrict } from '../src/strict-schema';

const { manifests, problems: parseProblems } = loadManifests();

function postsDeployment(): KubeObject {
  return objectOf(copyManifests(manifests), 'Deployment', 'posts-depl');
}

/** The containers of a Deployment copy, for mutating. */
function containersOf(deployment: KubeObject): Record<string, unknown>[] {
  const spec = deployment.spec as { template: { spec: { containers: Record<string, unknown>[] } } };
  return spec.template.spec.containers;
}

describe('the manifests in infra/k8s', () => {
  it('parse as YAML, the same way under YAML 1.1 (Kubernetes) and 1.2', () => {
    expect(parseProblems).toEqual([]);
    expect(manifests.length).toBeGreaterThan(0);
  });

  it('each have a kind and a unique name, and no namespace', () => {
    expect(identityProblems(manifests)).toEqual([]);
  });

  it.each(manifests.map((manifest) => [label(manifest), manifest] as const))(
    '%s is valid against its Kubernetes schema, strictly (no unknown field)',
    (_name, manifest) => {
      expect(formatSchemaProblems(validateStrict(manifest.object))).toEqual([]);
    },
  );
});

describe('strict schema validation', () => {
  it('accepts a valid Deployment, with maps (labels, resources) and int-or-string ports', () => {
    const deployment = postsDeployment();
    (deployment.metadata as { labels: Record<string, string> }).labels['any-label.example.com/key'] = 'value';
    expect(validateStrict(deployment)).toEqual([]);
  });

  it('rejects an unknown field at the top of the spec, naming its path', () => {
    const deployment = postsDeployment();
    (deployment.spec as Record<string, unknown>).replica = 1;
    expect(validateStrict(deployment)).toEqual([
      expect.objectContaining({ path: 'spec.replica', message: expect.stringMatching(/unknown field "replica"/) }),
    ]);
  });

  it('rejects a misspelled field deep in a container, naming its path', () => {
    const deployment = postsDeployment();
    const [container] = containersOf(deployment);
    if (!container) throw new Error('no container');
    container.imagePullPolicyy = 'Always';
    expect(formatSchemaProblems(validateStrict(deployment))).toEqual([
      expect.stringMatching(/^spec\.template\.spec\.containers\[0\]\.imagePullPolicyy: unknown field/),
    ]);
  });

  it('rejects unknown fields inside arrays of objects and under $ref-ed types', () => {
    const deployment = postsDeployment();
    const [container] = containersOf(deployment);
    if (!container) throw new Error('no container');
    (container.ports as Record<string, unknown>[])[0] = { name: 'http', containerPort: 4000, hostport: 1 };
    (container.securityContext as Record<string, unknown>).readOnlyRootFileSystem = true;
    expect(validateStrict(deployment).map((p) => p.path)).toEqual([
      'spec.template.spec.containers[0].ports[0].hostport',
      'spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem',
    ]);
  });

  it('reports type errors too (a string containerPort, a number in a ConfigMap)', () => {
    const deployment = postsDeployment();
    const [container] = containersOf(deployment);
    if (!container) throw new Error('no container');
    (container.ports as Record<string, unknown>[])[0] = { name: 'http', containerPort: '4000' };
    expect(formatSchemaProblems(validateStrict(deployment))).toEqual([
      'spec.template.spec.containers[0].ports[0].containerPort: must be integer',
    ]);

    const configMap = objectOf(copyManifests(manifests), 'ConfigMap', 'blog-config');
    (configMap.data as Record<string, unknown>).PROXY_API = false;
    expect(formatSchemaProblems(validateStrict(configMap))).toEqual(['data.PROXY_API: must be string']);
  });

  it('rejects an unknown apiVersion or kind', () => {
    expect(formatSchemaProblems(validateStrict({ ...postsDeployment(), apiVersion: 'apps/v2' }))).toEqual([
      expect.stringMatching(/unknown apiVersion\/kind apps\/v2 Deployment/),
    ]);
    expect(formatSchemaProblems(validateStrict({ ...postsDeployment(), kind: 'Deploymnet' }))).toEqual([
      expect.stringMatching(/unknown apiVersion\/kind apps\/v1 Deploymnet/),
    ]);
    expect(formatSchemaProblems(validateStrict({ ...postsDeployment(), apiVersion: '../../x' }))).toEqual([
      expect.stringMatching(/unknown apiVersion/),
    ]);
    expect(formatSchemaProblems(validateStrict({ kind: 'Deployment' }))).toEqual([
      expect.stringMatching(/unknown apiVersion undefined/),
    ]);
  });

  it('flags a value YAML 1.1 reads differently (PROXY_API: off is false for Kubernetes)', () => {
    const { problems } = parseManifestText(
      'x.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\ndata:\n  PROXY_API: off\n',
    );
    expect(problems).toEqual([expect.stringMatching(/reads differently under YAML 1.1/)]);
  });

  it('flags duplicate keys and duplicate names', () => {
    expect(parseManifestText('x.yaml', 'kind: A\nkind: B\n').problems).toEqual([expect.stringMatching(/unique/i)]);
    const twice = [...manifests, ...manifests.slice(0, 1)];
    expect(identityProblems(twice)).toEqual([expect.stringMatching(/the same kind and name/)]);
  });
});
