/**
 * Who may do what on the NATS servers of a scaled-out blog: one account, `BLOG`, with JetStream; an
 * administrator that creates the event stream and the bus's buckets at setup; the bus, which may only do
 * what it needs on them. Written into `npm run start:cluster`'s and the tests' server configurations, and
 * by `npm run generate` into the NATS chart's values (infra/helm/nats/values.yaml, for DEFAULT_NATS_STREAM).
 */

export const NATS_ACCOUNT = 'BLOG';
export const NATS_ADMIN_USER = 'blog-admin';
export const NATS_BUS_USER = 'blog-event-bus';
/** The user the servers of one cluster connect their routes with. */
export const NATS_ROUTE_USER = 'blog-route';
/** The event stream of a bus whose NATS_STREAM is not set. */
export const DEFAULT_NATS_STREAM = 'BLOG_EVENTS';

/** The bus's stream and buckets, all named after the stream (NATS_STREAM). */
export function natsStorageNames(stream: string) {
  return {
    stream,
    /** The one subject every event is published to. */
    subject: `${stream.toLowerCase()}.events`,
    positions: `${stream}_positions`,
    lease: `${stream}_lease`,
    snapshots: `${stream}_snapshots`,
    snapshotClaims: `${stream}_snapshot_claims`,
  };
}

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/**
 * What the bus's user may publish and subscribe to: its events' subject; the JetStream API calls that read
 * its streams (info, message gets, ordered consumers and their pulls, flow control); its key-value buckets
 * and snapshot store, whose old chunks it purges. Never a stream's create, update, delete or purge: a bus
 * (or whoever holds its password) cannot shorten the history or remove the stream.
 */
export function natsBusPermissions(stream: string): NatsPermissions {
  const names = natsStorageNames(stream);
  const streams = [
    names.stream,
    `KV_${names.positions}`,
    `KV_${names.lease}`,
    `KV_${names.snapshotClaims}`,
    `OBJ_${names.snapshots}`,
  ];
  return {
    publish: [
      names.subject,
      '$JS.API.INFO',
      ...streams.flatMap((name) => [
        `$JS.API.STREAM.INFO.${name}`,
        `$JS.API.STREAM.MSG.GET.${name}`,
        `$JS.API.DIRECT.GET.${name}`,
        `$JS.API.DIRECT.GET.${name}.>`,
        `$JS.API.CONSUMER.CREATE.${name}`,
        `$JS.API.CONSUMER.CREATE.${name}.>`,
        `$JS.API.CONSUMER.DELETE.${name}.>`,
        `$JS.API.CONSUMER.INFO.${name}.>`,
        `$JS.API.CONSUMER.MSG.NEXT.${name}.>`,
        `$JS.FC.${name}.>`,
      ]),
      ...[names.positions, names.lease, names.snapshotClaims].map((bucket) => `$KV.${bucket}.>`),
      `$O.${names.snapshots}.>`,
      `$JS.API.STREAM.PURGE.OBJ_${names.snapshots}`,
    ],
    subscribe: ['_INBOX.>'],
  };
}
