/**
 * A synthetic history (tools/bench/src/history.ts) copied into the bus's JetStream stream, for the catch-up phase
 * on the JetStream log: each event published as the bus publishes it (`{id,type,data,time}` on the stream's
 * subject), in batches, each stored before the next is sent; then the stream checked to hold as many
 * events as the file, the last one at its seq.
 *
 * Plain NATS publishes, in order on one connection, each batch stored before the next: a JetStream publish
 * waits for its own acknowledgement, and the Node client's cost per acknowledged publish made a 10M-event
 * history take minutes longer. No `Nats-Msg-Id` header: the bus reads the id from the event itself, and
 * millions of ids in the stream's duplicate window would only cost the server memory.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { delay, type NatsCredentials } from '@blog/testkit';

const BATCH = 5_000;
/** How long the stream may take no new message before the publish is given up. */
const STALL_TIMEOUT_MS = 30_000;

interface HistoryLine {
  id: string;
  type: string;
  data: unknown;
  time: string;
  seq: number;
}

/** Publishes every event of `file` to the one subject of `stream`, which must be empty; resolves with the count once the stream holds them all. */
export async function publishHistory({
  natsUrl,
  login,
  stream,
  file,
}: {
  natsUrl: string;
  login: NatsCredentials;
  stream: string;
  file: string;
}): Promise<number> {
  const connection = await connect({ servers: natsUrl, user: login.user, pass: login.password });
  try {
    const jsm = await jetstreamManager(connection);
    const { config, state: before } = await jsm.streams.info(stream);
    if (before.messages !== 0) throw new Error(`stream ${stream} already holds ${before.messages} messages`);
    const [subject, ...others] = config.subjects ?? [];
    if (subject === undefined || others.length > 0)
      throw new Error(`stream ${stream} has ${config.subjects?.length ?? 0} subjects, not the bus's one`);
    let published = 0;
    /**
     * Waits until the stream holds every event published: a server takes only so many messages into a
     * stream's queue at once (newer ones drop the rest), so each batch waits for the one before it.
     */
    const storedUpTo = async (count: number) => {
      await connection.flush();
      let progressAt = performance.now();
      let stored = -1;
      for (;;) {
        const { messages, last_seq } = (await jsm.streams.info(stream)).state;
        if (messages === count && last_seq === count) return;
        if (messages !== stored) [stored, progressAt] = [messages, performance.now()];
        if (messages > count || performance.now() - progressAt > STALL_TIMEOUT_MS) {
          throw new Error(
            `stream ${stream} holds ${messages} messages up to seq ${last_seq}; ${count} were published (dropped by the server?)`,
          );
        }
        await delay(2);
      }
    };
    let last: HistoryLine | undefined;
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line === '') continue;
      last = JSON.parse(line) as HistoryLine;
      const { id, type, data, time, seq } = last;
      if (seq !== published + 1) throw new Error(`${file}: event ${id} has seq ${seq} after ${published}`);
      connection.publish(subject, JSON.stringify({ id, type, data, time }));
      if (++published % BATCH === 0) await storedUpTo(published);
    }
    await storedUpTo(published);
    if (last) {
      const stored = await jsm.streams.getMessage(stream, { seq: last.seq });
      const { id } = stored?.json<{ id: string }>() ?? { id: undefined };
      if (id !== last.id) throw new Error(`stream ${stream} holds ${id} at seq ${last.seq}, not ${last.id}`);
    }
    return published;
  } finally {
    await connection.close();
  }
}
