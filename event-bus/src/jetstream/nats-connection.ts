import { hostname } from 'node:os';
import type { Logger } from '@blog/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface NatsLogin {
  user?: string;
  password?: string;
}

/** How long a forced reconnection may take before the bus stops waiting to see where it went. */
const RECONNECT_WAIT_MS = 5_000;

/** How many forced reconnections a move may take to land elsewhere. */
const MOVE_ATTEMPTS = 3;

/**
 * Forces the connection onto another server of its pool. A forced reconnection can dial the same server
 * again (the nats client's first pick after connecting is the server it is on, and servers the cluster
 * tells it of join the pool): then it is forced again.
 */
export async function moveToAnotherServer(connection: NatsConnection): Promise<void> {
  const left = connection.getServer();
  for (let attempt = 0; attempt < MOVE_ATTEMPTS; attempt++) {
    const reconnected = nextReconnection(connection);
    await connection.reconnect();
    if ((await reconnected) !== left) return;
  }
}

/** The server of the connection's next reconnection, or undefined when none came within RECONNECT_WAIT_MS. */
async function nextReconnection(connection: NatsConnection): Promise<string | undefined> {
  const statuses = connection.status()[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), RECONNECT_WAIT_MS)));
  try {
    for (;;) {
      const next = await Promise.race([statuses.next(), waited]);
      if (next === undefined || next.done) return undefined;
      if (next.value.type === 'reconnect') return next.value.server;
    }
  } finally {
    clearTimeout(timer);
    void statuses.return?.();
  }
}

/**
 * Connects to one of `servers`, and moves to another when it is lost. The connection is named after `role`
 * (event-bus, event-bus-setup), this host and this process, so that the servers' `/connz` tells each bus
 * replica apart.
 */
export async function connectToNats(
  servers: string[],
  login: NatsLogin,
  role: string,
  logger: Logger,
): Promise<NatsConnection> {
  const waiting = setTimeout(() => logger.warn({ servers }, 'waiting for a NATS server to answer'), 3_000);
  try {
    const connection = await connect({
      servers,
      user: login.user,
      pass: login.password,
      name: `${role}/${hostname()}/${process.pid}`,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    }).catch((err: unknown) => {
      const reason = (err as Error).message;
      if (!/authorization/i.test(reason)) throw err;
      throw new Error(
        `the NATS servers refused ${login.user === undefined ? 'a connection without a user' : `the user "${login.user}"`} (${reason}): check its password (NATS_PASSWORD, NATS_ADMIN_PASSWORD)`,
      );
    });
    logger.info({ server: connection.getServer(), user: login.user }, 'connected to NATS');
    void (async () => {
      for await (const status of connection.status()) {
        if (status.type === 'disconnect' || status.type === 'reconnect')
          logger.warn(
            { status: status.type, server: 'server' in status ? status.server : undefined },
            'NATS connection changed',
          );
      }
    })();
    return connection;
  } finally {
    clearTimeout(waiting);
  }
}
