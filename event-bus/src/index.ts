import { commonConfigSchema, createLogger, DEFAULT_PORTS, env, eventsConfigSchema, loadConfig, localUrl, main, runService } from '@blog/common';
import { z } from 'zod';
import { createApp } from './app';
import { Deliverer } from './deliverer';
import { SubscriberDelivery } from './delivery';
import { BusMetrics } from './metrics';
import { openFileStorage, openJetStreamStorage } from './storage';

const configSchema = z.object({
  ...commonConfigSchema,
  ...eventsConfigSchema,
  PORT: env.port(DEFAULT_PORTS['event-bus']),
  /** Where the bus pushes every event; `none` when every service reads the log itself (EVENTS_FOLLOW). */
  EVENT_SUBSCRIBERS: z.preprocess((value) => (value === 'none' ? '' : value), env.urlList((['posts', 'comments', 'query', 'moderation'] as const).map(localUrl))),
  /** `file`: one bus, its log in EVENT_LOG_DIR. `jetstream`: any number of bus replicas on a NATS JetStream cluster. */
  EVENT_LOG: z.enum(['file', 'jetstream']).default('file'),
  /** Where the event log lives; relative paths are resolved against the working directory. */
  EVENT_LOG_DIR: z.string().default('.data/event-bus'),
  /** A write of the log (with its fsync) that takes longer is refused with 503, never acknowledged late. */
  EVENT_LOG_WRITE_TIMEOUT_MS: env.milliseconds(5_000),
  NATS_URL: env.natsServerList(['nats://127.0.0.1:4222']).refine((servers) => servers.length > 0, { error: 'must name at least one NATS server' }),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_STREAM: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, { error: 'must be 1 to 32 letters, digits, - or _' }).default('BLOG_EVENTS'),
  /** Copies of the stream and buckets: 3 on a cluster of 3 or more servers, 1 on a single server. */
  NATS_REPLICAS: z.coerce.number().int().min(1).max(5).default(3),
  /** How long an append keeps publishing again while the cluster has no leader, before it is refused with 503. */
  NATS_PUBLISH_TIMEOUT_MS: env.milliseconds(15_000),
});

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('event-bus', config);
  const metrics = new BusMetrics({ processMetrics: true });
  const storage =
    config.EVENT_LOG === 'jetstream'
      ? await openJetStreamStorage(
          {
            servers: config.NATS_URL,
            user: config.NATS_USER,
            password: config.NATS_PASSWORD,
            stream: config.NATS_STREAM,
            replicas: config.NATS_REPLICAS,
            publishTimeoutMs: config.NATS_PUBLISH_TIMEOUT_MS,
          },
          logger,
          metrics,
        )
      : await openFileStorage({ dir: config.EVENT_LOG_DIR, writeTimeoutMs: config.EVENT_LOG_WRITE_TIMEOUT_MS }, logger, metrics);
  const { log, positions } = storage;
  const deliveries = config.EVENT_SUBSCRIBERS.map((url) => new SubscriberDelivery(url, { log, logger, metrics, token: config.EVENTS_TOKEN, positions }));
  const deliverer = new Deliverer(deliveries, storage.lease, logger);
  metrics.observe(log, deliverer);
  const draining = new AbortController();
  logger.info({ eventLog: config.EVENT_LOG, subscribers: config.EVENT_SUBSCRIBERS, eventsToken: config.EVENTS_TOKEN ? 'required' : 'none' }, 'event bus configured');

  await runService({
    name: 'event-bus',
    app: createApp({ log, subscribers: deliverer, logger, metrics, eventsToken: config.EVENTS_TOKEN, draining: draining.signal }),
    port: config.PORT,
    logger,
    onListening: () => deliverer.start(),
    onDraining: () => draining.abort(),
    onShutdown: async () => {
      await deliverer.stop();
      await storage.close();
    },
  });
});
