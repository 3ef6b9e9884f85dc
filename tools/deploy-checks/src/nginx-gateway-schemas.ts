/**
 * Schemas of the NGINX Gateway Fabric objects infra/k8s-gateway uses (gateway.nginx.org/v1alpha1, as of
 * NGINX Gateway Fabric 2.6), for the strict schema check. No npm package ships them, so they are written
 * here from the project's CRDs: every field of those kinds with its type, range, pattern and enum. The
 * CRDs' CEL rules are checked in checks/gateway.ts where they matter to the blog.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

const GROUP_VERSION = 'gateway.nginx.org/v1alpha1';
const NGINX_SIZE = { type: 'string', pattern: '^\\d{1,4}(k|m|g)?$' };
const NGINX_DURATION = { type: 'string', pattern: '^[0-9]{1,4}(ms|s|m|h)?$' };

const metadata = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 253 },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const targetRefs = {
  type: 'array',
  minItems: 1,
  maxItems: 16,
  items: {
    type: 'object',
    required: ['group', 'kind', 'name'],
    properties: {
      group: {
        type: 'string',
        maxLength: 253,
        pattern: '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
      },
      kind: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$' },
      name: { type: 'string', minLength: 1, maxLength: 253 },
    },
  },
};

function objectSchema(kind: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { const: GROUP_VERSION },
      kind: { const: kind },
      metadata,
      spec: { type: 'object', ...spec },
    },
  };
}

const SCHEMAS: Record<string, Record<string, unknown>> = {
  RateLimitPolicy: objectSchema('RateLimitPolicy', {
    required: ['targetRefs'],
    properties: {
      targetRefs,
      rateLimit: {
        type: 'object',
        properties: {
          dryRun: { type: 'boolean' },
          logLevel: { enum: ['info', 'notice', 'warn', 'error'] },
          rejectCode: { type: 'integer', minimum: 400, maximum: 599 },
          local: {
            type: 'object',
            properties: {
              rules: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['key', 'rate'],
                  properties: {
                    key: { type: 'string', pattern: '^(?:[^ \\t\\r\\n;{}#$]+|\\$\\w+)+$' },
                    rate: { type: 'string', pattern: '^\\d+r/[sm]$' },
                    burst: { type: 'integer', minimum: 0 },
                    delay: { type: 'integer', minimum: 0 },
                    noDelay: { type: 'boolean' },
                    zoneSize: NGINX_SIZE,
                  },
                },
              },
            },
          },
        },
      },
    },
  }),
  ProxySettingsPolicy: objectSchema('ProxySettingsPolicy', {
    required: ['targetRefs'],
    properties: {
      targetRefs,
      buffering: {
        type: 'object',
        properties: {
          disable: { type: 'boolean' },
          bufferSize: NGINX_SIZE,
          busyBuffersSize: NGINX_SIZE,
          buffers: {
            type: 'object',
            required: ['number', 'size'],
            properties: { number: { type: 'integer', minimum: 2, maximum: 256 }, size: NGINX_SIZE },
          },
        },
      },
      timeout: { type: 'object', properties: { connect: NGINX_DURATION, read: NGINX_DURATION, send: NGINX_DURATION } },
    },
  }),
  SnippetsFilter: objectSchema('SnippetsFilter', {
    required: ['snippets'],
    properties: {
      snippets: {
        type: 'array',
        minItems: 1,
        maxItems: 4,
        items: {
          type: 'object',
          required: ['context', 'value'],
          properties: {
            context: { enum: ['main', 'http', 'http.server', 'http.server.location'] },
            value: { type: 'string', minLength: 1 },
          },
        },
      },
    },
  }),
};

const ajv = new Ajv({ allErrors: true, strict: true });
const compiled = new Map<string, ValidateFunction>();

/** What a kubernetes-models class's validate throws: an Error that carries ajv's errors. */
class SchemaValidationError extends Error {
  constructor(readonly errors: ErrorObject[]) {
    super('the object does not match its schema');
  }
}

/** A validator in the shape of a kubernetes-models class (`prototype.validate` throws an Error with `errors`), or undefined for another kind. */
export function nginxGatewayModel(
  apiVersion: string,
  kind: string,
): { apiVersion: string; kind: string; prototype: { validate: (this: unknown) => void } } | undefined {
  const schema = apiVersion === GROUP_VERSION ? SCHEMAS[kind] : undefined;
  if (!schema) return undefined;
  let validate = compiled.get(kind);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(kind, validate);
  }
  const check = validate;
  return {
    apiVersion,
    kind,
    prototype: {
      validate(this: unknown): void {
        if (!check(this)) throw new SchemaValidationError(check.errors ?? []);
      },
    },
  };
}
