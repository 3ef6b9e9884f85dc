/** tools/bench/results/profile.md: what `npm run profile` measured, process by process. */
import type { MachineInfo } from '../machine';
import { markdownTable } from '../report/table';
import type { ProfileSummary } from './self-time';

export interface ProcessCost {
  name: string;
  /** CPU seconds used during the measured load; undefined where it cannot be read (no /proc). */
  cpuSeconds: number | undefined;
}

export interface MeasuredLoad {
  requests: number;
  created: number;
  elapsedMs: number;
  costs: ProcessCost[];
}

export interface ProfileReport {
  command: string;
  startedAt: Date;
  machine: MachineInfo;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Keyed creates on the blog. */
  blog: MeasuredLoad;
  /** The same load on the bare Express 5 baseline. */
  bare: MeasuredLoad;
  summaries: ReadonlyMap<string, ProfileSummary>;
  pictures: { name: string; file: string }[];
}

const micros = (seconds: number | undefined, count: number) =>
  seconds === undefined || count === 0 ? undefined : (seconds * 1e6) / count;
const show = (value: number | undefined, unit: string) =>
  value === undefined ? 'not measured' : `${value.toFixed(0)} ${unit}`;
const percent = (share: number) => `${(share * 100).toFixed(1)} %`;

/** CPU µs per create of each process, and of all of them; undefined when one could not be read. */
function perCreate({ costs, created }: MeasuredLoad): { rows: string[][]; total: number | undefined } {
  const each = costs.map(({ name, cpuSeconds }) => ({ name, us: micros(cpuSeconds, created) }));
  const total = each.every(({ us }) => us !== undefined)
    ? each.reduce((sum, { us }) => sum + (us as number), 0)
    : undefined;
  const rows = each.map(({ name, us }) => [
    name,
    show(us, 'µs'),
    us === undefined || total === undefined ? '' : percent(us / total),
  ]);
  rows.push(['all of them', show(total, 'µs'), total === undefined ? '' : '100 %']);
  return { rows, total };
}

export function renderProfileMarkdown(report: ProfileReport): string {
  const { machine, blog, bare } = report;
  const blogRate = (blog.created * 1_000) / blog.elapsedMs;
  const bareRate = (bare.created * 1_000) / bare.elapsedMs;
  const blogCost = perCreate(blog);
  const bareCost = perCreate(bare);
  const bound = blogCost.total && bareCost.total ? bareCost.total / blogCost.total : undefined;
  return [
    '# What a create costs: CPU profile',
    '',
    `- Command: \`${report.command}\``,
    `- Date: ${report.startedAt.toISOString()}`,
    `- Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB RAM, ${machine.os}, Node ${machine.node}`,
    `- Load: post creates with a new Idempotency-Key each (as the page sends them), closed loop at c=${report.concurrency} over keep-alive connections to 127.0.0.1, ` +
      `${report.warmupMs} ms of warm-up, then ${report.durationMs} ms measured; then the same load on the bare Express 5 baseline ` +
      '(`tools/bench/src/baseline/bare-express.ts`: a JSON POST answered 201, nothing else). Every process ran under `node --cpu-prof`, ' +
      'which costs a little: compare these figures with each other, not with the bench’s. CPU time is read from `/proc/<pid>/stat`.',
    '',
    '## CPU time per create, process by process',
    '',
    markdownTable(['The blog (keyed creates)', 'CPU per create', 'Share'], blogCost.rows),
    '',
    markdownTable(['The bare Express 5 baseline', 'CPU per request', 'Share'], bareCost.rows),
    '',
    `Creates/s: the blog ${blogRate.toFixed(0)}/s (${blog.created} of ${blog.requests} created), the baseline ${bareRate.toFixed(0)}/s ` +
      `(${bare.created} of ${bare.requests}): ${(blogRate / bareRate).toFixed(2)}×.`,
    bound === undefined
      ? ''
      : `When the cores are what limits both, the rates are in inverse proportion to the CPU each request costs all the processes together: ` +
        `${bareCost.total?.toFixed(0)} µs ÷ ${blogCost.total?.toFixed(0)} µs = ${bound.toFixed(2)}× is what the blog’s creates can reach of the baseline’s on this machine.`,
    '',
    '## Where each process spends its CPU',
    '',
    'Self time by where the code lives (a package, a module of Node, the blog’s own code), as a share of the busy samples of the whole run (start-up included, idle left out).',
    '',
    ...[...report.summaries].flatMap(([name, summary]) => [
      `### ${name}`,
      '',
      `Busy ${(summary.busyMs / 1_000).toFixed(1)} s, idle ${(summary.idleMs / 1_000).toFixed(1)} s.`,
      '',
      markdownTable(
        ['Where', 'Share of busy'],
        summary.top.map(({ where, share }) => [where, percent(share)]),
      ),
      '',
    ]),
    '## Flame graphs',
    '',
    'speedscope’s “Left Heavy” view of each profile: every call stack merged, the heaviest on the left, the width of a frame its share of the time.',
    '',
    ...report.pictures.flatMap(({ name, file }) => [`### ${name}`, '', `![${name}](${file})`, '']),
  ].join('\n');
}
