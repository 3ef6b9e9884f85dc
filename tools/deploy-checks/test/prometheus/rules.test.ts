/**
 * The alert rules checked and unit-tested by promtool, the real tool: `npm run test:prometheus` (promtool is
 * found or unpacked by tools/scripts/prometheus.sh, whose folder is PROMETHEUS_DIR). The PrometheusRule
 * holds the same groups (test/generate.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ALERT_RULES_FILE, ALERT_TESTS_FILE } from '../../src/alert-rules';
import { repoPath } from '../../src/repo';
import { promtool } from './prometheus';

/** promtool in `dir`: the test file names its rules file relative to itself. */
function run(dir: string, ...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(promtool(), args, { cwd: dir, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const rulesDir = path.dirname(repoPath(ALERT_RULES_FILE));
const rulesName = path.basename(ALERT_RULES_FILE);
const testsName = path.basename(ALERT_TESTS_FILE);

describe('the alert rules, by promtool', () => {
  it('are valid rules, lint included', () => {
    const checked = run(rulesDir, 'check', 'rules', '--lint=all', '--lint-fatal', rulesName);
    if (checked.status !== 0) throw new Error(`promtool check rules failed:\n${checked.output}`);
  });

  it('pass every unit test of blog.rules.test.yaml', () => {
    const tested = run(rulesDir, 'test', 'rules', testsName);
    if (tested.status !== 0) throw new Error(`promtool test rules failed:\n${tested.output}`);
  });

  it('fail those tests when an alert is changed (the tests can fail)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'blog-alerts-'));
    try {
      const shipped = readFileSync(repoPath(ALERT_RULES_FILE), 'utf8');
      const broken = shipped.replace('delta(subscriber_lag_events[5m]) >= 0', 'delta(subscriber_lag_events[5m]) > 0');
      expect(broken).not.toBe(shipped);
      writeFileSync(path.join(dir, rulesName), broken);
      writeFileSync(path.join(dir, testsName), readFileSync(repoPath(ALERT_TESTS_FILE)));
      const tested = run(dir, 'test', 'rules', testsName);
      expect(tested.status).not.toBe(0);
      expect(tested.output).toContain('alertname: SubscriberLagging');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
