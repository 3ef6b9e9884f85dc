import { busServiceConfigSchema, BusClient, createLogger, env, EventConsumer, loadConfig, main, runService } from '@blog/common';
import { z } from 'zod';
import { createApp } from './app';
import { commentEventHandlers, CommentStore, commentUpdates } from './events';

const configSchema = z.object({ ...busServiceConfigSchema, PORT: env.port(4001) });

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('comments', config);
  const bus = new BusClient(config.EVENT_BUS_URL);
  const store = new CommentStore();
  const updates = commentUpdates(store, bus, logger);
  const consumer = new EventConsumer({ history: bus, handlers: commentEventHandlers(store, updates), logger });

  await runService({
    name: 'comments',
    app: createApp({ store, bus, consumer, logger }),
    port: config.PORT,
    logger,
    onListening: async () => {
      await consumer.start();
      updates.start();
    },
    onShutdown: () => {
      updates.stop();
      consumer.stop();
    },
  });
});
