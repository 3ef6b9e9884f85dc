import path from 'node:path';
import {
  commonConfigSchema,
  DEFAULT_NATS_STREAM,
  DEFAULT_PORTS,
  env,
  EVENTS_CLIENTS,
  eventsConfigSchema,
  eventsTokenVariable,
  localUrl,
} from '@blog/common';
import { z } from 'zod';
import { DUPLICATE_WINDOW_MS } from './jetstream/event-stream';
import { RECENT_IDS } from './log/event-index';
import { CLAIM_TTL_MS } from './snapshots/snapshot-claims';

/** The bus's configuration, read once from the environment at start. */
export const configSchema = z
  .object({
    ...commonConfigSchema,
    /** The operator's token: publishes any event type and reads everything. No service should hold it. */
    ...eventsConfigSchema,
    /** Each service's own token: it reads the log and publishes only its own event types (PUBLISHED_EVENT_TYPES). */
    POSTS_EVENTS_TOKEN: env.token(),
    COMMENTS_EVENTS_TOKEN: env.token(),
    MODERATION_EVENTS_TOKEN: env.token(),
    QUERY_EVENTS_TOKEN: env.token(),
    /** The Ed25519 key the bus signs each delivery with; the services hold its public key (DELIVERY_PUBLIC_KEY). */
    DELIVERY_SIGNING_KEY: env.signingKey(),
    PORT: env.port(DEFAULT_PORTS['event-bus']),
    /** Where the bus pushes every event; `none` when every service reads the log itself (EVENTS_FOLLOW). */
    EVENT_SUBSCRIBERS: z.preprocess(
      (value) => (value === 'none' ? '' : value),
      env.urlList((['posts', 'comments', 'query', 'moderation'] as const).map(localUrl)),
    ),
    /** `file`: one bus, its log in EVENT_LOG_DIR. `jetstream`: any number of bus replicas on a NATS JetStream cluster. */
    EVENT_LOG: z.enum(['file', 'jetstream']).default('file'),
    /**
     * Where the event log lives; a relative path is resolved against the working directory. By default the
     * repository's `.data/event-bus`, wherever the bus is started from (`npm start`, `npm start -w event-bus`).
     */
    EVENT_LOG_DIR: z.string().default(path.join(__dirname, '..', '..', '.data', 'event-bus')),
    /** A write of the log (with its fsync) that takes longer is refused with 503, never acknowledged late. */
    EVENT_LOG_WRITE_TIMEOUT_MS: env.milliseconds(5_000),
    /**
     * How many of the newest event ids the bus remembers, in either log, so that an id sent again is not
     * stored twice (about 100 bytes of memory each). Older keys are answered by the services' own state.
     */
    EVENT_IDS_REMEMBERED: z.coerce
      .number({ error: 'must be a whole number from 1 to 10000000' })
      .int({ error: 'must be a whole number from 1 to 10000000' })
      .min(1, { error: 'must be a whole number from 1 to 10000000' })
      .max(10_000_000, { error: 'must be a whole number from 1 to 10000000' })
      .default(RECENT_IDS),
    /** The largest snapshot of a service's state the bus takes (bytes). */
    SNAPSHOT_MAX_BYTES: z.coerce
      .number({ error: 'must be a whole number of bytes, at least 1' })
      .int({ error: 'must be a whole number of bytes, at least 1' })
      .min(1, { error: 'must be a whole number of bytes, at least 1' })
      .default(4 * 2 ** 30),
    /**
     * How long a service's claim to make the next snapshot lasts: longer than making and sending its largest
     * snapshot takes. A replica killed while it makes one holds up the next for this long.
     */
    SNAPSHOT_CLAIM_TTL_MS: env.milliseconds(CLAIM_TTL_MS),
    NATS_URL: env
      .natsServerList(['nats://127.0.0.1:4222'])
      .refine((servers) => servers.length > 0, { error: 'must name at least one NATS server' }),
    /** The bus's own NATS user: it may publish events and read its stream and buckets, never change or remove them. */
    NATS_USER: z.string().optional(),
    NATS_PASSWORD: z.string().optional(),
    /**
     * The NATS user that creates the stream and buckets and keeps what the bus owns of their configuration,
     * at start, on a connection of its own closed before the bus serves. Unset: the bus's own user does it.
     */
    NATS_ADMIN_USER: z.string().optional(),
    NATS_ADMIN_PASSWORD: z.string().optional(),
    NATS_STREAM: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, { error: 'must be 1 to 32 letters, digits, - or _' })
      .default(DEFAULT_NATS_STREAM),
    /** Copies of the stream and buckets: 3 on a cluster of 3 or more servers, 1 on a single server. */
    NATS_REPLICAS: z.coerce.number().int().min(1).max(5).default(3),
    /** How long an append keeps publishing again while the cluster has no leader, before it is refused with 503. */
    NATS_PUBLISH_TIMEOUT_MS: env.milliseconds(15_000),
    /** The stream's duplicate window: how long JetStream stores an event id once across every bus replica. */
    NATS_DUPLICATE_WINDOW_MS: env.milliseconds(DUPLICATE_WINDOW_MS),
  })
  .superRefine((config, ctx) => {
    for (const [user, password] of [
      ['NATS_USER', 'NATS_PASSWORD'],
      ['NATS_ADMIN_USER', 'NATS_ADMIN_PASSWORD'],
    ] as const) {
      if ((config[user] === undefined) !== (config[password] === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [config[user] === undefined ? user : password],
          message: `must be set together with ${config[user] === undefined ? password : user}`,
        });
      }
    }
    // A token is how the bus tells its clients apart: two clients with one token would be one client.
    const tokenHolders = new Map<string, string>();
    for (const name of ['EVENTS_TOKEN', ...EVENTS_CLIENTS.map(eventsTokenVariable)] as const) {
      const token = config[name];
      if (token === undefined) continue;
      const holder = tokenHolders.get(token);
      if (holder !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `must differ from ${holder}: each client needs a token of its own`,
        });
      else tokenHolders.set(token, name);
    }
    // Each service then holds only its own token: deliveries must be signed, or none would accept them.
    const serviceTokens = EVENTS_CLIENTS.map(eventsTokenVariable).filter((name) => config[name] !== undefined);
    if (serviceTokens.length > 0 && config.DELIVERY_SIGNING_KEY === undefined && config.EVENT_SUBSCRIBERS.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['DELIVERY_SIGNING_KEY'],
        message: `must be set with ${serviceTokens.join(', ')} while the bus pushes to EVENT_SUBSCRIBERS: a service holds only its own token, and takes only deliveries the bus signed`,
      });
    }
    // The bus publishes again with the same id until its timeout: past the window, a retry could store an event twice.
    if (config.EVENT_LOG === 'jetstream' && config.NATS_DUPLICATE_WINDOW_MS <= config.NATS_PUBLISH_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['NATS_DUPLICATE_WINDOW_MS'],
        message: `must be longer than NATS_PUBLISH_TIMEOUT_MS (${config.NATS_PUBLISH_TIMEOUT_MS})`,
      });
    }
  });

export type BusConfig = z.infer<typeof configSchema>;

/** The services' own tokens, by service, from the bus's configuration. */
export function serviceTokensOf(config: BusConfig): Partial<Record<(typeof EVENTS_CLIENTS)[number], string>> {
  return Object.fromEntries(
    EVENTS_CLIENTS.flatMap((name) => {
      const token = config[eventsTokenVariable(name)];
      return token === undefined ? [] : [[name, token]];
    }),
  );
}
