/**
 * The OpenTelemetry Node SDK with the HTTP and Express instrumentations, loaded only when tracing is on
 * (start.ts): the SDK and its exporters weigh tens of MiB in a process that does not trace.
 */
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NodeSDK } from '@opentelemetry/sdk-node';

/** Probes and scrapes would fill every trace store with spans nobody follows. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** Starts the SDK, which reads its exporter's settings from the OTEL_* variables; returns what stops it. */
export function startSdk(serviceName: string): () => Promise<void> {
  const sdk = new NodeSDK({
    serviceName,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0] ?? ''),
      }),
      // A span per middleware (the body parser, CORS…) would bury the route's own in every trace.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
    ],
  });
  sdk.start();
  return () => sdk.shutdown();
}
