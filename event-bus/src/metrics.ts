import { Counter, Gauge, HttpMetrics, type MetricsOptions, type SubscriberStatus } from '@blog/common';
import type { EventLog } from './log/event-log';

/** What the metrics read of the deliveries: each subscriber's, and whether this replica is delivering. */
export interface DeliveriesState {
  readonly deliveries: readonly { readonly url: string; status(): SubscriberStatus }[];
  readonly active: boolean;
}

/** The bus's metrics on top of every service's: appends, deliveries, retries, lag and log size. */
export class BusMetrics extends HttpMetrics {
  readonly eventsAppended: Counter<'type'>;
  readonly eventsDelivered: Counter<'subscriber'>;
  readonly deliveryRetries: Counter<'subscriber'>;
  readonly logWriteFaults: Counter<'code'>;
  readonly eventsQuarantined: Counter;
  readonly streamChanged: Gauge;
  readonly natsServersLeft: Counter;

  constructor(options: MetricsOptions = {}) {
    super(options);
    const registers = [this.registry];
    this.eventsAppended = new Counter({
      name: 'events_appended_total',
      help: 'Events appended to the log (durable)',
      labelNames: ['type'],
      registers,
    });
    this.eventsDelivered = new Counter({
      name: 'events_delivered_total',
      help: 'Events a subscriber acknowledged',
      labelNames: ['subscriber'],
      registers,
    });
    this.deliveryRetries = new Counter({
      name: 'delivery_retries_total',
      help: 'Failed delivery attempts, each retried',
      labelNames: ['subscriber'],
      registers,
    });
    this.logWriteFaults = new Counter({
      name: 'event_log_write_faults_total',
      help: 'Refusals for a storage fault (code: ENOSPC, EIO, EROFS, TIMEOUT, REMOVED…): a failed write refuses its batch, and while a hung write is unsettled each append is refused at once (503)',
      labelNames: ['code'],
      registers,
    });
    this.eventsQuarantined = new Counter({
      name: 'events_quarantined_total',
      help: 'Stored messages that are not events (not JSON, not an envelope, too large), each served as an EventQuarantined placeholder; counted once per seq by each replica',
      registers,
    });
    this.streamChanged = new Gauge({
      name: 'event_stream_changed',
      help: '1 once the JetStream event stream was seen changed under the bus (a limit that drops events, events deleted, deletes or purges allowed): the bus then refuses reads and appends',
      registers,
    });
    this.natsServersLeft = new Counter({
      name: 'nats_servers_left_total',
      help: 'Times this bus left a NATS server that could not confirm a quorum',
      registers,
    });
  }

  /** Subscriber lag and log size are read when scraped, from the log and the deliveries themselves. */
  observe(log: EventLog, deliverer: DeliveriesState): void {
    const registers = [this.registry];
    new Gauge({
      name: 'subscriber_lag_events',
      help: 'Events appended but not yet acknowledged by the subscriber (seq behind)',
      labelNames: ['subscriber'],
      registers,
      collect() {
        for (const delivery of deliverer.deliveries) this.set({ subscriber: delivery.url }, delivery.status().lag);
      },
    });
    new Gauge({
      name: 'event_bus_delivering',
      help: '1 on the bus replica that holds the delivery lease and delivers to the pushed-to subscribers, 0 on the others',
      registers,
      collect() {
        this.set(deliverer.active ? 1 : 0);
      },
    });
    new Gauge({
      name: 'event_log_writable',
      help: '1 while the event log stores appends; 0 while it refuses them for a storage fault (reads and deliveries go on)',
      registers,
      collect() {
        this.set(log.health().writable ? 1 : 0);
      },
    });
    new Gauge({
      name: 'event_log_events',
      help: 'Events in the log (its last seq)',
      registers,
      collect() {
        this.set(log.lastSeq);
      },
    });
  }
}
