import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { requestFields } from './request-context';

export type Logger = pino.Logger;

export interface LoggerSettings {
  LOG_LEVEL: string;
  /** `pretty` needs the pino-pretty package (a dev dependency): for the local stack, not for images. */
  LOG_FORMAT: 'json' | 'pretty';
}

export function createLogger(
  service: string,
  { LOG_LEVEL, LOG_FORMAT }: LoggerSettings = { LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
): Logger {
  const transport =
    LOG_FORMAT === 'pretty'
      ? {
          target: 'pino-pretty',
          options: { ignore: 'pid,hostname,service,name', translateTime: 'HH:MM:ss.l', singleLine: true },
        }
      : undefined;
  return pino({
    name: service,
    level: LOG_LEVEL,
    base: { service },
    mixin: contextFields,
    ...(transport ? { transport } : {}),
  });
}

/** What every line says of the work it is logged in: the request's id, the trace and the span. */
export function contextFields(): { reqId?: string; trace_id?: string; span_id?: string } {
  return { ...requestFields(), ...traceFields() };
}

/**
 * The trace and span of the work a line is logged in, so that a log store finds every line of one trace;
 * nothing while tracing is off (no span is ever active then).
 */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const context = trace.getActiveSpan()?.spanContext();
  if (context === undefined) return {};
  return { trace_id: context.traceId, span_id: context.spanId };
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
