import './tracing';
import { createLogger, loadConfig, main, runService } from '@blog/common';
import { setSha256Backend } from '@nats-io/obj';
import { createApp } from './app';
import { configSchema, serviceTokensOf } from './config';
import { Deliverer } from './delivery/deliverer';
import { SubscriberDelivery } from './delivery/subscriber-delivery';
import { openFileStorage } from './file-storage/file-storage';
import { openJetStreamStorage } from './jetstream/jetstream-storage';
import { BusMetrics } from './metrics';

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('event-bus', config);
  const metrics = new BusMetrics({ processMetrics: true });
  // The object store hashes each snapshot stored in it. Its default hash is pure JS (for browsers), several
  // times slower than Node's own; Node's is loaded with a dynamic import, which the tests' module sandbox
  // cannot do: set here, not in the archive.
  if (config.EVENT_LOG === 'jetstream') setSha256Backend('native');
  const storage =
    config.EVENT_LOG === 'jetstream'
      ? await openJetStreamStorage(
          {
            servers: config.NATS_URL,
            user: config.NATS_USER,
            password: config.NATS_PASSWORD,
            admin:
              config.NATS_ADMIN_USER === undefined
                ? undefined
                : { user: config.NATS_ADMIN_USER, password: config.NATS_ADMIN_PASSWORD },
            stream: config.NATS_STREAM,
            replicas: config.NATS_REPLICAS,
            publishTimeoutMs: config.NATS_PUBLISH_TIMEOUT_MS,
            duplicateWindowMs: config.NATS_DUPLICATE_WINDOW_MS,
            recentIds: config.EVENT_IDS_REMEMBERED,
            snapshotMaxBytes: config.SNAPSHOT_MAX_BYTES,
            snapshotClaimTtlMs: config.SNAPSHOT_CLAIM_TTL_MS,
          },
          logger,
          metrics,
        )
      : await openFileStorage(
          {
            dir: config.EVENT_LOG_DIR,
            writeTimeoutMs: config.EVENT_LOG_WRITE_TIMEOUT_MS,
            recentIds: config.EVENT_IDS_REMEMBERED,
            snapshotMaxBytes: config.SNAPSHOT_MAX_BYTES,
            snapshotClaimTtlMs: config.SNAPSHOT_CLAIM_TTL_MS,
          },
          logger,
          metrics,
        );
  const { log, positions } = storage;
  // Signed deliveries need no token; the operator's token would only hand every subscriber its power.
  const deliveryToken = config.DELIVERY_SIGNING_KEY ? undefined : config.EVENTS_TOKEN;
  const deliveries = config.EVENT_SUBSCRIBERS.map(
    (url) =>
      new SubscriberDelivery(url, {
        log,
        logger,
        metrics,
        token: deliveryToken,
        signingKey: config.DELIVERY_SIGNING_KEY,
        positions,
      }),
  );
  const deliverer = new Deliverer(deliveries, storage.lease, logger);
  metrics.observe(log, deliverer);
  const draining = new AbortController();
  const serviceTokens = serviceTokensOf(config);
  logger.info(
    {
      eventLog: config.EVENT_LOG,
      subscribers: config.EVENT_SUBSCRIBERS,
      operatorToken: config.EVENTS_TOKEN ? 'set' : 'none',
      serviceTokens: Object.keys(serviceTokens),
      deliveries: config.DELIVERY_SIGNING_KEY ? 'signed' : 'unsigned',
    },
    'event bus configured',
  );
  if (!config.EVENTS_TOKEN && Object.keys(serviceTokens).length === 0)
    logger.warn('no events token set: anyone who reaches the bus may publish any event (open intake, unsafe)');

  await runService({
    name: 'event-bus',
    app: createApp({
      log,
      subscribers: deliverer,
      logger,
      metrics,
      eventsToken: config.EVENTS_TOKEN,
      serviceTokens,
      draining: draining.signal,
      snapshots: { ...storage.snapshots, maxBytes: config.SNAPSHOT_MAX_BYTES },
    }),
    port: config.PORT,
    host: config.HOST,
    logger,
    onListening: () => deliverer.start(),
    onDraining: () => draining.abort(),
    // Deliveries in flight finish (bounded) while the bus still takes events: a subscriber may publish in
    // reaction to one (moderation does), and the course's services do not retry a refused connection.
    beforeClose: () => deliverer.stop(),
    onShutdown: () => storage.close(),
  });
});
