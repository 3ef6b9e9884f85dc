import path from 'node:path';
import { commonConfigSchema, createLogger, DEFAULT_PORTS, env, eventsConfigSchema, loadConfig, localUrl, main, runService } from '@blog/common';
import { z } from 'zod';
import { createApp } from './app';
import { SubscriberDelivery } from './delivery';
import { FileEventLog } from './file-log';
import { BusMetrics } from './metrics';
import { FilePositionStore } from './positions';

const configSchema = z.object({
  ...commonConfigSchema,
  ...eventsConfigSchema,
  PORT: env.port(DEFAULT_PORTS['event-bus']),
  EVENT_SUBSCRIBERS: env.urlList((['posts', 'comments', 'query', 'moderation'] as const).map(localUrl)),
  /** Where the event log lives; relative paths are resolved against the working directory. */
  EVENT_LOG_DIR: z.string().default('.data/event-bus'),
  /** A write of the log (with its fsync) that takes longer is refused with 503, never acknowledged late. */
  EVENT_LOG_WRITE_TIMEOUT_MS: env.milliseconds(5_000),
});

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('event-bus', config);
  const metrics = new BusMetrics({ processMetrics: true });
  const log = await FileEventLog.open({
    dir: path.resolve(config.EVENT_LOG_DIR),
    logger,
    writeTimeoutMs: config.EVENT_LOG_WRITE_TIMEOUT_MS,
    onWriteFault: (code) => metrics.logWriteFaults.inc({ code }),
  });
  const positions = await FilePositionStore.open({ dir: path.resolve(config.EVENT_LOG_DIR), logger, writeTimeoutMs: config.EVENT_LOG_WRITE_TIMEOUT_MS });
  const deliveries = config.EVENT_SUBSCRIBERS.map((url) => new SubscriberDelivery(url, { log, logger, metrics, token: config.EVENTS_TOKEN, positions }));
  metrics.observe(log, deliveries);
  logger.info({ subscribers: config.EVENT_SUBSCRIBERS, eventsToken: config.EVENTS_TOKEN ? 'required' : 'none' }, 'delivering to subscribers');

  await runService({
    name: 'event-bus',
    app: createApp({ log, deliveries, logger, metrics, eventsToken: config.EVENTS_TOKEN }),
    port: config.PORT,
    logger,
    onListening: () => deliveries.forEach((delivery) => delivery.start()),
    onShutdown: async () => {
      await Promise.all(deliveries.map((delivery) => delivery.stop()));
      await positions.close();
      await log.close();
    },
  });
});
