/**
 * skaffold.yaml as data: the parts the checks use, typed loosely (the skaffold JSON schema check,
 * tools/scripts/check-skaffold-schema.mjs, validates the whole file), and the profiles' JSON patches.
 */
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

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`JSON pointer "${pointer}" must start with /`);
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

/** Resolves a pointer's parent; throws (like skaffold does) when the path does not exist. */
function parentOf(document: unknown, pointer: string): { parent: Container; key: string } {
  const segments = decodePointer(pointer);
  const key = segments.pop();
  if (key === undefined) throw new Error('cannot patch the document root');
  let current: unknown = document;
  for (const segment of segments) {
    if (Array.isArray(current)) current = current[Number(segment)];
    else if (isContainer(current)) current = (current as Record<string, unknown>)[segment];
    else current = undefined;
    if (!isContainer(current)) throw new Error(`path ${pointer} does not exist`);
  }
  if (!isContainer(current)) throw new Error(`path ${pointer} does not exist`);
  return { parent: current, key };
}

function arrayIndex(array: unknown[], key: string, forAdd: boolean, pointer: string): number {
  if (forAdd && key === '-') return array.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw new Error(`path ${pointer}: "${key}" is not an array index`);
  const index = Number(key);
  if (index > array.length || (!forAdd && index === array.length))
    throw new Error(`path ${pointer}: index ${index} is out of range (${array.length} items)`);
  return index;
}

/** RFC 6902 add, remove and replace (what our skaffold profiles use), on a deep copy. Throws on a bad path. */
export function applyJsonPatch<T>(document: T, operations: readonly JsonPatchOperation[]): T {
  const result = structuredClone(document);
  for (const operation of operations) {
    const { op, path } = operation;
    if (typeof path !== 'string') throw new Error(`patch ${JSON.stringify(operation)} has no path`);
    const { parent, key } = parentOf(result, path);
    const exists = Array.isArray(parent)
      ? /^\d+$/.test(key) && Number(key) < parent.length
      : Object.prototype.hasOwnProperty.call(parent, key);
    switch (op) {
      case 'add':
        if (Array.isArray(parent))
          parent.splice(arrayIndex(parent, key, true, path), 0, structuredClone(operation.value));
        else parent[key] = structuredClone(operation.value);
        break;
      case 'replace':
        if (!exists) throw new Error(`replace ${path}: nothing there to replace`);
        if (Array.isArray(parent)) parent[arrayIndex(parent, key, false, path)] = structuredClone(operation.value);
        else parent[key] = structuredClone(operation.value);
        break;
      case 'remove':
        if (!exists) throw new Error(`remove ${path}: nothing there to remove`);
        if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false, path), 1);
        else delete parent[key];
        break;
      default:
        throw new Error(`patch op ${JSON.stringify(op)} is not supported by this check`);
    }
  }
  return result;
}
