/**
 * The official NATS Helm chart as the blog deploys it: the chart's name, version and repository, the
 * values files of each environment (infra/helm/nats/values.yaml, then <env>.yaml) layered as Helm layers
 * them, the fact file of the chart's value keys, and `helm lint` / `helm template` of each environment when
 * the chart is at hand (a folder named by NATS_CHART: the chart cannot be fetched in CI).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, parse, parseDocument } from 'yaml';
import { OVERLAY_NAMESPACE } from './environments';
import { helmPath } from './kube-tools';
import { parseManifestText, type LoadedManifests } from './manifests';
import { readRepoFile, repoPath } from './repo';

export const NATS_CHART = {
  name: 'nats',
  version: '2.14.2',
  repo: 'https://nats-io.github.io/k8s/helm/charts/',
  /** Where its source is: github.com/nats-io/k8s, this folder, at the tag `nats-<version>`. */
  source: 'github.com/nats-io/k8s helm/charts/nats',
} as const;

/** The release's name: the chart names its StatefulSet, Services and ConfigMap after it. */
export const NATS_RELEASE = 'nats';

export const NATS_ENVIRONMENTS = ['dev', 'staging', 'production'] as const;
export type NatsEnvironment = (typeof NATS_ENVIRONMENTS)[number];

export const NATS_VALUES_DIR = 'infra/helm/nats';

/** The namespace each environment's overlay deploys to, where the release goes too. */
export function namespaceOf(environment: NatsEnvironment): string {
  return OVERLAY_NAMESPACE[environment];
}

/** `-f` order: what every environment shares, then the environment's own. */
export function valuesFilesOf(environment: NatsEnvironment): string[] {
  return [`${NATS_VALUES_DIR}/values.yaml`, `${NATS_VALUES_DIR}/${environment}.yaml`];
}

/** What any deployment of an environment's NATS must say: release, chart, version, namespace, values files in order. */
export function natsRelease(environment: NatsEnvironment) {
  return {
    name: NATS_RELEASE,
    chart: NATS_CHART.name,
    repo: NATS_CHART.repo,
    version: NATS_CHART.version,
    namespace: namespaceOf(environment),
    valuesFiles: valuesFilesOf(environment),
  };
}

/**
 * A skaffold `deploy.helm.releases` entry against natsRelease: the chart from its repository at the version
 * checked here, the environment's namespace and values files, and no value set outside those files
 * (setValues, setValueTemplates, ...), which the checks would not see.
 */
export function skaffoldNatsReleaseProblems(release: Record<string, unknown>, environment: NatsEnvironment): string[] {
  const expected = natsRelease(environment);
  const problems: string[] = [];
  const want = (field: string, value: unknown) => {
    if (JSON.stringify(release[field]) !== JSON.stringify(value))
      problems.push(`${field} is ${JSON.stringify(release[field])}, expected ${JSON.stringify(value)}`);
  };
  want('name', expected.name);
  want('remoteChart', expected.chart);
  want('repo', expected.repo);
  want('version', expected.version);
  want('namespace', expected.namespace);
  want('valuesFiles', expected.valuesFiles);
  for (const field of ['setValues', 'setValueTemplates', 'setFiles', 'setFilesTemplates'])
    if (release[field] !== undefined) problems.push(`${field} is set: values belong in the checked values files`);
  return problems.map((problem) => `NATS release for ${environment}: ${problem}`);
}

export type Values = Record<string, unknown>;

export function isValuesMap(value: unknown): value is Values {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Helm's layering of values files: maps merge key by key, anything else (lists included) is replaced. */
export function layerValues(base: Values, over: Values): Values {
  const result: Values = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const below = result[key];
    result[key] = isValuesMap(below) && isValuesMap(value) ? layerValues(below, value) : value;
  }
  return result;
}

/** An environment's values as Helm sees them after `-f values.yaml -f <env>.yaml`. */
export function natsValuesOf(environment: NatsEnvironment, read: (file: string) => string = readRepoFile): Values {
  return valuesFilesOf(environment)
    .map((file) => {
      const values: unknown = parse(read(file), { uniqueKeys: true });
      if (!isValuesMap(values)) throw new Error(`${file}: not a map of values`);
      return values;
    })
    .reduce(layerValues, {});
}

/**
 * The chart's value keys as the fact file lists them: every path of its values.yaml; `freeForm` are the
 * paths whose default is an empty map or a list (merge, patch, env, resources, ...), under which any key goes.
 */
export interface ChartKeys {
  version: string;
  keys: ReadonlySet<string>;
  freeForm: ReadonlySet<string>;
}

/** A chart as its fact file's header names it: name, Helm repository, where its source is. */
export interface ChartSource {
  name: string;
  repo: string;
  source: string;
}

export function chartKeysFile(version: string = NATS_CHART.version, name: string = NATS_CHART.name): string {
  return `tools/deploy-checks/facts/${name}-chart-${version}.keys.txt`;
}

const HEADER_CHART = /^# chart (\S+) (\S+) /;

/** The fact file's text for a chart's values.yaml: a header naming the chart, then one path a line. */
export function chartKeysText(valuesYaml: string, version: string, chart: ChartSource = NATS_CHART): string {
  const doc = parseDocument(valuesYaml, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(doc.errors.map((error) => error.message).join('\n'));
  const lines: string[] = [];
  const walk = (node: unknown, at: string[]): void => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
      const here = [...at, key];
      const value = pair.value;
      if (isMap(value) && value.items.length > 0) {
        lines.push(here.join('.'));
        walk(value, here);
      } else if (isMap(value)) lines.push(`${here.join('.')} {}`);
      else if (isSeq(value)) lines.push(`${here.join('.')} []`);
      else lines.push(here.join('.'));
    }
  };
  walk(doc.contents, []);
  return [
    `# chart ${chart.name} ${version} from ${chart.repo} (source: ${chart.source}, tag ${chart.name}-${version}):`,
    "# the key paths of its values.yaml, one a line, in the file's order. A path followed by {} or [] has that",
    '# default and takes any key below it (merge, patch, env, resources, ...).',
    "# Written by `npm run chart-keys -- <the chart's folder>` (tools/deploy-checks/src/chart-keys-cli.ts).",
    ...lines,
    '',
  ].join('\n');
}

