#!/usr/bin/env node
/** `npm run bench`: runs the benchmark, prints the table, writes the results. Exit 1 if a correctness check failed, 2 on bad usage. */
import path from 'node:path';
import { ArgsError, parseCliArgs, USAGE, type ParsedArgs } from './args';
import { runBench } from './bench';
import { renderChecks, renderTable } from './report/table';
import { writeResults } from './report/write';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let parsed: ParsedArgs;
  try {
    parsed = parseCliArgs(argv);
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    process.stderr.write(`bench: ${err.message}\n(node tools/bench/dist/cli.js --help lists the options)\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { options } = parsed;
  const runName = new Date().toISOString().replace(/:/g, '-');
  const report = await runBench({
    profile: options.profile,
    phases: options.phases,
    ...(options.external ? { external: options.external } : {}),
    logDir: path.join(options.outDir, 'logs', runName),
    progress: (line) => process.stderr.write(`[bench] ${line}\n`),
  });
  const written = await writeResults(report, options.outDir, commandLine(argv));
  const failed = report.checks.filter((check) => !check.ok);
  process.stdout.write(
    [
      '',
      renderTable(report.metrics),
      '',
      renderChecks(report.checks),
      '',
      'Method:',
      ...report.notes.map((note) => `- ${note}`),
      '',
      `Results: ${path.relative(process.cwd(), written.json)} and ${path.relative(process.cwd(), written.markdown)}`,
      failed.length === 0 ? 'Correctness: every check passed.' : `Correctness: ${failed.length} check(s) FAILED.`,
      '',
    ].join('\n'),
  );
  return failed.length === 0 ? 0 : 1;
}

/** The command as the operator typed it, as far as it can be told. */
function commandLine(argv: readonly string[]): string {
  const args = argv.join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${args ? ` -- ${args}` : ''}`;
  return `node tools/bench/dist/cli.js${args ? ` ${args}` : ''}`;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
