/**
 * Strict validation of a Kubernetes object against the OpenAPI schema of its apiVersion/kind, using
 * kubernetes-models (built-in kinds), @kubernetes-models/gateway-api (the Gateway API's schemas as of
 * v1.0: the fields of Gateway and HTTPRoute used here are unchanged since) and nginx-gateway-schemas.ts.
 *
 * kubernetes-models ships no JSON schemas: each model's schema is compiled ahead of time into an Ajv
 * standalone validator (kubernetes-models/_schemas/*.js), which each model class installs as
 * `Model.prototype.validate`. Those validators follow the OpenAPI schemas, which never say
 * `additionalProperties: false`, so an unknown field (`spec.replica`) passes.
 *
 * To be strict without the JSON schemas, the object is validated through a Proxy that records every
 * property the validator reads. A compiled validator reads exactly the properties its schema defines
 * (`data.replicas`, `data.selector`, …) and, for maps with an `additionalProperties` schema (labels,
 * annotations, ConfigMap data, resources.limits), every key. So after validation, any property of a plain
 * object that was never read is not in the schema at that place: an unknown field, reported with its path.
 * (Schemas with free-form objects, e.g. CRDs' x-kubernetes-preserve-unknown-fields, would be reported
 * as unknown too; no manifest here uses one.)
 */
import type { ErrorObject } from 'ajv';
import { nginxGatewayModel } from './nginx-gateway-schemas';

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

/** The kubernetes-models class of an apiVersion/kind, or why there is none. */
export function modelFor(apiVersion: unknown, kind: unknown): ModelClass | string {
  if (typeof apiVersion !== 'string' || !API_VERSION.test(apiVersion))
    return `unknown apiVersion ${JSON.stringify(apiVersion)}`;
  if (typeof kind !== 'string' || !KIND.test(kind)) return `unknown kind ${JSON.stringify(kind)}`;
  const nginxGateway = nginxGatewayModel(apiVersion, kind);
  if (nginxGateway) return nginxGateway;
  const modelPackage = apiVersion.startsWith('gateway.networking.k8s.io/')
    ? '@kubernetes-models/gateway-api'
    : 'kubernetes-models';
  let exported: unknown;
  try {
    // e.g. kubernetes-models/apps/v1/Deployment, @kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute
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

/** Schema errors and unknown fields of one object; empty when it is valid. */
export function validateStrict(object: unknown): SchemaProblem[] {
  const problem = (pointer: string, message: string): SchemaProblem => ({
    pointer,
    path: pointerToPath(pointer),
    message,
  });
  if (!isPlainObject(object)) return [problem('', 'not an object')];
  const model = modelFor(object.apiVersion, object.kind);
  if (typeof model === 'string') return [problem('', model)];

  const problems: SchemaProblem[] = [];
  const read = new WeakMap<object, Set<string>>();
  // An instance of the model's class: @kubernetes-models/gateway-api's validate() finds its schema on the prototype.
  const instance: Record<string, unknown> = Object.assign(
    Object.create(model.prototype) as Record<string, unknown>,
    object,
  );
  try {
    model.prototype.validate.call(tracked(instance, read, new WeakMap()));
  } catch (error) {
    if (!isValidationError(error)) throw error;
    for (const e of error.errors) {
      const detail =
        e.keyword === 'required'
          ? ` (${String((e.params as { missingProperty?: unknown }).missingProperty)})`
          : e.keyword === 'enum'
            ? `: ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`
            : '';
      problems.push(problem(e.instancePath, `${e.message ?? e.keyword}${detail}`));
    }
  }

  const walk = (value: unknown, pointer: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${pointer}/${i}`));
      return;
    }
    if (!isPlainObject(value)) return;
    const keys = read.get(value);
    for (const [key, child] of Object.entries(value)) {
      const childPointer = `${pointer}/${escapePointer(key)}`;
      if (!keys?.has(key))
        problems.push(
          problem(childPointer, `unknown field "${key}" (not in the ${model.apiVersion} ${model.kind} schema)`),
        );
      else walk(child, childPointer);
    }
  };
  walk(instance, '');
  return problems;
}

export function formatSchemaProblems(problems: readonly SchemaProblem[]): string[] {
  return problems.map(({ path, message }) => `${path}: ${message}`);
}
