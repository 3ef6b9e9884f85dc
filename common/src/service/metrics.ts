import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from './prom';

/**
 * The metrics every process serves on `GET /metrics`: request durations and, for a running service, the
 * runtime's. Each process (and each test) has its own registry, so nothing is shared between apps built in
 * one process. No label names the service or the process: Prometheus (and the Prometheus Operator) set
 * `job`, `instance`, `service`, `pod`, `namespace`, `container` and `endpoint` on every scraped series, and a
 * series' own label of one of those names would be renamed `exported_<name>`.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;

  constructor({ processMetrics = false }: MetricsOptions = {}) {
    const registers = [this.registry];
    this.httpRequestDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests served, by method, route pattern (or "unmatched") and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    // prom-client's standard process_* and nodejs_* metrics (CPU, memory, heap, event-loop lag, GC, handles)
    // for the running service only: the event-loop and GC monitors run all the time, which the many apps the
    // tests build in one process would pay for and never read.
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

export interface MetricsOptions {
  /** prom-client's default metrics of the process: on in each service's entry point, off in tests. */
  readonly processMetrics?: boolean;
}

/** A service that publishes and applies events: on top of the HTTP metrics, its events and its catch-up. */
export class ServiceMetrics extends HttpMetrics {
  readonly eventsPublished: Counter<'type'>;
  readonly eventsApplied: Counter<'type'>;
  readonly eventsSkipped: Counter;
  readonly eventsRejected: Counter<'type' | 'reason'>;
  readonly catchUpSeconds: Gauge;

  constructor(options: MetricsOptions = {}) {
    super(options);
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
