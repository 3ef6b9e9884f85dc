/**
 * JSON schemas of custom resources, derived from their CustomResourceDefinitions' own openAPIV3Schema (one
 * per served version), made strict the way the API server prunes: an object field the schema does not name is
 * unknown (`additionalProperties: false`), except under `x-kubernetes-preserve-unknown-fields`. The schemas are
 * kept as fact files (facts/crd-schemas/<group>_<version>_<kind>.json, written by `npm run
 * generate:crd-schemas`), each naming the project, version and file it comes from.
 *
 * What is not carried over: CEL rules (`x-kubernetes-validations`, counted in `celRules`, not evaluated), list
 * and map semantics (`x-kubernetes-list-type`, `-list-map-keys`, `-map-type`), defaults and descriptions, and
 * string formats other than those ajv-formats checks as Kubernetes does (int32, int64, float, double, byte,
 * date-time, ipv4, ipv6). `metadata` is left to the ObjectMeta schema (strict-schema.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import type { RegExpEngine } from 'ajv/dist/types';
import addFormats, { type FormatName } from 'ajv-formats';
import { parseAllDocuments } from 'yaml';

export type JsonSchema = { [keyword: string]: unknown };

export interface CrdSchemaSource {
  /** owner/name of the project's repository, e.g. nginx/nginx-gateway-fabric. */
  project: string;
  /** Its release tag, e.g. v2.6.7. */
  version: string;
  /** The CRD's file in the project, e.g. config/crd/bases/gateway.nginx.org_ratelimitpolicies.yaml. */
  file: string;
}

export interface CrdSchemaFact {
  source: CrdSchemaSource;
  apiVersion: string;
  kind: string;
  /** How many CEL rules the CRD has at this version (not evaluated here). */
  celRules: number;
  schema: JsonSchema;
}

export const CRD_SCHEMAS_DIR = path.resolve(__dirname, '../facts/crd-schemas');

/** ajv-formats' formats that mean what they mean to the API server. */
export const KEPT_FORMATS: ReadonlySet<string> = new Set([
  'int32',
  'int64',
  'float',
  'double',
  'byte',
  'date-time',
  'ipv4',
  'ipv6',
]);
/**
 * The CRDs' patterns are Go (RE2) regular expressions. JavaScript's have no inline flags, so a leading `(?i)`
 * (case-insensitive from there on: the whole pattern) becomes the i flag.
 */
const goRegExp: RegExpEngine = Object.assign(
  (pattern: string, flags: string): RegExp => {
    const caseless = /^(\^?)\(\?i\)/.exec(pattern);
    return caseless
      ? new RegExp(`${caseless[1] ?? ''}${pattern.slice(caseless[0].length)}`, `${flags}i`)
      : new RegExp(pattern, flags);
  },
  { code: 'goRegExp' },
);

/** The ajv the schema facts are compiled with: strict about the schemas, with the formats kept and Go's patterns. */
export function crdSchemaAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    // Kubernetes allows value checks (anyOf, allOf…) without repeating the type the structural schema states.
    strictTypes: false,
    allowUnionTypes: true,
    code: { regExp: goRegExp },
  });
  addFormats(ajv, [...KEPT_FORMATS] as FormatName[]);
  return ajv;
}

/** Keywords copied as they are. */
const VALUE_KEYWORDS = new Set([
  'type',
  'enum',
  'required',
  'pattern',
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
]);
/** Keywords dropped (annotations, or Kubernetes semantics a JSON schema does not express). */
const DROPPED_KEYWORDS = new Set([
  'description',
  'title',
  'example',
  'externalDocs',
  'default',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Conversion {
  celRules: number;
  /** Where the node is, for error messages. */
  at: string;
}

/**
 * One node of a structural schema to a JSON schema. `structural` is false inside anyOf/allOf/oneOf/not, where
 * Kubernetes allows value checks only (the fields are those of the structural node around them).
 */
function convert(node: unknown, structural: boolean, conversion: Conversion, at: string): JsonSchema {
  if (!isRecord(node)) throw new Error(`${at}: not a schema object`);
  const out: JsonSchema = {};
  for (const [keyword, value] of Object.entries(node)) {
    const here = `${at}/${keyword}`;
    if (VALUE_KEYWORDS.has(keyword)) out[keyword] = value;
    else if (DROPPED_KEYWORDS.has(keyword)) continue;
    else if (keyword === 'x-kubernetes-validations') conversion.celRules += Array.isArray(value) ? value.length : 0;
    else if (keyword === 'format') {
      if (typeof value === 'string' && KEPT_FORMATS.has(value)) out.format = value;
    } else if (keyword === 'properties') {
      if (!isRecord(value)) throw new Error(`${here}: not an object`);
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, child]) => [name, convert(child, structural, conversion, `${here}/${name}`)]),
      );
    } else if (keyword === 'items') out.items = convert(value, structural, conversion, here);
    else if (keyword === 'additionalProperties')
      out.additionalProperties = typeof value === 'boolean' ? value : convert(value, structural, conversion, here);
    else if (keyword === 'anyOf' || keyword === 'allOf' || keyword === 'oneOf') {
      if (!Array.isArray(value)) throw new Error(`${here}: not a list`);
      out[keyword] = value.map((child, i) => convert(child, false, conversion, `${here}/${i}`));
    } else if (keyword === 'not') out.not = convert(value, false, conversion, here);
    else if (keyword === 'exclusiveMinimum' || keyword === 'exclusiveMaximum') {
      // OpenAPI 3.0: a boolean beside minimum/maximum; JSON schema: the bound itself.
      const bound = keyword === 'exclusiveMinimum' ? 'minimum' : 'maximum';
      if (value === true && typeof node[bound] === 'number') out[keyword] = node[bound];
      else if (typeof value === 'number') out[keyword] = value;
    } else if (
      keyword === 'nullable' ||
      keyword === 'x-kubernetes-preserve-unknown-fields' ||
      keyword === 'x-kubernetes-int-or-string' ||
      keyword === 'x-kubernetes-embedded-resource'
    )
      continue; // applied below
    else throw new Error(`${here}: keyword ${keyword} is not supported by the conversion`);
  }
  if (out.exclusiveMinimum !== undefined) delete out.minimum;
  if (out.exclusiveMaximum !== undefined) delete out.maximum;

  if (node['x-kubernetes-int-or-string'] === true && out.anyOf === undefined && out.type === undefined)
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  if (node['x-kubernetes-embedded-resource'] === true)
    throw new Error(`${at}: x-kubernetes-embedded-resource is not supported by the conversion`);
  if (node.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
  }
  const isObject = out.type === 'object' || (Array.isArray(out.type) && out.type.includes('object'));
  if (
    structural &&
    (isObject || out.properties !== undefined) &&
    out.additionalProperties === undefined &&
    node['x-kubernetes-preserve-unknown-fields'] !== true
  )
    out.additionalProperties = false;
  return out;
}

