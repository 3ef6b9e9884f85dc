/** The one results table (Markdown, readable as plain text too) and the list of correctness checks. */
import type { ReportedMetric } from '../bench';
import { grouped } from '../format';
import type { Check, Goal, Metric, Unit } from './model';

export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'creates/s':
    case 'sends/s':
    case 'events/s':
      return `${grouped(value, 0)}/s`;
    case 'ms':
      return `${grouped(value, value < 10 ? 2 : 1)} ms`;
    case 's':
      return `${grouped(value, 2)} s`;
    case 'MB':
      return `${grouped(value, 1)} MB`;
    case 'B':
      return `${grouped(value, 0)} B`;
    case 'count':
      return grouped(value, 0);
    case 'ratio':
      return `${grouped(value, 2)}×`;
  }
}

function formatGoal(goal: Goal | undefined, unit: Unit): string {
  if (!goal) return '';
  const symbol = goal.comparison === '>=' ? '≥' : goal.comparison === '<=' ? '≤' : '=';
  return `${symbol} ${formatValue(goal.value, unit)}`;
}

function formatMeasured({ value, unit, note }: Metric): string {
  if (value === null) return note ?? 'not measured';
  return note ? `${formatValue(value, unit)} (${note})` : formatValue(value, unit);
}

function formatMet(metric: ReportedMetric): string {
  if (metric.met === undefined) return metric.goal && metric.value === null ? '—' : '';
  return metric.met ? 'yes' : 'NO';
}

export function renderTable(metrics: readonly ReportedMetric[]): string {
  return markdownTable(
    ['Metric', 'Measured', 'Target', 'Met?'],
    metrics.map((metric) => [
      metric.label,
      formatMeasured(metric),
      formatGoal(metric.goal, metric.unit),
      formatMet(metric),
    ]),
  );
}

export function renderChecks(checks: readonly Check[]): string {
  return markdownTable(
    ['Correctness check', 'OK?', 'Detail'],
    checks.map((check) => [check.label, check.ok ? 'yes' : 'FAILED', check.detail]),
  );
}

export function markdownTable(header: string[], rows: string[][]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => escape(row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => escape(cell).padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
