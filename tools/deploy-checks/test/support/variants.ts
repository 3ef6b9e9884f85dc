/** What the tests of each rendered variant (Gateway API, JetStream) compare against the default objects. */
import { podModels, type PodModel } from '../../src/checks/network';
import { label, typedOf, type Manifest } from '../../src/manifests';
import { formatSchemaProblems, validateStrict } from '../../src/strict-schema';

/** kind/name: how an object of a variant is matched with the default one. */
export const objectKey = (manifest: Manifest) =>
  `${String(manifest.object.kind)}/${String(manifest.object.metadata?.name)}`;

/**
 * Every object's problems against the strict schemas, each prefixed with the object. A Secret's `data` is
 * read as the API server reads it: kustomize folds a long base64 value over lines, and the server's base64
 * decoder (Go's encoding/base64) skips line breaks.
 */
export function schemaProblems(manifests: readonly Manifest[]): string[] {
  return manifests.flatMap((manifest) =>
    formatSchemaProblems(validateStrict(asApiServerReadsIt(manifest.object))).map(
      (problem) => `${label(manifest)}: ${problem}`,
    ),
  );
}

function asApiServerReadsIt(object: Manifest['object']): Manifest['object'] {
  const data = (object as { data?: unknown }).data;
  if (object.kind !== 'Secret' || typeof data !== 'object' || data === null) return object;
  const unfolded = Object.fromEntries(
    Object.entries(data).map(([key, value]) => [key, typeof value === 'string' ? value.replace(/[\r\n]/g, '') : value]),
  );
  return { ...object, data: unfolded };
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

/** A Secret's values by key, as its pods read them: `stringData`, and `data` decoded from base64. */
export function secretValues(manifests: readonly Manifest[], name: string): Record<string, string> {
  const secret = typedOf(manifests, 'Secret', name);
  const decoded = Object.entries(secret.data ?? {}).map(([key, value]): [string, string] => [
    key,
    Buffer.from(value, 'base64').toString('utf8'),
  ]);
  return { ...Object.fromEntries(decoded), ...secret.stringData };
}
