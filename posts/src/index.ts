import { browserApiConfigSchema, busClientFor, busServiceConfigSchema, createLogger, DEFAULT_PORTS, env, EventConsumer, loadConfig, main, runService, ServiceMetrics } from '@blog/common';
import { z } from 'zod';
import { createApp } from './app';
import { postEventHandlers, PostStore } from './events';

const configSchema = z.object({ ...busServiceConfigSchema, ...browserApiConfigSchema, PORT: env.port(DEFAULT_PORTS.posts) });

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('posts', config);
  const metrics = new ServiceMetrics('posts', { processMetrics: true });
  const bus = busClientFor(config, { logger, metrics });
  const store = new PostStore();
  const consumer = new EventConsumer({ history: bus, handlers: postEventHandlers(store), logger, metrics, follow: config.EVENTS_FOLLOW });

  await runService({
    name: 'posts',
    app: createApp({ store, bus, consumer, logger, metrics, eventsToken: config.EVENTS_TOKEN, browserOrigins: config.CORS_ORIGINS }),
    port: config.PORT,
    logger,
    onListening: () => consumer.start(),
    onShutdown: () => consumer.stop(),
  });
});
