/**
 * Strict validation of a Kubernetes object against the schema of its apiVersion/kind: a custom resource
 * against the JSON schema derived from its CRD (crd-schemas.ts; facts/crd-schemas), a built-in kind against
 * kubernetes-models, in both cases reporting every field the schema does not name.
 *
 * Built-in kinds: kubernetes-models ships no JSON schemas: each model's schema is compiled ahead of time into
 * an Ajv standalone validator (kubernetes-models/_schemas/*.js), which each model class installs as
 * `Model.prototype.validate`. Those validators follow the OpenAPI schemas, which never say
 * `additionalProperties: false`, so an unknown field (`spec.replica`) passes. To be strict without the JSON
 * schemas, the object is validated through a Proxy that records every property the validator reads. A compiled
 * validator reads exactly the properties its schema defines (`data.replicas`, `data.selector`, …) and, for maps
 * with an `additionalProperties` schema (labels, annotations, ConfigMap data, resources.limits), every key. So
 * after validation, any property of a plain object that was never read is not in the schema at that place: an
 * unknown field, reported with its path. A custom resource's `metadata` is checked the same way against
 * kubernetes-models' ObjectMeta.
 *
 * Custom resources: the CRD's schema with `additionalProperties: false` wherever the API server would prune, so
 * ajv reports the unknown fields itself. CEL rules (x-kubernetes-validations) are not evaluated.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { crdSchemaAjv, crdSchemaFact } from './crd-schemas';

export interface SchemaProblem {
  /** JSON pointer into the object, e.g. /spec/template/spec/containers/0/imagePullPolicyy */
  pointer: string;
  /** The same as a field path, e.g. spec.template.spec.containers[0].imagePullPolicyy */
  path: string;
  message: string;
}

interface ModelClass {
  apiVersion: string;
  kind: string;
  prototype: { validate: (this: unknown) => void };
}

