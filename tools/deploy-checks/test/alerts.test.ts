/**
 * The shape of every alert (infra/components/monitoring/alerts/blog.rules.yaml): a `for`, a severity, what it
 * means and where its runbook is, and promtool test cases that see it fire and stay quiet. promtool itself
 * runs those cases in `npm run test:prometheus` (test/prometheus/).
 */
import { alertRules, alertTestCases } from '../src/alert-rules';
import { readRepoFile } from '../src/repo';

const rules = alertRules();
const cases = alertTestCases();
const operations = readRepoFile('docs/operations.md');

/** GitHub's anchor of a Markdown heading: lower case, spaces to dashes, other punctuation dropped. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
const anchors = new Set([...operations.matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1] ?? '')));

describe('the alert rules', () => {
  it('are there, each named once', () => {
    const names = rules.map((rule) => rule.alert);
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(rules.map((rule) => [rule.alert, rule]))(
    '%s waits a while, has a severity, says what it means and links its runbook in docs/operations.md',
    (_name, rule) => {
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toBeTruthy();
      expect(rule.annotations?.description).toBeTruthy();
      const runbook = /^docs\/operations\.md#(.+)$/.exec(rule.annotations?.runbook_url ?? '')?.[1];
      expect(runbook).toBe(rule.alert.toLowerCase());
      expect(anchors).toContain(runbook);
    },
  );

  it.each(rules.map((rule) => [rule.alert]))(
    '%s has promtool test cases where it fires and where it does not',
    (name) => {
      const own = cases.filter((test) => test.alertname === name);
      expect(own.some((test) => test.exp_alerts.length > 0)).toBe(true);
      expect(own.some((test) => test.exp_alerts.length === 0)).toBe(true);
    },
  );
});
