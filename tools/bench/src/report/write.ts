import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchReport } from '../bench';
import { renderLatestMarkdown } from './markdown';

export interface WrittenResults {
  json: string;
  markdown: string;
}

/**
 * Writes `<dir>/<ISO timestamp>.json` (the whole report) and the Markdown summary: `latest.md` for a full
 * run (the committed one), `latest-smoke.md` for a smoke run, so a quick check never replaces real figures.
 */
export async function writeResults(report: BenchReport, dir: string, command: string): Promise<WrittenResults> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, `${report.startedAt.replace(/:/g, '-')}.json`);
  await writeFile(json, `${JSON.stringify({ command, ...report }, null, 2)}\n`);
  const markdown = path.join(dir, report.profile.name === 'full' ? 'latest.md' : `latest-${report.profile.name}.md`);
  await writeFile(markdown, renderLatestMarkdown(report, command));
  return { json, markdown };
}
