// Contracts: what every part of the blog agrees on (browser-safe; the page imports `@blog/common/api`).
export * from './contracts/api';
export * from './contracts/events';
export * from './contracts/routes';
// The service kit: configuration, the HTTP app and server, logs, metrics.
export * from './service/config';
export * from './service/logger';
export { runWithRequestId } from './service/request-context';
export * from './service/service-app';
export * from './service/http-error';
export * from './service/backoff';
export * from './service/http-client';
export * from './service/server';
export * from './service/metrics';
export { Counter, Gauge } from './service/prom';
export * from './service/app-deps';
export * from './service/paging';
// Messaging: publishing to the bus, consuming its log, reacting, and who may do what on it.
export * from './messaging/bus-client';
export * from './messaging/consumer';
export * from './messaging/domain-checks';
export * from './messaging/reactor';
export * from './messaging/events-token';
export * from './messaging/delivery-signature';
export * from './messaging/idempotency';
export * from './messaging/nats';
// Tracing across the bus: spans for work on several events, and for a push to a live stream.
export { tracingStarted } from './tracing/lifecycle';
export {
  inEventTrace,
  markSpanFailed,
  withEventsSpan,
  withStreamPushSpan,
  type TracedEvent,
} from './tracing/messaging';
