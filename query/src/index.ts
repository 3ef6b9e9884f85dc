import './tracing';
import {
  browserApiConfigSchema,
  busClientFor,
  busServiceConfigSchema,
  createLogger,
  DEFAULT_PORTS,
  env,
  EventConsumer,
  loadConfig,
  main,
  runService,
  ServiceMetrics,
} from '@blog/common';
import { openStateWithSnapshots, stateConfigSchema } from '@blog/common/state';
import { z } from 'zod';
import { createApp } from './app';
import { queryEventHandlers } from './event-handlers';
import { ChangeFeed } from './feed';
import { QUERY_SCHEMA, QueryStore } from './store';

const configSchema = z.object({
  ...busServiceConfigSchema,
  ...browserApiConfigSchema,
  ...stateConfigSchema('query'),
  PORT: env.port(DEFAULT_PORTS.query),
  /** How often `GET /posts/stream` sends a `ping` event, so that a page can tell a quiet stream from a dead one. */
  STREAM_PING_MS: env.milliseconds(15_000),
});

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('query', config);
  const metrics = new ServiceMetrics({ processMetrics: true });
  const local = await openStateWithSnapshots(config, QUERY_SCHEMA, logger);
  const store = new QueryStore(local.state);
  const feed = new ChangeFeed({ pingIntervalMs: config.STREAM_PING_MS, heldAfter: local.state.position.seq });
  const handlers = queryEventHandlers(store, (change) => feed.publish(change));
  const consumer = new EventConsumer({
    history: busClientFor(config, { logger, metrics }),
    state: store.state,
    handlers,
    logger,
    metrics,
    follow: config.EVENTS_FOLLOW,
  });

  await runService({
    name: 'query',
    app: createApp({
      store,
      feed,
      consumer,
      logger,
      metrics,
      eventsToken: config.EVENTS_TOKEN,
      deliveryKey: config.DELIVERY_PUBLIC_KEY,
      browserOrigins: config.CORS_ORIGINS,
    }),
    port: config.PORT,
    host: config.HOST,
    logger,
    onListening: async () => {
      await consumer.start();
      local.startSnapshots();
    },
    // Open streams would hold the drain until its time limit: end them at once; clients reconnect.
    onDraining: () => feed.close(),
    onShutdown: async () => {
      consumer.stop();
      await local.close();
    },
  });
});