export function parseChartKeys(text: string): ChartKeys {
  const version = HEADER_CHART.exec(text)?.[2];
  if (!version) throw new Error('the fact file names no chart version (# chart <name> <version> ...)');
  const keys = new Set<string>();
  const freeForm = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [key = '', marker] = line.split(' ');
    keys.add(key);
    if (marker === '{}' || marker === '[]') freeForm.add(key);
    else if (marker !== undefined)
      throw new Error(`fact file line ${JSON.stringify(line)}: expected "<path>", "<path> {}" or "<path> []"`);
  }
  return { version, keys, freeForm };
}

export function loadChartKeys(version: string = NATS_CHART.version): ChartKeys {
  return parseChartKeys(readRepoFile(chartKeysFile(version)));
}

/** Every key `values` sets that the chart does not have; nothing below a free-form key is looked at. */
export function unknownKeys(values: Values, chart: ChartKeys): string[] {
  const unknown: string[] = [];
  const walk = (map: Values, at: string[]): void => {
    for (const [key, value] of Object.entries(map)) {
      const here = [...at, key].join('.');
      if (!chart.keys.has(here)) unknown.push(here);
      else if (!chart.freeForm.has(here) && isValuesMap(value)) walk(value, [...at, key]);
    }
  };
  walk(values, []);
  return unknown;
}

/** The chart's folder (Chart.yaml, values.yaml, templates/), or why there is none. */
export type ChartAtHand = { dir: string } | { dir?: undefined; reason: string };

/** A chart whose folder a variable names, for the checks that lint and render it when it is at hand. */
export interface ChartToRender {
  name: string;
  version: string;
  /** The variable that names the chart's extracted folder. */
  variable: string;
}

/**
 * The chart named by its variable, checked to be that chart at that version. Unset: not at hand, and the
 * reason says so. Set to anything but that chart at that version: an error, never a quiet fallback.
 */
export function chartAtHand(chart: ChartToRender, env: NodeJS.ProcessEnv = process.env): ChartAtHand {
  const dir = env[chart.variable];
  if (!dir)
    return {
      reason: `${chart.variable} is not set: the chart ${chart.name} ${chart.version} cannot be fetched here; set ${chart.variable} to its folder to lint and render it`,
    };
  const chartFile = path.join(dir, 'Chart.yaml');
  if (!existsSync(chartFile)) throw new Error(`${chart.variable}=${dir}: no Chart.yaml there`);
  const found: unknown = parse(readFileSync(chartFile, 'utf8'));
  const { name, version } = isValuesMap(found) ? found : {};
  if (name !== chart.name || version !== chart.version)
    throw new Error(
      `${chart.variable}=${dir} is the chart ${String(name)} ${String(version)}, not ${chart.name} ${chart.version}`,
    );
  return { dir: path.resolve(dir) };
}

/** NATS's chart (the folder helm/charts/nats of github.com/nats-io/k8s at the tag nats-<version>), by NATS_CHART. */
export function natsChartAtHand(env: NodeJS.ProcessEnv = process.env): ChartAtHand {
  return chartAtHand({ ...NATS_CHART, variable: 'NATS_CHART' }, env);
}

/** Runs the helm of the kube tools; a failure throws with what helm printed. */
export function runHelm(args: readonly string[]): string {
  try {
    return execFileSync(helmPath(), args, {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`helm ${args.join(' ')} failed: ${[stdout, stderr].filter(Boolean).join('\n').trim()}`);
  }
}

function valuesArgs(environment: NatsEnvironment, valuesDir: string): string[] {
  return valuesFilesOf(environment).flatMap((file) => ['-f', path.join(valuesDir, path.basename(file))]);
}

/** `helm lint --strict` of the chart with the environment's values; throws with helm's output when it fails. */
export function helmLint(
  chartDir: string,
  environment: NatsEnvironment,
  valuesDir: string = repoPath(NATS_VALUES_DIR),
): string {
  return runHelm([
    'lint',
    '--strict',
    chartDir,
    '--namespace',
    namespaceOf(environment),
    ...valuesArgs(environment, valuesDir),
  ]);
}

/** The objects `helm template` renders for the environment's release. */
export function helmTemplate(
  chartDir: string,
  environment: NatsEnvironment,
  valuesDir: string = repoPath(NATS_VALUES_DIR),
): LoadedManifests {
  const output = runHelm([
    'template',
    NATS_RELEASE,
    chartDir,
    '--namespace',
    namespaceOf(environment),
    ...valuesArgs(environment, valuesDir),
  ]);
  return parseManifestText(`helm template ${environment}`, output);
}

const NATS_SERVER_SCRIPT = 'tools/scripts/nats-server.sh';

/** The nats-server version the tests run: the one tools/scripts/nats-server.sh fetches (read from the values). */
export function testedNatsServerVersion(): string {
  return execFileSync('bash', [repoPath(NATS_SERVER_SCRIPT), '--version'], { encoding: 'utf8' }).trim();
}

/** The path of that nats-server, from the script (which fetches it first where it can). */
export function testedNatsServer(): string {
  return execFileSync('bash', [repoPath(NATS_SERVER_SCRIPT)], { encoding: 'utf8' }).trim();
}
