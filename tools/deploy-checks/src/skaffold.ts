/**
 * skaffold.yaml as data: the parts the checks use, typed loosely (the skaffold JSON schema check,
 * tools/scripts/check-skaffold-schema.mjs, validates the whole file), and the profiles' JSON patches applied.
 */
import { applyOperation, JsonPatchError, type Operation } from 'fast-json-patch';
import { parse } from 'yaml';
import { readRepoFile } from './repo';

export interface SyncRule {
  src?: unknown;
  dest?: unknown;
  strip?: unknown;
}

export interface SkaffoldArtifact {
  image?: unknown;
  context?: unknown;
  docker?: { dockerfile?: unknown; target?: unknown; [field: string]: unknown };
  sync?: { manual?: SyncRule[]; infer?: unknown; auto?: unknown };
  [field: string]: unknown;
}

export interface JsonPatchOperation {
  op?: unknown;
  path?: unknown;
  value?: unknown;
  from?: unknown;
}

export interface SkaffoldProfile {
  name?: unknown;
  patches?: JsonPatchOperation[];
  [field: string]: unknown;
}

export interface SkaffoldConfig {
  apiVersion?: unknown;
  kind?: unknown;
  build?: {
    local?: { push?: unknown; [field: string]: unknown };
    artifacts?: SkaffoldArtifact[];
    [field: string]: unknown;
  };
  manifests?: {
    rawYaml?: unknown[];
    kustomize?: { paths?: unknown[]; [field: string]: unknown };
    [field: string]: unknown;
  };
  deploy?: Record<string, unknown>;
  requires?: unknown[];
  profiles?: SkaffoldProfile[];
  [field: string]: unknown;
}

export function loadSkaffold(relative = 'skaffold.yaml'): SkaffoldConfig {
  return parse(readRepoFile(relative), { uniqueKeys: true }) as SkaffoldConfig;
}

/** The artifacts with a string image, dockerfile and context (others are reported by the checks). */
export interface DockerArtifact {
  index: number;
  image: string;
  context: string;
  /** Relative to the repo root. */
  dockerfile: string;
  target: string | undefined;
  sync: SyncRule[];
}

export function dockerArtifacts(config: SkaffoldConfig): DockerArtifact[] {
  return (config.build?.artifacts ?? []).map((artifact, index) => {
    const context = typeof artifact.context === 'string' ? artifact.context : '.';
    const dockerfile = typeof artifact.docker?.dockerfile === 'string' ? artifact.docker.dockerfile : 'Dockerfile';
    return {
      index,
      image: typeof artifact.image === 'string' ? artifact.image : `<artifact ${index} has no image>`,
      context,
      dockerfile: joinRelative(context, dockerfile),
      target: typeof artifact.docker?.target === 'string' ? artifact.docker.target : undefined,
      sync: artifact.sync?.manual ?? [],
    };
  });
}

export function joinRelative(base: string, relative: string): string {
  const parts: string[] = [];
  for (const part of `${base}/${relative}`.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

/**
 * skaffold/v4beta11 → [4, 1, 11]: major, stage (alpha 0, beta 1, stable 2), number. Comparable in order:
 * v1alpha1 < v1beta1 < v1 < v2alpha1 …
 */
export function skaffoldVersionKey(apiVersion: string): [number, number, number] | undefined {
  const match = /^skaffold\/v(\d+)(?:(alpha|beta)(\d+))?$/.exec(apiVersion);
  if (!match) return undefined;
  const stage = match[2] === 'alpha' ? 0 : match[2] === 'beta' ? 1 : 2;
  return [Number(match[1]), stage, match[3] === undefined ? 0 : Number(match[3])];
}

export function compareSkaffoldVersions(a: string, b: string): number | undefined {
  const ka = skaffoldVersionKey(a);
  const kb = skaffoldVersionKey(b);
  if (!ka || !kb) return undefined;
  for (let i = 0; i < 3; i++) if ((ka[i] ?? 0) !== (kb[i] ?? 0)) return (ka[i] ?? 0) - (kb[i] ?? 0);
  return 0;
}

const PATCH_PROBLEMS: Record<InstanceType<typeof JsonPatchError>['name'], (op: string, path: string) => string> = {
  SEQUENCE_NOT_AN_ARRAY: () => 'the patches are not a list',
  OPERATION_NOT_AN_OBJECT: () => 'the operation is not an object',
  OPERATION_OP_INVALID: (op) => `${op} is not a JSON patch operation (add, remove, replace, move, copy, test)`,
  OPERATION_PATH_INVALID: (_op, path) => `path ${path} is not a JSON pointer (one starts with /)`,
  OPERATION_FROM_REQUIRED: (op) => `${op} needs a from path`,
  OPERATION_VALUE_REQUIRED: (op) => `${op} needs a value`,
  OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED: (op) => `the value of ${op} contains undefined`,
  OPERATION_PATH_CANNOT_ADD: (op, path) => `path ${path} does not exist: its parent is missing, nowhere to ${op}`,
  OPERATION_PATH_UNRESOLVABLE: (op, path) => `path ${path} does not exist: nothing there to ${op}`,
  OPERATION_FROM_UNRESOLVABLE: (op) => `the from path of ${op} does not exist`,
  OPERATION_PATH_ILLEGAL_ARRAY_INDEX: (_op, path) => `path ${path}: not an array index`,
  OPERATION_VALUE_OUT_OF_BOUNDS: (_op, path) => `path ${path}: the array index is out of range`,
  TEST_OPERATION_FAILED: (_op, path) => `test ${path} failed: the value differs`,
};

/**
 * RFC 6902 JSON patches as skaffold applies a profile's `patches` (an operation without `op` is a replace, as
 * skaffold's schema says), by fast-json-patch, on a deep copy: the document and the operations are left as they
 * are. Throws an Error naming the failing operation and why.
 */
export function applyJsonPatch<T>(document: T, operations: readonly JsonPatchOperation[]): T {
  let result = structuredClone(document);
  // One operation at a time: the library's error does not always carry the failing operation's index.
  operations.forEach((given, index) => {
    const operation = { ...given, op: given.op ?? 'replace' };
    try {
      result = applyOperation(result, structuredClone(operation) as Operation, true, true, true, index).newDocument;
    } catch (error) {
      if (!(error instanceof JsonPatchError)) throw error;
      const op = typeof operation.op === 'string' ? operation.op : JSON.stringify(operation.op);
      const path = typeof operation.path === 'string' ? operation.path : JSON.stringify(operation.path);
      throw new Error(`${PATCH_PROBLEMS[error.name](op, path)} (patches[${index}]: ${op} ${path})`, { cause: error });
    }
  });
  return result;
}
