/**
 * HorizontalPodAutoscalers against the objects they scale. Where an autoscaler owns a workload's replica
 * count, the manifest must leave `spec.replicas` out: with it, every `kubectl apply` sets the count back to
 * the manifest's number, fighting the autoscaler.
 */
import { label, ofKind, type KubeObject, type Manifest } from '../manifests';

/** `apps/v1` → `apps`, `v1` → `` (the core group): a target is matched by group, kind and name, not version. */
function apiGroup(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

function namespaceOf(object: KubeObject): unknown {
  return object.metadata?.namespace;
}

/** Each autoscaler's target exists among the manifests, and has no `spec.replicas` of its own. */
export function checkAutoscaledReplicas(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const hpa of ofKind(manifests, 'HorizontalPodAutoscaler')) {
    const ref = hpa.typed.spec?.scaleTargetRef;
    if (!ref) {
      problems.push(`${label(hpa)}: no spec.scaleTargetRef`);
      continue;
    }
    const targets = manifests.filter(
      ({ object }) =>
        object.kind === ref.kind &&
        object.metadata?.name === ref.name &&
        apiGroup(object.apiVersion) === apiGroup(ref.apiVersion) &&
        namespaceOf(object) === namespaceOf(hpa.object),
    );
    if (targets.length === 0) {
      problems.push(
        `${label(hpa)}: scales ${ref.kind}/${ref.name} (${ref.apiVersion ?? ''}), which no manifest defines`,
      );
      continue;
    }
    for (const target of targets) {
      const replicas = (target.object.spec as { replicas?: unknown } | undefined)?.replicas;
      if (replicas !== undefined) {
        problems.push(
          `${label(target)}: spec.replicas is ${JSON.stringify(replicas)} while ${label(hpa)} scales it: every apply would reset the count the autoscaler chose; leave replicas out and let minReplicas set the floor`,
        );
      }
    }
  }
  return problems;
}
