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
import { postEventHandlers } from './event-handlers';
import { POSTS_SCHEMA, PostStore } from './store';

const configSchema = z.object({
  ...busServiceConfigSchema,
  ...browserApiConfigSchema,
  ...stateConfigSchema('posts'),
  PORT: env.port(DEFAULT_PORTS.posts),
});

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('posts', config);
  const metrics = new ServiceMetrics({ processMetrics: true });
  const bus = busClientFor(config, { logger, metrics });
  const local = await openStateWithSnapshots(config, POSTS_SCHEMA, logger);
  const store = new PostStore(local.state);
  const consumer = new EventConsumer({
    history: bus,
    state: store.state,
    handlers: postEventHandlers(store),
    logger,
    metrics,
    follow: config.EVENTS_FOLLOW,
  });

  await runService({
    name: 'posts',
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
    },
    onShutdown: async () => {
      consumer.stop();
      await local.close();
    },
  });
});
