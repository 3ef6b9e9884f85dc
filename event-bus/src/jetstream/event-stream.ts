import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { natsStorageNames, type Logger } from '@blog/common';

/**
 * How long JetStream remembers an event id (`Nats-Msg-Id`) to store it once, by default
 * (NATS_DUPLICATE_WINDOW_MS). It covers every retry of the same event in the system: a bus retrying a
 * publish (NATS_PUBLISH_TIMEOUT_MS, 15 s by default), a service's bus client retrying an unconfirmed
 * publish (its confirm window), a reaction published again after a restart of its service, two replicas
 * sending one Idempotency-Key at once. Past it, each bus replica still knows the ids of the newest events
 * (EVENT_IDS_REMEMBERED), and the services their own state (docs/architecture.md).
 */
export const DUPLICATE_WINDOW_MS = 120_000;

export interface EventStreamSettings {
  /** The stream's name (NATS_STREAM). */
  name: string;
  /** The one subject the bus publishes every event to. */
  subject: string;
  /** Copies of the stream, each on its own server: 3 in a cluster, 1 on a single server. */
  replicas: number;
  /** How long JetStream stores an event id once. */
  duplicateWindowMs: number;
}

/** The settings of the stream named `name`: its one subject is derived from the name. */
export function eventStream(
  name: string,
  replicas: number,
  duplicateWindowMs = DUPLICATE_WINDOW_MS,
): EventStreamSettings {
  return { name, subject: natsStorageNames(name).subject, replicas, duplicateWindowMs };
}

/** A stream the event log cannot be kept in, whatever the cluster's state: waiting does not help. */
export class UnusableStreamError extends Error {
  override name = 'UnusableStreamError';
}

/** What the bus owns of the stream's configuration; the rest (placement, limits an operator set) is kept. */
function ownedConfig({ subject, replicas, duplicateWindowMs }: EventStreamSettings): Partial<StreamConfig> {
  return {
    subjects: [subject],
    num_replicas: replicas,
    duplicate_window: nanos(duplicateWindowMs),
    // Seqs are the log's positions: a deleted or purged message would leave a hole no consumer can explain.
    deny_delete: true,
    deny_purge: true,
  };
}

/**
 * Creates the event stream, or brings the parts the bus owns up to date; never deletes or recreates it.
 * Several bus replicas may start at once: a create that loses the race reads the stream the winner made.
 */
export async function ensureEventStream(
  jsm: JetStreamManager,
  settings: EventStreamSettings,
  logger: Logger,
): Promise<StreamInfo> {
  const owned = ownedConfig(settings);
  const existing = await streamInfo(jsm, settings.name);
  if (!existing) {
    try {
      const created = await jsm.streams.add({
        name: settings.name,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        allow_direct: true,
        ...owned,
      });
      logger.info({ stream: settings.name, replicas: settings.replicas }, 'event stream created');
      return created;
    } catch (err) {
      const raced = await streamInfo(jsm, settings.name);
      if (!raced) throw err;
      return update(jsm, raced, owned, logger);
    }
  }
  return update(jsm, existing, owned, logger);
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.status === 404) return undefined;
    throw err;
  }
}

async function update(
  jsm: JetStreamManager,
  info: StreamInfo,
  owned: Partial<StreamConfig>,
  logger: Logger,
): Promise<StreamInfo> {
  const { config } = info;
  if (config.storage !== StorageType.File) {
    throw new UnusableStreamError(
      `stream ${config.name} keeps its messages in ${config.storage} storage; the event log needs file storage (recreate it by hand, or set NATS_STREAM to another name)`,
    );
  }
  const trimming = trimmingLimits(config);
  if (trimming.length > 0) {
    throw new UnusableStreamError(
      `stream ${config.name} drops old events (${trimming.join(', ')}); the event log is the history every service builds its state from and must keep every event: ` +
        'remove the limit (nats stream edit), or set NATS_STREAM to another name',
    );
  }
  if (info.state.num_deleted > 0) {
    throw new UnusableStreamError(
      `stream ${config.name} has ${info.state.num_deleted} events deleted from it; the services cannot build their states from it: set NATS_STREAM to another name`,
    );
  }
  if (info.state.first_seq > 1) {
    throw new UnusableStreamError(
      `stream ${config.name} no longer holds events 1…${info.state.first_seq - 1}; the services cannot build their states from it: set NATS_STREAM to another name`,
    );
  }
  const drift = Object.entries(owned).filter(
    ([key, value]) => JSON.stringify(config[key as keyof StreamConfig]) !== JSON.stringify(value),
  );
  if (drift.length === 0) return info;
  const updated = await jsm.streams.update(config.name, { ...config, ...owned });
  logger.info({ stream: config.name, changed: drift.map(([key]) => key) }, 'event stream configuration updated');
  return updated;
}

/** The limits set on a stream that make it drop its oldest messages: an age, or a size with discard old. */
function trimmingLimits(config: StreamConfig): string[] {
  const set = (value: number | undefined) => value !== undefined && value > 0;
  const dropsOldest = config.discard !== DiscardPolicy.New;
  return [
    ...(set(config.max_age) ? [`max_age ${config.max_age / 1e9} s`] : []),
    ...(dropsOldest && set(config.max_msgs) ? [`max_msgs ${config.max_msgs}`] : []),
    ...(dropsOldest && set(config.max_bytes) ? [`max_bytes ${config.max_bytes}`] : []),
    ...(dropsOldest && set(config.max_msgs_per_subject) ? [`max_msgs_per_subject ${config.max_msgs_per_subject}`] : []),
  ];
}

/**
 * What is wrong, now, with a stream the bus opened: a limit that drops old events, events deleted or gone
 * from its start, deletes or purges allowed, another subject. Empty while it is as the bus set it up.
 */
export function streamChanges(info: StreamInfo, settings: EventStreamSettings): string[] {
  const { config, state } = info;
  return [
    ...trimmingLimits(config).map((limit) => `it drops old events (${limit})`),
    ...(state.num_deleted > 0 ? [`${state.num_deleted} events were deleted from it`] : []),
    ...(state.first_seq > 1 ? [`it no longer holds events 1…${state.first_seq - 1}`] : []),
    ...(config.deny_delete ? [] : ['it allows deletes']),
    ...(config.deny_purge ? [] : ['it allows purges']),
    ...(JSON.stringify(config.subjects) === JSON.stringify([settings.subject])
      ? []
      : [`its subjects are ${JSON.stringify(config.subjects)}, not ${settings.subject}`]),
  ];
}
