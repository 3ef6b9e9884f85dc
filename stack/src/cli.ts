/**
 * `npm start` / `npm run dev`: every service of the blog as its own process, its output under its name.
 * `npm run start:cluster` (`start-cluster`): the blog scaled out, on a 3-node NATS JetStream cluster.
 * A process that exits unexpectedly is started again; Ctrl-C stops them all.
 * `build-client` (part of `npm run build`) builds the client's bundle when its sources changed.
 */
import { buildClientIfStale } from './client-build';
import { DEFAULT_PORTS, localEventsCredentials, OPEN_INTAKE, ROOT, type StackMode } from './definition';
import { CLUSTER_NATS_NODES, clusterProcesses } from './cluster';
import { findNatsServer } from './nats';
import { stackProcesses, Supervisor, type ProcessSpec } from './supervisor';

const COMMANDS = ['start', 'dev', 'start-cluster', 'build-client'] as const;
const command = process.argv[2];
if (!(COMMANDS as readonly (string | undefined)[]).includes(command)) {
  console.error(`usage: node stack/dist/cli.js ${COMMANDS.join('|')}`);
  process.exit(2);
}

try {
  // Under `dev` the client server serves the sources through Vite: there is no bundle to build.
  if (command !== 'dev') buildClientIfStale(ROOT, (line) => console.log(line));
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
if (command === 'build-client') process.exit(0);
const mode: StackMode = command === 'dev' ? 'dev' : 'start';

// Each service gets a token of its own and the bus's public key; the bus the signing key and your token.
// All new each run (your token too, unless you set EVENTS_TOKEN).
const credentials = localEventsCredentials();
console.log(
  credentials === undefined
    ? `Event intake is open (EVENTS_TOKEN=${OPEN_INTAKE}): any process on this machine may post events to the bus and the services (unsafe)`
    : `Requests to the bus's /events and /snapshots need: Authorization: Bearer ${credentials.operatorToken} (EVENTS_TOKEN=${OPEN_INTAKE} for open intake); the services take only deliveries the bus signed`,
);

const env = { LOG_FORMAT: 'pretty' };
let processes: ProcessSpec[];
if (command === 'start-cluster') {
  let natsServer: string;
  try {
    natsServer = findNatsServer();
  } catch (err) {
    console.error(`npm run start:cluster needs NATS: ${(err as Error).message}`);
    process.exit(1);
  }
  processes = clusterProcesses({ natsServer, credentials, env });
  console.log(
    `Scaled out: NATS on ${CLUSTER_NATS_NODES.map((node) => node.clientPort).join(', ')}; 2 replicas of each service (ports 40xx and 401x); open http://localhost:${DEFAULT_PORTS.client}`,
  );
} else {
  processes = stackProcesses({ mode, ports: DEFAULT_PORTS, credentials, env });
}
const supervisor = new Supervisor({ processes });
supervisor.start();

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void supervisor.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
