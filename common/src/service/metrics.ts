import { Counter, Gauge, Histogram, Registry } from './prom';

/**
 * The metrics every process serves on `GET /metrics`: request durations and its memory. Each process (and
 * each test) has its own registry, so nothing is shared between apps built in one process.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(service: string, { processMetrics = false } = {}) {
    this.registry.setDefaultLabels({ service });
    const registers = [this.registry];
    this.httpRequestDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests served, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    // Memory of the process, read when scraped: for the running service, not for apps in tests. Not
    // prom-client's collectDefaultMetrics, which would load and keep far more than these two at rest.
    if (processMetrics) {
      new Gauge({
        name: 'process_resident_memory_bytes',
        help: 'Resident memory size in bytes',
        registers,
        collect() {
          this.set(process.memoryUsage.rss());
        },
      });
      new Gauge({
        name: 'nodejs_heap_used_bytes',
        help: 'V8 heap in use, in bytes',
        registers,
        collect() {
          this.set(process.memoryUsage().heapUsed);
        },
      });
    }
  }
}

/** A service that publishes and applies events: on top of the HTTP metrics, its events and its catch-up. */
export class ServiceMetrics extends HttpMetrics {
  readonly eventsPublished: Counter<'type'>;
  readonly eventsApplied: Counter<'type'>;
  readonly eventsSkipped: Counter;
  readonly eventsRejected: Counter<'type' | 'reason'>;
  readonly catchUpSeconds: Gauge;

  constructor(service: string, options: { processMetrics?: boolean } = {}) {
    super(service, options);
    const registers = [this.registry];
    this.eventsPublished = new Counter({
      name: 'events_published_total',
      help: 'Events this service published (stored by the bus)',
      labelNames: ['type'],
      registers,
    });
    this.eventsApplied = new Counter({
      name: 'events_applied_total',
      help: 'Events applied to this service state',
      labelNames: ['type'],
      registers,
    });
    this.eventsSkipped = new Counter({
      name: 'events_skipped_total',
      help: 'Poison events skipped: invalid, or their handler threw',
      registers,
    });
    this.eventsRejected = new Counter({
      name: 'events_rejected_total',
      help: 'Events not applied because they contradict this service state, by type and reason',
      labelNames: ['type', 'reason'],
      registers,
    });
    this.catchUpSeconds = new Gauge({
      name: 'catch_up_duration_seconds',
      help: 'How long the last catch-up with the event history took',
      registers,
    });
  }
}
