/** The blog's alert rules (infra/components/monitoring/alerts/) as the checks and the Prometheus tests read them. */
import { parse } from 'yaml';
import { readRepoFile } from './repo';

export const ALERT_RULES_DIR = 'infra/components/monitoring/alerts';
export const ALERT_RULES_FILE = `${ALERT_RULES_DIR}/blog.rules.yaml`;
export const ALERT_TESTS_FILE = `${ALERT_RULES_DIR}/blog.rules.test.yaml`;

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

export function alertGroups(text: string = readRepoFile(ALERT_RULES_FILE)): RuleGroup[] {
  return (parse(text) as { groups: RuleGroup[] }).groups;
}

export function alertRules(text?: string): AlertRule[] {
  return alertGroups(text).flatMap((group) => group.rules);
}

export interface AlertTestCase {
  alertname: string;
  exp_alerts: unknown[];
}

/** Every alert_rule_test case of the promtool test file. */
export function alertTestCases(text: string = readRepoFile(ALERT_TESTS_FILE)): AlertTestCase[] {
  const { tests } = parse(text) as { tests: { alert_rule_test?: AlertTestCase[] }[] };
  return tests.flatMap((test) => test.alert_rule_test ?? []);
}
