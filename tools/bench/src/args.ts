/** Command-line options of `npm run bench` (node:util parseArgs, strict: an unknown flag is an error). */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PHASES, type PhaseName } from './bench';
import type { CatchupLog } from './catchup/run';
import { FULL_PROFILE, SMOKE_PROFILE, type Profile } from './profile';
import { loopbackBaseUrl, type TargetUrls } from './target';

export const USAGE = `Usage: npm run bench -- [options]      (or: node tools/bench/dist/cli.js [options])

Starts the local production build on free ports (or measures a running stack) and runs bounded phases:
creates, propagation, moderation, catchup, stores, memory, storage, jetstream. Prints one table; writes JSON and a
Markdown summary.

Options:
  --smoke                 tiny counts (a few hundred events; catch-up on 2k events), for CI
  --phases LIST           comma-separated subset of: ${PHASES.join(',')} (default: all)
  --catchup SIZES         history sizes for the catch-up phase, e.g. 100000,1000000 or 100k,1M
                          (default: 10k,1M,10M; with --smoke 2k)
  --catchup-logs LIST     the logs the catch-up phase runs on: file, jetstream or file,jetstream
                          (default: file,jetstream; with --smoke file; jetstream needs a nats-server)
  --posts URL             measure a running stack instead: base URL of its posts service,
  --comments URL            of its comments service,
  --query URL               and of its query service (all three together; 127.0.0.1 only)
  --bus URL               optional: its event bus, to wait until everything is delivered between phases
  --out DIR               where results go (default: tools/bench/results)
  -h, --help              show this help

Against a running stack, catchup, memory and storage are not measured (they need the local processes).`;

export interface CliOptions {
  profile: Profile;
  phases: PhaseName[];
  external?: TargetUrls;
  outDir: string;
}

export type ParsedArgs = { help: true } | { help: false; options: CliOptions };

export class ArgsError extends Error {
  override name = 'ArgsError';
}

const DEFAULT_OUT_DIR = path.resolve(__dirname, '..', 'results');

const FLAGS = {
  smoke: { type: 'boolean' },
  phases: { type: 'string' },
  catchup: { type: 'string' },
  'catchup-logs': { type: 'string' },
  posts: { type: 'string' },
  comments: { type: 'string' },
  query: { type: 'string' },
  bus: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function readFlags(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: FLAGS }).values;
  } catch (err) {
    throw new ArgsError(err instanceof Error ? err.message : String(err));
  }
}

export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  const values = readFlags(argv);
  if (values.help) return { help: true };

  const base = values.smoke ? SMOKE_PROFILE : FULL_PROFILE;
  const profile: Profile = {
    ...base,
    catchup: {
      ...base.catchup,
      ...(values.catchup === undefined ? {} : { sizes: parseSizes(values.catchup) }),
      ...(values['catchup-logs'] === undefined ? {} : { logs: parseCatchupLogs(values['catchup-logs']) }),
    },
  };
  const options: CliOptions = {
    profile,
    phases: values.phases === undefined ? [...PHASES] : parsePhases(values.phases),
    outDir: values.out === undefined ? DEFAULT_OUT_DIR : path.resolve(values.out),
  };
  const external = parseExternal(values);
  if (external) options.external = external;
  return { help: false, options };
}

function parsePhases(list: string): PhaseName[] {
  const names = list
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) throw new ArgsError('--phases needs at least one phase');
  for (const name of names) {
    if (!(PHASES as readonly string[]).includes(name))
      throw new ArgsError(`--phases: unknown phase "${name}" (known: ${PHASES.join(', ')})`);
  }
  return PHASES.filter((phase) => names.includes(phase));
}

const CATCHUP_LOGS: readonly CatchupLog[] = ['file', 'jetstream'];

/** "file,jetstream" → ['file', 'jetstream']; the file log always runs (the others start from its state). */
export function parseCatchupLogs(list: string): CatchupLog[] {
  const names = list
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!(CATCHUP_LOGS as readonly string[]).includes(name))
      throw new ArgsError(`--catchup-logs: unknown log "${name}" (known: ${CATCHUP_LOGS.join(', ')})`);
  }
  if (!names.includes('file'))
    throw new ArgsError(
      '--catchup-logs: the file log always runs (JetStream starts from the state it builds): give file or file,jetstream',
    );
  return CATCHUP_LOGS.filter((log) => names.includes(log));
}

const MAX_CATCHUP_EVENTS = 10_000_000;

/** "100000,1M" → [100000, 1000000]; k and M suffixes allowed. */
export function parseSizes(list: string): number[] {
  const sizes = list
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => {
      const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(item.replace(/_/g, ''));
      const multiplier = match?.[2]?.toLowerCase() === 'k' ? 1_000 : match?.[2]?.toLowerCase() === 'm' ? 1_000_000 : 1;
      const size = match ? Math.round(Number(match[1]) * multiplier) : Number.NaN;
      if (!Number.isInteger(size) || size < 1 || size > MAX_CATCHUP_EVENTS) {
        throw new ArgsError(
          `--catchup: "${item}" is not a number of events from 1 to ${MAX_CATCHUP_EVENTS.toLocaleString('en-US')}`,
        );
      }
      return size;
    });
  if (sizes.length === 0) throw new ArgsError('--catchup needs at least one size');
  return sizes;
}

function parseExternal(values: {
  posts?: string;
  comments?: string;
  query?: string;
  bus?: string;
}): TargetUrls | undefined {
  const given = (['posts', 'comments', 'query'] as const).filter((name) => values[name] !== undefined);
  if (given.length === 0) {
    if (values.bus !== undefined)
      throw new ArgsError('--bus goes with --posts, --comments and --query (a running stack)');
    return undefined;
  }
  if (given.length < 3)
    throw new ArgsError('--posts, --comments and --query go together: give the base URL of each service');
  const url = (raw: string, flag: string) => {
    try {
      return loopbackBaseUrl(raw, flag);
    } catch (err) {
      throw new ArgsError(err instanceof Error ? err.message : String(err));
    }
  };
  const urls: TargetUrls = {
    posts: url(values.posts as string, '--posts'),
    comments: url(values.comments as string, '--comments'),
    query: url(values.query as string, '--query'),
  };
  if (values.bus !== undefined) urls.bus = url(values.bus, '--bus');
  return urls;
}
