/**
 * A real Prometheus scraping the local stack (every service's /metrics on loopback, one job per service
 * named as the ServiceMonitors name them) with the shipped alert rules: the subscriber-lag alert goes
 * pending and firing while a subscriber's process is stopped, and resolves once it is back. Only the rules'
 * `for` is shortened (the expressions are the shipped ones), and Prometheus scrapes and evaluates every
 * second. `npm run test:prometheus`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { http, startStack, waitFor, type ServiceName, type Stack } from '@blog/testkit';
import { stringify } from 'yaml';
import { alertGroups, alertRules } from '../../src/alert-rules';
import { dashboardQueries, exposedNames, metricNames, natsExporterMetrics } from '../../src/dashboard';
import { promtool, startPrometheus, type PrometheusAlert, type RunningPrometheus } from './prometheus';

const SHORT_FOR = '3s';

/**
 * promtool's lint finds one fault with prom-client's standard metrics: these gauges end in `_total`. They
 * keep the names stock Node.js dashboards query; no metric of the blog's own may have a lint finding.
 */
const PROM_CLIENT_LINT = new Set([
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
]);

/** The processes that serve /metrics: every service but the client's static server. */
const JOBS = ['posts', 'comments', 'query', 'moderation', 'event-bus'] as const satisfies readonly ServiceName[];

/** The shipped rules with every `for` shortened, and nothing else changed. */
function testRules(): string {
  return stringify({
    groups: alertGroups().map((group) => ({
      ...group,
      rules: group.rules.map((rule) => ({ ...rule, for: SHORT_FOR })),
    })),
  });
}

let stack: Stack | undefined;
let prometheus: RunningPrometheus | undefined;
const logDir = mkdtempSync(path.join(os.tmpdir(), 'blog-prometheus-stack-'));

beforeAll(async () => {
  stack = await startStack({ logDir, logLevel: 'warn' });
  prometheus = await startPrometheus({
    jobs: JOBS.map((job) => ({ job, target: new URL(stack?.url(job) ?? '').host })),
    rules: testRules(),
    intervalSeconds: 1,
  });
});

afterAll(async () => {
  try {
    await prometheus?.stop();
  } finally {
    try {
      await stack?.stopAll();
    } finally {
      rmSync(logDir, { recursive: true, force: true });
    }
  }
});

const running = () => {
  if (!stack || !prometheus) throw new Error('the stack or Prometheus did not start');
  return { stack, prometheus };
};

interface Target {
  labels: { job: string };
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

async function alerts(name: string): Promise<PrometheusAlert[]> {
  const { alerts: all } = await running().prometheus.api<{
    alerts: (PrometheusAlert & { labels: { alertname: string } })[];
  }>('alerts');
  return all.filter((alert) => alert.labels.alertname === name);
}

describe('a real Prometheus on the local stack', () => {
  it("tests the shipped expressions: the override changes only each rule's `for`", () => {
    const overridden = alertRules(testRules());
    expect(overridden.map(({ for: _for, ...rest }) => rest)).toEqual(
      alertRules().map(({ for: _for, ...rest }) => rest),
    );
  });

  it('scrapes every service, and promtool finds each exposition valid', async () => {
    const { stack, prometheus } = running();
    const targets = await waitFor(
      async () => {
        const { activeTargets } = await prometheus.api<{ activeTargets: Target[] }>('targets');
        return activeTargets.length === JOBS.length && activeTargets.every((target) => target.health === 'up')
          ? activeTargets
          : undefined;
      },
      { what: 'every service to be scraped', timeoutMs: 30_000 },
    );
    expect(targets.map((target) => target.labels.job).sort()).toEqual([...JOBS].sort());
    for (const service of JOBS) {
      const { text } = await http(`${stack.url(service)}/metrics`);
      const checked = spawnSync(promtool(), ['check', 'metrics'], { input: text, encoding: 'utf8' });
      const problems = `${checked.stdout}${checked.stderr}`
        .split('\n')
        .filter((line) => line.trim() !== '' && !PROM_CLIENT_LINT.has(line.split(' ')[0] ?? ''));
      expect({ service, problems }).toEqual({ service, problems: [] });
    }
  });

  it('has the standard runtime metrics of every service, with no label of a target label name', async () => {
    const { prometheus } = running();
    const { result } = await prometheus.api<{ result: { metric: Record<string, string> }[] }>(
      'query?query=' + encodeURIComponent('count by (job) (nodejs_eventloop_lag_p99_seconds)'),
    );
    expect(result.map((series) => series.metric.job).sort()).toEqual([...JOBS].sort());
    const exported = await prometheus.api<string[]>('labels?match[]=' + encodeURIComponent('{job=~".+"}'));
    expect(exported.filter((label) => label.startsWith('exported_'))).toEqual([]);
  });

  it('has a dashboard whose every query names only metrics a service exports (or the NATS exporter), and runs', async () => {
    const { stack, prometheus } = running();
    const exported = new Set(natsExporterMetrics());
    for (const job of JOBS)
      for (const name of exposedNames((await http(`${stack.url(job)}/metrics`)).text)) exported.add(name);
    const queries = dashboardQueries();
    const unknown = queries.flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((name) => !exported.has(name))
        .map((name) => `${panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
    for (const { expr } of queries) await prometheus.api(`query?query=${encodeURIComponent(expr)}`);
  });

  it('fires SubscriberLagging while moderation is stopped, and resolves it once moderation is back', async () => {
    const { stack } = running();
    const moderation = `:${stack.ports.moderation}`;
    const ofModeration = (alert: PrometheusAlert) => alert.labels.subscriber?.includes(moderation) === true;
    expect((await alerts('SubscriberLagging')).filter(ofModeration)).toEqual([]);

    await stack.stop('moderation');
    const created = await http(`${stack.url('posts')}/posts`, { body: { title: 'lagging' } });
    expect(created.status).toBe(201);
    const seen = new Set<string>();
    await waitFor(
      async () => {
        for (const alert of (await alerts('SubscriberLagging')).filter(ofModeration)) seen.add(alert.state);
        return seen.has('firing');
      },
      {
        what: 'SubscriberLagging to fire for moderation',
        timeoutMs: 60_000,
        intervalMs: 250,
        detail: () => [...seen].join(', ') || 'no alert',
      },
    );
    expect(seen).toContain('pending');

    await stack.start('moderation');
    await waitFor(async () => (await alerts('SubscriberLagging')).filter(ofModeration).length === 0, {
      what: 'SubscriberLagging to resolve once moderation is back',
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  });
});
