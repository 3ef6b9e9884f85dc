/**
 * Replicas left to the autoscalers: in every variant the repository deploys, no workload that a
 * HorizontalPodAutoscaler scales sets `spec.replicas` itself.
 */
import { checkAutoscaledReplicas } from '../src/checks/autoscaling';
import { checkPolicySelectors } from '../src/checks/references';
import { renderKustomization } from '../src/kustomize';
import { loadManifests, mutatedCopy, ofKind, setField as set, type Manifest } from '../src/manifests';

const defaults = loadManifests().manifests;
const jetstream = renderKustomization('infra/overlays/dev-jetstream').manifests;
const gateway = renderKustomization('infra/overlays/dev').manifests;

/** An autoscaler of `kind/name`, as a manifest document. */
function autoscalerOf(kind: string, name: string, apiVersion = 'apps/v1'): Manifest {
  return {
    file: 'synthetic.yaml',
    index: 0,
    object: {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: `${name}-hpa` },
      spec: { scaleTargetRef: { apiVersion, kind, name }, minReplicas: 2, maxReplicas: 4 },
    },
  };
}

describe('the autoscaled workloads', () => {
  it.each([
    ['infra/k8s', defaults],
    ['infra/overlays/dev', gateway],
    ['infra/overlays/dev-jetstream', jetstream],
  ])('of %s leave their replica count to their autoscaler', (_name, manifests) => {
    expect(manifests.length).toBeGreaterThan(0);
    expect(checkAutoscaledReplicas(manifests)).toEqual([]);
  });

  it('are every Deployment of the jetstream variant but the client, each autoscaled from 2', () => {
    const scaled = ofKind(jetstream, 'HorizontalPodAutoscaler').map(({ typed }) => [
      typed.spec?.scaleTargetRef.name,
      typed.spec?.minReplicas,
    ]);
    expect(scaled.sort()).toEqual(
      ['comments-depl', 'event-bus-depl', 'moderation-depl', 'posts-depl', 'query-depl'].map((name) => [name, 2]),
    );
  });

  it("count from their autoscaler's minimum, so a budget keeping one of them allows drains", () => {
    // (The NATS servers' NetworkPolicy selects pods of the Helm chart, which are not among these objects.)
    const budgetProblems = (all: readonly Manifest[]) =>
      checkPolicySelectors(all).filter((problem) => problem.includes('PodDisruptionBudget/'));
    expect(budgetProblems(jetstream)).toEqual([]);
    const fromOne = mutatedCopy(jetstream, (all) =>
      set(all, 'HorizontalPodAutoscaler', 'event-bus-hpa', ['spec', 'minReplicas'], 1),
    );
    expect(budgetProblems(fromOne)).toEqual([
      expect.stringMatching(/PodDisruptionBudget\/event-bus-pdb: allows no voluntary disruption of its 1 pod\(s\)/),
    ]);
  });
});

describe('the autoscaling check catches', () => {
  it('a Deployment that an autoscaler scales and that sets replicas', () => {
    const copy = mutatedCopy(jetstream, (all) => set(all, 'Deployment', 'posts-depl', ['spec', 'replicas'], 2));
    expect(checkAutoscaledReplicas(copy)).toEqual([
      expect.stringMatching(
        /Deployment\/posts-depl: spec\.replicas is 2 while .*HorizontalPodAutoscaler\/posts-hpa scales it/,
      ),
    ]);
  });

  it('a StatefulSet and a Deployment of the default objects, once an autoscaler scales them', () => {
    const copy = [...defaults, autoscalerOf('StatefulSet', 'event-bus'), autoscalerOf('Deployment', 'client-depl')];
    expect(checkAutoscaledReplicas(copy)).toEqual([
      expect.stringMatching(/StatefulSet\/event-bus: spec\.replicas is 1 while .*event-bus-hpa/),
      expect.stringMatching(/Deployment\/client-depl: spec\.replicas is 1 while .*client-depl-hpa/),
    ]);
  });

  it('an autoscaler whose target is not among the objects (its replicas would go unchecked)', () => {
    const copy = mutatedCopy(jetstream, (all) =>
      set(all, 'HorizontalPodAutoscaler', 'query-hpa', ['spec', 'scaleTargetRef', 'name'], 'query'),
    );
    expect(checkAutoscaledReplicas(copy)).toEqual([
      expect.stringMatching(
        /HorizontalPodAutoscaler\/query-hpa: scales Deployment\/query \(apps\/v1\), which no manifest defines/,
      ),
    ]);
  });

  it('a target of another API group than the autoscaler names', () => {
    const copy = [...defaults, autoscalerOf('Deployment', 'client-depl', 'extensions/v1beta1')];
    expect(checkAutoscaledReplicas(copy)).toEqual([expect.stringMatching(/which no manifest defines/)]);
  });
});
