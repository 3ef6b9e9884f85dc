import { busServiceConfigSchema, BusClient, createLogger, env, EventConsumer, loadConfig, main, runService } from '@blog/common';
import { z } from 'zod';
import { createApp } from './app';
import { queryEventHandlers, QueryStore } from './events';

const configSchema = z.object({ ...busServiceConfigSchema, PORT: env.port(4002) });

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('query', config);
  const store = new QueryStore();
  const consumer = new EventConsumer({ history: new BusClient(config.EVENT_BUS_URL), handlers: queryEventHandlers(store), logger });

  await runService({
    name: 'query',
    app: createApp({ store, consumer, logger }),
    port: config.PORT,
    logger,
    onListening: () => consumer.start(),
    onShutdown: () => consumer.stop(),
  });
});
