/**
 * Free TCP ports on 127.0.0.1 for the processes a test starts. They are picked below the kernel's
 * ephemeral range: a port from that range, free a moment ago, can be taken by any outgoing connection
 * (a NATS node dialling its routes, a service calling the bus) before the process meant for it binds it.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

const LOWEST = 20_000;

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > LOWEST + 1_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port as number;
}

/** Whether `port` can be listened on now; the probe is kept open (in `held`) until released. */
function probe(port: number, held: net.Server[]): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => {
      held.push(server);
      resolve(true);
    });
  });
}

/** `count` distinct free ports: all probes are held open until every port is known. */
export async function freePorts(count: number): Promise<number[]> {
  const held: net.Server[] = [];
  const end = ephemeralStart();
  try {
    const ports: number[] = [];
    for (let attempts = 0; ports.length < count; attempts++) {
      if (attempts > 1_000) throw new Error(`could not find ${count} free ports between ${LOWEST} and ${end}`);
      const candidate = LOWEST + Math.floor(Math.random() * (end - LOWEST));
      if (!ports.includes(candidate) && (await probe(candidate, held))) ports.push(candidate);
    }
    return ports;
  } finally {
    await Promise.all(held.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}
