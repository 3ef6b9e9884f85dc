/**
 * Starts OpenTelemetry tracing for a service process. Import this module first in a service's entry
 * point, before Express or any HTTP code is loaded: the HTTP and Express instrumentations patch those
 * modules as they load. Without an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) nothing starts and nothing is sent.
 */
import { DiagLogLevel } from '@opentelemetry/api';
import { ConfigError } from '../service/config';
import { createLogger } from '../service/logger';
import { loadTracingConfig, tracingEnabled } from './config';
import { onTracingStop } from './lifecycle';

/**
 * Starts the SDK from the OTEL_* variables when an endpoint is set; returns whether it started. A wrong
 * value throws a ConfigError naming the variable. The SDK exports only traces unless OTEL_METRICS_EXPORTER
 * or OTEL_LOGS_EXPORTER ask for more: metrics are scraped from /metrics, logs go to stdout. The SDK
 * itself reads process.env: another `environment` is for checking the settings alone.
 */
export function startTracing(service: string, environment: NodeJS.ProcessEnv = process.env): boolean {
  const config = loadTracingConfig(environment);
  if (!tracingEnabled(config)) return false;
  environment.OTEL_METRICS_EXPORTER ??= 'none';
  environment.OTEL_LOGS_EXPORTER ??= 'none';
  // Required here, not imported above: a process that does not trace never loads the SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startSdk } = require('./sdk') as typeof import('./sdk');
  const logger = createLogger(service, {
    // The SDK's diagnostics are filtered by OTEL_LOG_LEVEL alone.
    LOG_LEVEL: 'trace',
    LOG_FORMAT: environment.LOG_FORMAT === 'pretty' ? 'pretty' : 'json',
  }).child({ component: 'opentelemetry' });
  onTracingStop(
    startSdk({
      serviceName: config.OTEL_SERVICE_NAME ?? service,
      logger,
      logLevel: DiagLogLevel[config.OTEL_LOG_LEVEL],
    }),
  );
  return true;
}

/** startTracing for an entry point: a wrong setting stops the process with a message naming the variable. */
export function startTracingOrExit(service: string): void {
  try {
    startTracing(service);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}
