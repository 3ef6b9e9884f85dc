/** tools/bench/results/latest.md: what was run, where, the table, the checks and how it was measured. */
import type { BenchReport } from '../bench';
import { renderChecks, renderTable } from './table';

/** The course implementation's numbers, from the issue, for comparison. */
export const COURSE_REFERENCE = [
  'post creates/s at c=20: 277–629',
  'create→visible: p50 63 ms, p99 219–317 ms',
  'comment→final status p99: 392–2,380 ms, with 0.1% never arriving',
  'idle RSS per service: 57–62 MB',
];

export const GENERAL_NOTES = [
  'Percentiles are nearest-rank over all recorded samples (the smallest sample with at least p% of the samples at or below it).',
  'Latencies use performance.now() (monotonic, sub-millisecond). Load goes over keep-alive HTTP/1.1 connections (undici), one request per connection at a time, to 127.0.0.1 only.',
  'Durability: a create is acknowledged (201) only after the event bus has written its event to the log and fsynced it, so every acknowledged create survives a crash; the figures include that fsync (group-committed under load).',
  'The bench runs on the same machine as the services and competes with them for CPU: figures are for the whole system on this machine.',
];

export function renderLatestMarkdown(report: BenchReport, command: string): string {
  const { machine } = report;
  const failed = report.checks.filter((check) => !check.ok).length;
  return [
    '# Benchmark: latest run',
    '',
    `- Command: \`${command}\``,
    `- Date: ${report.startedAt} (took ${report.durationS.toFixed(0)} s); profile: ${report.profile.name}; phases: ${report.phases.join(', ')}`,
    `- Target: ${report.target.kind === 'local' ? 'the local production build, started by the bench' : 'a running stack'} ` +
      `(posts ${report.target.urls.posts}, comments ${report.target.urls.comments}, query ${report.target.urls.query}${report.target.urls.bus ? `, bus ${report.target.urls.bus}` : ''})`,
    `- Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB RAM, ${machine.os}, Node ${machine.node}`,
    '',
    renderTable(report.metrics),
    '',
    `Correctness: ${failed === 0 ? 'every check passed' : `${failed} check(s) FAILED`}.`,
    '',
    renderChecks(report.checks),
    '',
    '## Method',
    '',
    ...[...report.notes, ...GENERAL_NOTES].map((note) => `- ${note}`),
    '',
    '## Course implementation, for reference',
    '',
    ...COURSE_REFERENCE.map((line) => `- ${line}`),
    '',
  ].join('\n');
}