const API_VERSION = /^(?:[a-z0-9]([a-z0-9.-]*[a-z0-9])?\/)?v\d+(?:(?:alpha|beta)\d+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

function isModelClass(value: unknown, apiVersion: string, kind: string): value is ModelClass {
  if (typeof value !== 'function') return false;
  const candidate = value as unknown as Partial<ModelClass>;
  return (
    candidate.apiVersion === apiVersion &&
    candidate.kind === kind &&
    typeof candidate.prototype?.validate === 'function'
  );
}

/** The kubernetes-models class of a built-in apiVersion/kind, or why there is none. */
export function modelFor(apiVersion: unknown, kind: unknown): ModelClass | string {
  if (typeof apiVersion !== 'string' || !API_VERSION.test(apiVersion))
    return `unknown apiVersion ${JSON.stringify(apiVersion)}`;
  if (typeof kind !== 'string' || !KIND.test(kind)) return `unknown kind ${JSON.stringify(kind)}`;
  const modelPackage = 'kubernetes-models';
  let exported: unknown;
  try {
    // e.g. kubernetes-models/apps/v1/Deployment
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a model named at run time, loaded synchronously: the checks are not async
    exported = require(`${modelPackage}/${apiVersion}/${kind}`);
  } catch {
    return `unknown apiVersion/kind ${apiVersion} ${kind} (${modelPackage} has no such model)`;
  }
  const model = (exported as Record<string, unknown>)[kind];
  return isModelClass(model, apiVersion, kind)
    ? model
    : `unknown apiVersion/kind ${apiVersion} ${kind} (${modelPackage} has no such model)`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Wraps a value so that every own property read by the validator is recorded in `read`. */
function tracked(value: unknown, read: WeakMap<object, Set<string>>, proxies: WeakMap<object, object>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const existing = proxies.get(value);
  if (existing) return existing;
  const keys = new Set<string>();
  read.set(value, keys);
  const proxy = new Proxy(value, {
    get(target, property, receiver) {
      const result: unknown = Reflect.get(target, property, receiver);
      if (typeof property === 'string' && Object.prototype.hasOwnProperty.call(target, property)) {
        keys.add(property);
        return tracked(result, read, proxies);
      }
      return result;
    },
  });
  proxies.set(value, proxy);
  return proxy;
}

export function pointerToPath(pointer: string): string {
  if (pointer === '') return '(root)';
  return pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce(
      (path, segment) =>
        /^\d+$/.test(segment)
          ? `${path}[${segment}]`
          : /^[A-Za-z_$][\w$-]*$/.test(segment)
            ? path === ''
              ? segment
              : `${path}.${segment}`
            : `${path}[${JSON.stringify(segment)}]`,
      '',
    );
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isValidationError(error: unknown): error is { errors: ErrorObject[] } {
  return typeof error === 'object' && error !== null && Array.isArray((error as { errors?: unknown }).errors);
}

function problem(pointer: string, message: string): SchemaProblem {
  return { pointer, path: pointerToPath(pointer), message };
}

const unknownField = (key: string, schemaName: string) => `unknown field "${key}" (not in the ${schemaName} schema)`;

/** ajv's errors as problems at `base` + their instance path; an additionalProperties error is an unknown field. */
function ajvProblems(errors: readonly ErrorObject[], base: string, schemaName: string): SchemaProblem[] {
  return errors.map((e) => {
    if (e.keyword === 'additionalProperties') {
      const key = String((e.params as { additionalProperty?: unknown }).additionalProperty);
      return problem(`${base}${e.instancePath}/${escapePointer(key)}`, unknownField(key, schemaName));
    }
    const detail =
      e.keyword === 'required'
        ? ` (${String((e.params as { missingProperty?: unknown }).missingProperty)})`
        : e.keyword === 'enum'
          ? `: ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`
          : '';
    return problem(`${base}${e.instancePath}`, `${e.message ?? e.keyword}${detail}`);
  });
}

/** A value checked against a kubernetes-models class through the read-recording Proxy; pointers start at `base`. */
function validateWithModel(
  model: { prototype: { validate: (this: unknown) => void } },
  value: Record<string, unknown>,
  base: string,
  schemaName: string,
): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const read = new WeakMap<object, Set<string>>();
  // An instance of the model's class: a model's validate() may find its schema on the prototype.
  const instance: Record<string, unknown> = Object.assign(
    Object.create(model.prototype) as Record<string, unknown>,
    value,
  );
  try {
    model.prototype.validate.call(tracked(instance, read, new WeakMap()));
  } catch (error) {
    if (!isValidationError(error)) throw error;
    problems.push(...ajvProblems(error.errors, base, schemaName));
  }

  const walk = (node: unknown, pointer: string): void => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, `${pointer}/${i}`));
      return;
    }
    if (!isPlainObject(node)) return;
    const keys = read.get(node);
    for (const [key, child] of Object.entries(node)) {
      const childPointer = `${pointer}/${escapePointer(key)}`;
      if (!keys?.has(key)) problems.push(problem(childPointer, unknownField(key, schemaName)));
      else walk(child, childPointer);
    }
  };
  walk(instance, base);
  return problems;
}

const ajv = crdSchemaAjv();
const crdValidators = new Map<string, ValidateFunction | undefined>();

/** The compiled schema of a custom resource's apiVersion/kind, or undefined when no CRD schema fact has it. */
function crdValidator(apiVersion: string, kind: string): ValidateFunction | undefined {
  const key = `${apiVersion} ${kind}`;
  if (!crdValidators.has(key)) {
    const fact = crdSchemaFact(apiVersion, kind);
    crdValidators.set(key, fact && ajv.compile(fact.schema));
  }
  return crdValidators.get(key);
}

/** Schema errors and unknown fields of one object; empty when it is valid. */
export function validateStrict(object: unknown): SchemaProblem[] {
  if (!isPlainObject(object)) return [problem('', 'not an object')];
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || !API_VERSION.test(apiVersion))
    return [problem('', `unknown apiVersion ${JSON.stringify(apiVersion)}`)];
  if (typeof kind !== 'string' || !KIND.test(kind)) return [problem('', `unknown kind ${JSON.stringify(kind)}`)];
  const schemaName = `${apiVersion} ${kind}`;

  const validate = crdValidator(apiVersion, kind);
  if (validate) {
    const problems = validate(object) ? [] : ajvProblems(validate.errors ?? [], '', schemaName);
    if (isPlainObject(object.metadata))
      problems.push(...validateWithModel(ObjectMeta, object.metadata, '/metadata', schemaName));
    return problems;
  }

  const model = modelFor(apiVersion, kind);
  if (typeof model === 'string') return [problem('', model)];
  return validateWithModel(model, object, '', schemaName);
}

export function formatSchemaProblems(problems: readonly SchemaProblem[]): string[] {
  return problems.map(({ path, message }) => `${path}: ${message}`);
}
