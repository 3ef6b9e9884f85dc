/**
 * The OpenTelemetry Node SDK with the HTTP and Express instrumentations, loaded only when tracing is on
 * (start.ts): a process that does not trace never loads the SDK and its exporters.
 */
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { Logger } from '../service/logger';

/** Probes and scrapes would fill every trace store with spans nobody follows. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const pathOf = (url: string | undefined) => (url ?? '').split('?')[0] ?? '';

/**
 * Reads of the event history (`GET /events…`): a following consumer's long polls and a catch-up's pages
 * would each start a trace of their own; what they bring is traced as it is applied (process, replay).
 */
const isHistoryRead = (method: string | undefined, path: string) =>
  method === 'GET' && (path === '/events' || path.startsWith('/events/'));

export interface SdkOptions {
  serviceName: string;
  /** Where the SDK's own problems go (an export the Collector refused, or could not be reached for). */
  logger: Logger;
  /** OTEL_LOG_LEVEL: how much of them (warnings and errors by default). */
  logLevel: DiagLogLevel;
}

/** Starts the SDK, which reads its exporter's settings from the OTEL_* variables; returns what stops it. */
export function startSdk({ serviceName, logger, logLevel }: SdkOptions): () => Promise<void> {
  const sdk = new NodeSDK({
    serviceName,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request: IncomingMessage) => {
          const path = pathOf(request.url);
          return UNTRACED_PATHS.has(path) || isHistoryRead(request.method, path);
        },
        ignoreOutgoingRequestHook: (request: RequestOptions | ClientRequest) =>
          isHistoryRead(request.method, pathOf(request.path ?? undefined)),
      }),
      // A span per middleware (the body parser, CORS…) or per router would bury the route's own.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER] }),
    ],
  });
  // After the SDK, which sets a console logger of its own when OTEL_LOG_LEVEL is set.
  diag.setLogger(diagnostics(logger), { logLevel, suppressOverrideMessage: true });
  sdk.start();
  return () => sdk.shutdown();
}

/**
 * The SDK's diagnostics as the service's own JSON lines. An error the SDK caught (a failed export) reaches
 * its diagnostics as the error's JSON text: that is logged as the error it was.
 */
function diagnostics(logger: Logger): DiagLogger {
  const line =
    (level: 'error' | 'warn' | 'info' | 'debug' | 'trace') =>
    (message: string, ...args: unknown[]) => {
      const caught = caughtError(message) ?? (args[0] instanceof Error ? args[0] : undefined);
      if (caught !== undefined) logger[level]({ err: caught }, `OpenTelemetry: ${caught.message}`);
      else if (args.length > 0) logger[level]({ details: args.map((arg) => String(arg)) }, message);
      else logger[level](message);
    };
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug'), verbose: line('trace') };
}

function caughtError(message: string): { message: string; stack?: string; code?: string } | undefined {
  if (!message.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(message) as { message?: unknown };
    return typeof parsed.message === 'string' ? (parsed as { message: string }) : undefined;
  } catch {
    return undefined;
  }
}
