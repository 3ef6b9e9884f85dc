/**
 * The real Prometheus and promtool of `npm run test:prometheus`: PROMETHEUS_DIR is the folder
 * tools/scripts/prometheus.sh prints. A Prometheus started here scrapes loopback targets, evaluates rule
 * files, and is asked over its HTTP API only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProcess, stopProcess } from '@blog/stack';
import { freePort, http, waitFor } from '@blog/testkit';
import { stringify } from 'yaml';

function binary(name: 'prometheus' | 'promtool'): string {
  const dir = process.env.PROMETHEUS_DIR;
  if (!dir) throw new Error('PROMETHEUS_DIR is not set: run `npm run test:prometheus` (tools/scripts/prometheus.sh)');
  return path.join(dir, name);
}

export const promtool = () => binary('promtool');

export interface ScrapeJob {
  job: string;
  /** host:port */
  target: string;
}

export interface RunningPrometheus {
  readonly url: string;
  /** GET /api/v1/<path>'s `data`. */
  api<T>(apiPath: string): Promise<T>;
  stop(): Promise<void>;
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

/**
 * Starts Prometheus on a free loopback port scraping `jobs` every `intervalSeconds` and evaluating the
 * `rules` (a rules file's text) as often, with its data in a temp dir; resolves once it is ready. Stopping
 * it removes the dir; so does a failed start.
 */
export async function startPrometheus({
  jobs,
  rules,
  intervalSeconds,
}: {
  jobs: readonly ScrapeJob[];
  rules: string;
  intervalSeconds: number;
}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blog-prometheus-'));
  const interval = `${intervalSeconds}s`;
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: ['rules.yaml'],
    scrape_configs: jobs.map(({ job, target }) => ({ job_name: job, static_configs: [{ targets: [target] }] })),
  };
  writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
  writeFileSync(path.join(dir, 'rules.yaml'), rules);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = startProcess(
    binary('prometheus'),
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { env: { PATH: process.env.PATH }, cwd: dir, stdio: 'ignore' },
  );
  const stop = async () => {
    try {
      await stopProcess(started);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await waitFor(async () => started.exit === undefined && (await http(`${url}/-/ready`)).status === 200, {
      what: 'Prometheus to be ready',
      timeoutMs: 30_000,
      detail: () => (started.exit ? `it exited: ${JSON.stringify(started.exit)}` : 'it is running'),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async api<T>(apiPath: string): Promise<T> {
      const answer = await http(`${url}/api/v1/${apiPath}`);
      const body = answer.json as { status?: string; data?: T } | undefined;
      if (answer.status !== 200 || body?.status !== 'success')
        throw new Error(`GET ${apiPath}: ${answer.status} ${answer.text}`);
      return body.data as T;
    },
    stop,
  };
}
