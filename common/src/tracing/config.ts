import { z } from 'zod';
import { env, loadConfig } from '../service/config';

const otlpProtocol = z.enum(['http/protobuf', 'http/json', 'grpc'], {
  error: 'must be http/protobuf, http/json or grpc',
});

/** OTEL_LOG_LEVEL's values: how much of the SDK's own diagnostics a service logs. */
const DIAG_LEVELS = ['NONE', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'VERBOSE', 'ALL'] as const;

const otlpEndpoint = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/**
 * The standard OpenTelemetry variables this code base acts on, validated like every other setting; the SDK
 * reads them (and the other OTEL_* variables) itself. Tracing is on only where an OTLP endpoint is set.
 */
export const tracingConfigSchema = z.object({
  OTEL_SDK_DISABLED: env.flag(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpEndpoint.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  OTEL_TRACES_SAMPLER: z
    .enum(
      [
        'always_on',
        'always_off',
        'traceidratio',
        'parentbased_always_on',
        'parentbased_always_off',
        'parentbased_traceidratio',
      ],
      { error: 'must be a sampler the SDK knows, such as parentbased_always_on or parentbased_traceidratio' },
    )
    .optional(),
  OTEL_LOG_LEVEL: z
    .preprocess(
      (value) => (typeof value === 'string' ? value.toUpperCase() : value),
      z.enum(DIAG_LEVELS, { error: `must be one of ${DIAG_LEVELS.join(', ')} (any case)` }),
    )
    .default('WARN'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number({ error: 'must be a ratio from 0 to 1' })
    .min(0, { error: 'must be a ratio from 0 to 1' })
    .max(1, { error: 'must be a ratio from 0 to 1' })
    .optional(),
});

export type TracingConfig = z.infer<typeof tracingConfigSchema>;

/** Reads the tracing settings; throws a ConfigError naming a wrong variable. */
export function loadTracingConfig(environment: NodeJS.ProcessEnv = process.env): TracingConfig {
  return loadConfig(tracingConfigSchema, environment);
}

/** Whether spans are exported: an OTLP endpoint is set and the SDK is not disabled. */
export function tracingEnabled(config: TracingConfig): boolean {
  if (config.OTEL_SDK_DISABLED) return false;
  return config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
}