/** Subschemas that occur more than once (ApplicationSet repeats its template in every generator) become $defs. */
function shareRepeated(schema: JsonSchema): JsonSchema {
  const MIN_SHARED_LENGTH = 200;
  const counts = new Map<string, number>();
  const count = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(count);
    if (!isRecord(node)) return;
    const text = JSON.stringify(node);
    if (text.length >= MIN_SHARED_LENGTH) counts.set(text, (counts.get(text) ?? 0) + 1);
    for (const [keyword, child] of Object.entries(node))
      if (keyword === 'properties' && isRecord(child)) Object.values(child).forEach(count);
      else count(child);
  };
  count(schema);
  const defs: Record<string, JsonSchema> = {};
  const replace = (node: unknown, root: boolean): unknown => {
    if (Array.isArray(node)) return node.map((child) => replace(child, false));
    if (!isRecord(node)) return node;
    const text = JSON.stringify(node);
    if (!root && (counts.get(text) ?? 0) > 1) {
      const name = createHash('sha256').update(text).digest('hex').slice(0, 12);
      defs[name] ??= replace(node, true) as JsonSchema;
      return { $ref: `#/$defs/${name}` };
    }
    return Object.fromEntries(
      Object.entries(node).map(([keyword, child]) => [
        keyword,
        keyword === 'properties' && isRecord(child)
          ? Object.fromEntries(Object.entries(child).map(([name, value]) => [name, replace(value, false)]))
          : replace(child, false),
      ]),
    );
  };
  const shared = replace(schema, true) as JsonSchema;
  return Object.keys(defs).length === 0 ? shared : { ...shared, $defs: defs };
}

/** A strict JSON schema from a CRD version's openAPIV3Schema. */
export function strictSchemaOf(
  openAPIV3Schema: unknown,
  at = 'openAPIV3Schema',
): { schema: JsonSchema; celRules: number } {
  const conversion: Conversion = { celRules: 0, at };
  const schema = convert(openAPIV3Schema, true, conversion, at);
  // metadata is an ObjectMeta, checked against its own schema; the CRD may only narrow name and generateName.
  if (isRecord(schema.properties)) schema.properties.metadata = { type: 'object' };
  return { schema: shareRepeated(schema), celRules: conversion.celRules };
}

interface CrdVersion {
  name?: unknown;
  served?: unknown;
  schema?: { openAPIV3Schema?: unknown };
}

/**
 * The schema facts of the CRDs in a YAML text (any other document is skipped), for the kinds asked for
 * (all when `kinds` is undefined): one per served version.
 */
export function crdSchemaFacts(
  text: string,
  source: CrdSchemaSource,
  kinds: ReadonlySet<string> | undefined,
): CrdSchemaFact[] {
  const facts: CrdSchemaFact[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`${source.file}: ${document.errors[0]?.message ?? 'YAML error'}`);
    const crd: unknown = document.toJS();
    if (!isRecord(crd) || crd.kind !== 'CustomResourceDefinition' || !isRecord(crd.spec)) continue;
    const { group, names, versions } = crd.spec as { group?: unknown; names?: { kind?: unknown }; versions?: unknown };
    const kind = names?.kind;
    if (typeof group !== 'string' || typeof kind !== 'string' || !Array.isArray(versions)) continue;
    if (kinds && !kinds.has(kind)) continue;
    for (const version of versions as CrdVersion[]) {
      if (version.served !== true || typeof version.name !== 'string') continue;
      const apiVersion = `${group}/${version.name}`;
      const { schema, celRules } = strictSchemaOf(
        version.schema?.openAPIV3Schema,
        `${source.file} ${apiVersion} ${kind}`,
      );
      facts.push({ source, apiVersion, kind, celRules, schema });
    }
  }
  return facts;
}

export function crdSchemaFileName(apiVersion: string, kind: string): string {
  return `${apiVersion.replace('/', '_')}_${kind}.json`;
}

/** The committed schema fact of an apiVersion/kind, or undefined when there is none. */
export function crdSchemaFact(apiVersion: string, kind: string, dir = CRD_SCHEMAS_DIR): CrdSchemaFact | undefined {
  const file = path.join(dir, crdSchemaFileName(apiVersion, kind));
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as CrdSchemaFact;
}

/** Every committed schema fact's file name. */
export function crdSchemaFiles(dir = CRD_SCHEMAS_DIR): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith('.json'))
        .sort()
    : [];
}
