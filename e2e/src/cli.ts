/**
 * `npm start` / `npm run dev`: every service of the blog as its own process, logs prefixed by service,
 * Ctrl-C stops them all.
 */
import { concurrently } from 'concurrently';
import { DEFAULT_PORTS, newEventsToken, SERVICES, serviceCommand, serviceEnv, type StackMode } from './stack';

const COLORS = ['blue', 'green', 'yellow', 'magenta', 'cyan', 'white'];

const mode: StackMode = process.argv[2] === 'dev' ? 'dev' : 'start';
const quote = (arg: string) => JSON.stringify(arg);
// The services' event intake takes only requests with this token; a new one each run unless you set one.
const eventsToken = process.env.EVENTS_TOKEN?.trim() || newEventsToken();
console.log(`Event requests (/events on the bus and the services) need: Authorization: Bearer ${eventsToken}`);

const { result } = concurrently(
  SERVICES.map((name, index) => {
    // `node` from PATH rather than the full path of the binary: concurrently takes a shell command line.
    const { args } = serviceCommand(name, mode);
    return {
      name,
      command: ['node', ...args.map(quote)].join(' '),
      env: { LOG_FORMAT: 'pretty', ...serviceEnv(name, DEFAULT_PORTS, mode, eventsToken) },
      prefixColor: COLORS[index % COLORS.length],
    };
  }),
  { killOthersOn: ['failure'], prefix: 'name', padPrefix: true },
);

result.then(
  () => process.exit(0),
  () => process.exit(1),
);
