/**
 * `npm start` / `npm run dev`: every service of the blog as its own process, its output under its name.
 * A service that exits unexpectedly is started again; Ctrl-C stops them all.
 * `build-client` (part of `npm run build`) builds the client's bundle when its sources changed.
 */
import { buildClientIfStale } from './client-build';
import { DEFAULT_PORTS, newEventsToken, ROOT, type StackMode } from './definition';
import { Supervisor } from './supervisor';

const COMMANDS = ['start', 'dev', 'build-client'] as const;
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

// The services' event intake takes only requests with this token; a new one each run unless you set one.
const eventsToken = process.env.EVENTS_TOKEN?.trim() || newEventsToken();
console.log(`Event requests (/events on the bus and the services) need: Authorization: Bearer ${eventsToken}`);

const supervisor = new Supervisor({ mode, ports: DEFAULT_PORTS, eventsToken, env: { LOG_FORMAT: 'pretty' } });
supervisor.start();

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void supervisor.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
