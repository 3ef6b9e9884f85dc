import { commonConfigSchema, createLogger, env, loadConfig, main, runService } from '@blog/common';
import { z } from 'zod';
import { createApp } from './app';
import { SubscriberDelivery } from './delivery';
import { MemoryEventLog } from './log';

const configSchema = z.object({
  ...commonConfigSchema,
  PORT: env.port(4005),
  EVENT_SUBSCRIBERS: env.urlList(['http://localhost:4000', 'http://localhost:4001', 'http://localhost:4002', 'http://localhost:4003']),
});

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('event-bus', config);
  const log = new MemoryEventLog();
  const deliveries = config.EVENT_SUBSCRIBERS.map((url) => new SubscriberDelivery(url, { log, logger }));
  logger.info({ subscribers: config.EVENT_SUBSCRIBERS }, 'delivering to subscribers');

  await runService({
    name: 'event-bus',
    app: createApp({ log, deliveries, logger }),
    port: config.PORT,
    logger,
    onListening: () => deliveries.forEach((delivery) => delivery.start()),
    onShutdown: async () => {
      await Promise.all(deliveries.map((delivery) => delivery.stop()));
      await log.close();
    },
  });
});
