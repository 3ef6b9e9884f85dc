/**
 * `node dist/setup.js`: creates the event stream and the bus's buckets with the administrator's NATS user
 * (NATS_ADMIN_USER), then exits. In Kubernetes it runs as the bus pod's init container, so the bus itself
 * runs with a user that may not change or remove the stream.
 */
import { createLogger, loadConfig, main } from '@blog/common';
import { configSchema } from './config';
import { setUpJetStream } from './jetstream/jetstream-setup';
import { connectToNats } from './jetstream/nats-connection';

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('event-bus-setup', config);
  if (config.NATS_ADMIN_USER === undefined)
    throw new Error('NATS_ADMIN_USER and NATS_ADMIN_PASSWORD must name the user that sets up the event stream');
  const connection = await connectToNats(
    config.NATS_URL,
    { user: config.NATS_ADMIN_USER, password: config.NATS_ADMIN_PASSWORD },
    'event-bus-setup',
    logger,
  );
  try {
    await setUpJetStream(
      connection,
      {
        stream: config.NATS_STREAM,
        replicas: config.NATS_REPLICAS,
        duplicateWindowMs: config.NATS_DUPLICATE_WINDOW_MS,
        snapshotMaxBytes: config.SNAPSHOT_MAX_BYTES,
        snapshotClaimTtlMs: config.SNAPSHOT_CLAIM_TTL_MS,
      },
      logger,
    );
  } finally {
    await connection.close();
  }
});
