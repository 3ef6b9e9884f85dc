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
import { commentUpdates } from './comment-updates';
import { commentEventHandlers } from './event-handlers';
import { COMMENTS_SCHEMA, CommentStore } from './store';

const configSchema = z.object({
  ...busServiceConfigSchema,
  ...browserApiConfigSchema,
  ...stateConfigSchema('comments'),
  PORT: env.port(DEFAULT_PORTS.comments),
});

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('comments', config);
  const metrics = new ServiceMetrics({ processMetrics: true });
  const bus = busClientFor(config, { logger, metrics });
  const local = await openStateWithSnapshots(config, COMMENTS_SCHEMA, logger);
  const store = new CommentStore(local.state);
  const updates = commentUpdates(store, bus, logger);
  const consumer = new EventConsumer({
    history: bus,
    state: store.state,
    handlers: commentEventHandlers(store, updates),
    logger,
    metrics,
    follow: config.EVENTS_FOLLOW,
  });

  await runService({
    name: 'comments',
    app: createApp({
      store,
      bus,
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
      updates.start();
    },
    onShutdown: async () => {
      updates.stop();
      consumer.stop();
      await local.close();
    },
  });
});
