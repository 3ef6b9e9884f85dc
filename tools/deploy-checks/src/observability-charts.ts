/**
 * The observability releases, each by its official chart with values from infra/helm/<release>/values.yaml,
 * all in the namespace `monitoring`: the OpenTelemetry Collector and Tempo (traces), Loki and Fluent Bit (logs).
 * Their chart names, versions and repositories; the fact files of each chart's value keys; and `helm lint` /
 * `helm template` where a chart is at hand (a folder named by its variable, e.g. OTEL_COLLECTOR_CHART: the
 * charts cannot be fetched in CI).
 */
import { parse } from 'yaml';
import { parseManifestText, type LoadedManifests } from './manifests';
import {
  chartKeysFile,
  isValuesMap,
  parseChartKeys,
  runHelm,
  unknownKeys,
  type ChartKeys,
  type ChartSource,
  type Values,
} from './nats-chart';
export { chartAtHand } from './nats-chart';
import { readRepoFile, repoPath } from './repo';

export const OBSERVABILITY_NAMESPACE = 'monitoring';
/** The skaffold config installing the releases (required by skaffold.yaml's production profile). */
export const OBSERVABILITY_SKAFFOLD = 'infra/helm/observability.skaffold.yaml';
/** The Argo CD Application installing them. */
export const OBSERVABILITY_APPLICATION = 'infra/gitops/observability.yaml';

export interface ObservabilityChart extends ChartSource {
  /** The Helm release, which names infra/helm/<release>/. */
  release: string;
  version: string;
  /** The variable naming the extracted chart's folder, for helm lint and helm template. */
  variable: string;
  /**
   * Paths under which any key goes although the chart's default is not empty: configuration passed through
   * to the program (the Collector's `config`, Loki's limits), a pod securityContext, or keys the values file
   * shows only in a comment and its templates read (the Collector's podDisruptionBudget.minAvailable).
   */
  freeForm: readonly string[];
}

/** In the order skaffold installs them: each backend before what sends to it. */
export const OBSERVABILITY_CHARTS: readonly ObservabilityChart[] = [
  {
    release: 'tempo',
    name: 'tempo',
    version: '2.2.4',
    repo: 'https://grafana-community.github.io/helm-charts',
    source: 'github.com/grafana-community/helm-charts charts/tempo',
    variable: 'TEMPO_CHART',
    freeForm: ['securityContext'],
  },
  {
    release: 'otel-collector',
    name: 'opentelemetry-collector',
    version: '0.170.0',
    repo: 'https://open-telemetry.github.io/opentelemetry-helm-charts',
    source: 'github.com/open-telemetry/opentelemetry-helm-charts charts/opentelemetry-collector',
    variable: 'OTEL_COLLECTOR_CHART',
    freeForm: ['config', 'podDisruptionBudget'],
  },
  {
    release: 'loki',
    name: 'loki',
    version: '18.11.0',
    repo: 'https://grafana-community.github.io/helm-charts',
    source: 'github.com/grafana-community/helm-charts charts/loki',
    variable: 'LOKI_CHART',
    freeForm: ['loki.limits_config'],
  },
  {
    release: 'fluent-bit',
    name: 'fluent-bit',
    version: '0.58.1',
    repo: 'https://fluent.github.io/helm-charts',
    source: 'github.com/fluent/helm-charts charts/fluent-bit',
    variable: 'FLUENT_BIT_CHART',
    freeForm: [],
  },
];

export function observabilityChart(release: string): ObservabilityChart {
  const chart = OBSERVABILITY_CHARTS.find((candidate) => candidate.release === release);
  if (!chart) throw new Error(`no observability release ${release}`);
  return chart;
}

export const valuesFileOf = (chart: ObservabilityChart) => `infra/helm/${chart.release}/values.yaml`;

export function valuesOf(chart: ObservabilityChart, text: string = readRepoFile(valuesFileOf(chart))): Values {
  const values: unknown = parse(text, { uniqueKeys: true });
  if (!isValuesMap(values)) throw new Error(`${valuesFileOf(chart)}: not a map of values`);
  return values;
}

/** The chart's value keys (its fact file), with its extra free-form paths. */
export function chartKeysOf(chart: ObservabilityChart): ChartKeys {
  const keys = parseChartKeys(readRepoFile(chartKeysFile(chart.version, chart.name)));
  return { ...keys, freeForm: new Set([...keys.freeForm, ...chart.freeForm]) };
}

export function unknownValueKeys(chart: ObservabilityChart, values: Values = valuesOf(chart)): string[] {
  return unknownKeys(values, chartKeysOf(chart));
}

/**
 * A skaffold `deploy.helm.releases` entry against the chart's facts: the chart from its repository at its
 * version, in `monitoring`, with its values file and no value set outside it.
 */
export function skaffoldReleaseProblems(release: Record<string, unknown>, chart: ObservabilityChart): string[] {
  const expected: Record<string, unknown> = {
    name: chart.release,
    remoteChart: chart.name,
    repo: chart.repo,
    version: chart.version,
    namespace: OBSERVABILITY_NAMESPACE,
    valuesFiles: [valuesFileOf(chart)],
  };
  const problems = Object.entries(expected)
    .filter(([field, value]) => JSON.stringify(release[field]) !== JSON.stringify(value))
    .map(([field, value]) => `${field} is ${JSON.stringify(release[field])}, expected ${JSON.stringify(value)}`);
  for (const field of ['setValues', 'setValueTemplates', 'setFiles', 'setFilesTemplates'])
    if (release[field] !== undefined) problems.push(`${field} is set: values belong in the checked values file`);
  return problems.map((problem) => `release ${chart.release}: ${problem}`);
}

const releaseArgs = (chart: ObservabilityChart, valuesFile: string) => [
  '--namespace',
  OBSERVABILITY_NAMESPACE,
  '-f',
  valuesFile,
];

/** `helm lint --strict` of the chart with its values; throws with helm's output when it fails. */
export function helmLint(
  chart: ObservabilityChart,
  chartDir: string,
  valuesFile = repoPath(valuesFileOf(chart)),
): string {
  return runHelm(['lint', '--strict', chartDir, ...releaseArgs(chart, valuesFile)]);
}

/** The objects `helm template` renders for the release. */
export function helmTemplate(
  chart: ObservabilityChart,
  chartDir: string,
  valuesFile = repoPath(valuesFileOf(chart)),
): LoadedManifests {
  const output = runHelm(['template', chart.release, chartDir, ...releaseArgs(chart, valuesFile)]);
  return parseManifestText(`helm template ${chart.release}`, output);
}
