import './tracing';
import {
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
import { moderationEventHandlers } from './event-handlers';
import { DEFAULT_BLOCKED_WORDS, moderationDecisions } from './moderation-decisions';
import { MODERATION_SCHEMA, ModerationStore } from './store';

const configSchema = z.object({
  ...busServiceConfigSchema,
  ...stateConfigSchema('moderation'),
  PORT: env.port(DEFAULT_PORTS.moderation),
  BLOCKED_WORDS: env.wordList([...DEFAULT_BLOCKED_WORDS]),
});

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('moderation', config);
  const metrics = new ServiceMetrics({ processMetrics: true });
  const bus = busClientFor(config, { logger, metrics });
  const local = await openStateWithSnapshots(config, MODERATION_SCHEMA, logger);
  const store = new ModerationStore(local.state);
  const decisions = moderationDecisions(store, bus, config.BLOCKED_WORDS, logger);
  const consumer = new EventConsumer({
    history: bus,
    state: store.state,
    handlers: moderationEventHandlers(store, decisions),
    logger,
    metrics,
    follow: config.EVENTS_FOLLOW,
  });

  await runService({
    name: 'moderation',
    app: createApp({
      consumer,
      logger,
      metrics,
      eventsToken: config.EVENTS_TOKEN,
      deliveryKey: config.DELIVERY_PUBLIC_KEY,
    }),
    port: config.PORT,
    host: config.HOST,
    logger,
    onListening: async () => {
      await consumer.start();
      local.startSnapshots();
      decisions.start();
    },
    onShutdown: async () => {
      decisions.stop();
      consumer.stop();
      await local.close();
    },
  });
});
