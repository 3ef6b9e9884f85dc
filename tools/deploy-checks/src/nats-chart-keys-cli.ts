/**
 * `npm run nats-chart-keys -- <chart folder>`: writes the fact file of the NATS chart's value keys
 * (tools/deploy-checks/facts/nats-chart-<version>.keys.txt) from an extracted chart, e.g. helm/charts/nats of
 * github.com/nats-io/k8s at the tag nats-<version>, or `helm pull nats --repo <repo> --version <version> --untar`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { chartKeysFile, chartKeysText, isValuesMap, NATS_CHART } from './nats-chart';
import { repoPath } from './repo';

const [dir] = process.argv.slice(2);
if (!dir) {
  console.error('usage: npm run nats-chart-keys -- <the chart folder, holding Chart.yaml and values.yaml>');
  process.exit(2);
}
const chart: unknown = parse(readFileSync(path.join(dir, 'Chart.yaml'), 'utf8'));
const { name, version } = isValuesMap(chart) ? chart : {};
if (name !== NATS_CHART.name || typeof version !== 'string') {
  console.error(`${dir}: the chart ${String(name)}, not ${NATS_CHART.name}`);
  process.exit(1);
}
const file = chartKeysFile(version);
writeFileSync(repoPath(file), chartKeysText(readFileSync(path.join(dir, 'values.yaml'), 'utf8'), version));
console.log(`${file}: written from ${path.join(dir, 'values.yaml')}`);
