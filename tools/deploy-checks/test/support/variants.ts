/** What the tests of each rendered variant (Gateway API, JetStream) compare against the default objects. */
import { podModels, type PodModel } from '../../src/checks/network';
import { label, type Manifest } from '../../src/manifests';
import { formatSchemaProblems, validateStrict } from '../../src/strict-schema';

/** kind/name: how an object of a variant is matched with the default one. */
export const objectKey = (manifest: Manifest) =>
  `${String(manifest.object.kind)}/${String(manifest.object.metadata?.name)}`;

/** Every object's problems against the strict schemas, each prefixed with the object. */
export function schemaProblems(manifests: readonly Manifest[]): string[] {
  return manifests.flatMap((manifest) =>
    formatSchemaProblems(validateStrict(manifest.object)).map((problem) => `${label(manifest)}: ${problem}`),
  );
}

/** The objects a variant adds to the default ones and those it drops, as kind/name. */
export function objectsChanged(
  defaults: readonly Manifest[],
  variant: readonly Manifest[],
): { added: string[]; dropped: string[] } {
  const keys = (manifests: readonly Manifest[]) => new Set(manifests.map(objectKey));
  const [before, after] = [keys(defaults), keys(variant)];
  return {
    added: [...after].filter((name) => !before.has(name)),
    dropped: [...before].filter((name) => !after.has(name)),
  };
}

/** The network model of a workload's pods. */
export function podOf(manifests: readonly Manifest[], workload: string): PodModel {
  const model = podModels(manifests).get(workload);
  if (!model) throw new Error(`no workload ${workload}`);
  return model;
}
