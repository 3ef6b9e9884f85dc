/** The blog's Grafana dashboard (infra/components/monitoring/dashboards/blog.json): its queries and the metrics they name. */
import { readRepoFile } from './repo';

export const DASHBOARD_FILE = 'infra/components/monitoring/dashboards/blog.json';
export const NATS_EXPORTER_METRICS_FILE = 'tools/deploy-checks/facts/nats-exporter-metrics.txt';

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

/** Every query of every panel, rows' panels included, with its panel's title. */
export function dashboardQueries(text: string = readRepoFile(DASHBOARD_FILE)): { panel: string; expr: string }[] {
  const walk = (panels: readonly Panel[]): { panel: string; expr: string }[] =>
    panels.flatMap((panel) => [
      ...(panel.targets ?? []).map(({ expr }) => ({ panel: panel.title, expr })),
      ...walk(panel.panels ?? []),
    ]);
  return walk((JSON.parse(text) as { panels: Panel[] }).panels);
}

/** PromQL words that are not metric names: aggregations' and operators' keywords. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: its identifiers once label matchers, strings, ranges and
 * grouping clauses are taken out, that are neither functions (followed by `(`) nor keywords.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)]
    .map((match) => match[1] ?? '')
    .filter((name) => !KEYWORDS.has(name.toLowerCase()));
  return [...new Set(names)];
}

/**
 * The metric names an exposition text serves: each family its `# TYPE` line declares (so a labelled counter
 * that has counted nothing yet is there too), a histogram with its _bucket, _sum and _count, a summary with
 * its _sum and _count, and every sample's name.
 */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  const suffixes: Record<string, string[]> = {
    histogram: ['_bucket', '_sum', '_count'],
    summary: ['', '_sum', '_count'],
  };
  for (const line of exposition.split('\n')) {
    const family = /^# TYPE ([a-zA-Z_:][\w:]*) (\w+)$/.exec(line);
    if (family?.[1] && family[2]) for (const suffix of suffixes[family[2]] ?? ['']) names.add(`${family[1]}${suffix}`);
    const sample = /^([a-zA-Z_:][\w:]*)[{ ]/.exec(line);
    if (sample?.[1]) names.add(sample[1]);
  }
  return names;
}

/** The NATS exporter's metric names, a fact list (see the file's header). */
export function natsExporterMetrics(text: string = readRepoFile(NATS_EXPORTER_METRICS_FILE)): Set<string> {
  return new Set(
    text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#')),
  );
}
