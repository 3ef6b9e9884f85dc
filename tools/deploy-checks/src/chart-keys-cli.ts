/**
 * `npm run chart-keys -- <chart folder>`: writes the fact file
 * of a deployed chart's value keys (tools/deploy-checks/facts/<chart>-chart-<version>.keys.txt) from the
 * extracted chart: NATS (helm/charts/nats of github.com/nats-io/k8s at the tag nats-<version>) or one of the
 * observability charts (src/observability-charts.ts), e.g. from `helm pull <chart> --repo <repo> --version
 * <version> --untar`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { chartKeysFile, chartKeysText, isValuesMap, NATS_CHART } from './nats-chart';
import { OBSERVABILITY_CHARTS } from './observability-charts';
import { repoPath } from './repo';

const [dir] = process.argv.slice(2);
if (!dir) {
  console.error('usage: npm run chart-keys -- <the chart folder, holding Chart.yaml and values.yaml>');
  process.exit(2);
}
const chart: unknown = parse(readFileSync(path.join(dir, 'Chart.yaml'), 'utf8'));
const { name, version } = isValuesMap(chart) ? chart : {};
const known = [NATS_CHART, ...OBSERVABILITY_CHARTS].find((candidate) => candidate.name === name);
if (!known || typeof version !== 'string') {
  console.error(`${dir}: the chart ${String(name)}, not one the blog deploys`);
  process.exit(1);
}
const file = chartKeysFile(version, known.name);
const values = readFileSync(path.join(dir, 'values.yaml'), 'utf8');
writeFileSync(repoPath(file), chartKeysText(values, version, known));
console.log(`${file}: written from ${path.join(dir, 'values.yaml')}`);
