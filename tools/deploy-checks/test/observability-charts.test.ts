/**
 * The observability releases (src/observability-charts.ts): each chart's values hold only keys of the pinned
 * chart (its fact file), skaffold and Argo CD install the same charts, versions and values, the Collector
 * exports to Tempo's Service and Fluent Bit to Loki's; and where a chart is at hand (its variable, e.g.
 * OTEL_COLLECTOR_CHART=<folder>), `helm lint --strict` and `helm template`, the rendered objects valid
 * strictly, the names and ports the blog's settings rely on, the pods of the Collector, Tempo and Loki at the
 * restricted Pod Security level.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { OTEL_COLLECTOR, OTEL_COLLECTOR_SERVICE } from '../src/checks/network';
import { podSecurityProblems } from '../src/checks/pod-security';
import { parseClassicConfig } from '../src/log-pipeline/fluent-bit';
import { ofKind, parseManifestText, workloads, type Manifest, type PodSpec } from '../src/manifests';
import { chartKeysFile, chartKeysText, isValuesMap, type Values } from '../src/nats-chart';
import {
  chartAtHand,
  helmLint,
  helmTemplate,
  OBSERVABILITY_APPLICATION,
  OBSERVABILITY_CHARTS,
  OBSERVABILITY_NAMESPACE,
  OBSERVABILITY_SKAFFOLD,
  observabilityChart,
  skaffoldReleaseProblems,
  unknownValueKeys,
  valuesFileOf,
  valuesOf,
  type ObservabilityChart,
} from '../src/observability-charts';
import { readRepoFile } from '../src/repo';
import { schemaProblems } from './support/variants';

const byRelease = OBSERVABILITY_CHARTS.map((chart) => [chart.release, chart] as const);

/** A value of the values by a dotted path whose keys may hold dots themselves when quoted: ['a', 'b.c']. */
function at(values: Values, keys: readonly string[]): unknown {
  return keys.reduce<unknown>((node, key) => (isValuesMap(node) ? node[key] : undefined), values);
}

interface SkaffoldRelease extends Record<string, unknown> {
  valuesFiles?: string[];
}

/** The releases of the skaffold config, values files made repo-relative (skaffold reads them from the config's folder). */
function skaffoldReleases(): SkaffoldRelease[] {
  const config = parse(readRepoFile(OBSERVABILITY_SKAFFOLD)) as { deploy: { helm: { releases: SkaffoldRelease[] } } };
  const dir = path.posix.dirname(OBSERVABILITY_SKAFFOLD);
  return config.deploy.helm.releases.map((release) => ({
    ...release,
    valuesFiles: release.valuesFiles?.map((file) => path.posix.join(dir, file)),
  }));
}

interface ArgoSource {
  repoURL: string;
  chart?: string;
  targetRevision: string;
  ref?: string;
  helm?: { releaseName?: string; valueFiles?: string[] };
}

const application = parse(readRepoFile(OBSERVABILITY_APPLICATION)) as {
  spec: { sources: ArgoSource[]; destination: { namespace: string } };
};

describe('the observability releases', () => {
  it.each(byRelease)("%s: sets only keys of its chart's version", (_release, chart) => {
    expect(unknownValueKeys(chart)).toEqual([]);
  });

  it('are installed by skaffold in order (each backend before what sends to it), from their repositories at the pinned versions', () => {
    const releases = skaffoldReleases();
    expect(releases.map((release) => release.name)).toEqual(OBSERVABILITY_CHARTS.map((chart) => chart.release));
    expect(
      releases.flatMap((release) => skaffoldReleaseProblems(release, observabilityChart(String(release.name)))),
    ).toEqual([]);
  });

  it('are installed by Argo CD the same way, into monitoring, values from this repository', () => {
    const { manifests, problems } = parseManifestText(
      OBSERVABILITY_APPLICATION,
      readRepoFile(OBSERVABILITY_APPLICATION),
    );
    expect(problems).toEqual([]);
    expect(schemaProblems(manifests)).toEqual([]);
    expect(application.spec.destination.namespace).toBe(OBSERVABILITY_NAMESPACE);
    const charts = application.spec.sources.filter((source) => source.chart !== undefined);
    expect(
      charts.map((source) => ({
        release: source.helm?.releaseName,
        name: source.chart,
        repo: source.repoURL,
        version: source.targetRevision,
        values: source.helm?.valueFiles,
      })),
    ).toEqual(
      OBSERVABILITY_CHARTS.map((chart) => ({
        release: chart.release,
        name: chart.name,
        repo: chart.repo,
        version: chart.version,
        values: [`$values/${valuesFileOf(chart)}`],
      })),
    );
    expect(application.spec.sources.filter((source) => source.ref === 'values')).toHaveLength(1);
  });

  it("have the Collector send to Tempo's OTLP/gRPC port and Fluent Bit to Loki's HTTP port, by Service name", () => {
    const collector = valuesOf(observabilityChart('otel-collector'));
    expect(at(collector, ['fullnameOverride'])).toBe(OTEL_COLLECTOR_SERVICE.name);
    expect(at(collector, ['config', 'exporters', 'otlp_grpc/tempo', 'endpoint'])).toBe(
      `tempo.${OBSERVABILITY_NAMESPACE}.svc.cluster.local:4317`,
    );
    expect(at(collector, ['config', 'service', 'pipelines', 'traces'])).toEqual({
      receivers: ['otlp'],
      processors: ['memory_limiter', 'batch'],
      exporters: ['otlp_grpc/tempo'],
    });
    const [output] = parseClassicConfig(String(at(valuesOf(observabilityChart('fluent-bit')), ['config', 'outputs'])));
    expect(output?.properties.filter(([key]) => key === 'host' || key === 'port')).toEqual([
      ['host', `loki.${OBSERVABILITY_NAMESPACE}.svc.cluster.local`],
      ['port', '3100'],
    ]);
  });

  it('catch a key the chart does not have, and a release installed otherwise than checked', () => {
    const tempo = observabilityChart('tempo');
    const typo = valuesOf(tempo, readRepoFile(valuesFileOf(tempo)).replace('retention:', 'retension:'));
    expect(unknownValueKeys(tempo, typo)).toEqual(['tempo.retension']);
    const [first = {}] = skaffoldReleases();
    expect(skaffoldReleaseProblems({ ...first, version: '2.2.3', setValues: { x: 1 } }, tempo)).toEqual([
      'release tempo: version is "2.2.3", expected "2.2.4"',
      'release tempo: setValues is set: values belong in the checked values file',
    ]);
  });
});

/** The pods of a render, each against the restricted Pod Security level. */
function restrictedProblems(manifests: readonly Manifest[]): string[] {
  return workloads(manifests).flatMap((workload) =>
    podSecurityProblems(workload.pod, `${workload.kind}/${workload.name}`, workload.template.metadata?.annotations),
  );
}

const servicePorts = (manifests: readonly Manifest[], name: string) =>
  ofKind(manifests, 'Service')
    .find((service) => service.name === name)
    ?.typed.spec?.ports?.map((port) => port.port)
    .sort();

/** What each release must render besides valid objects. */
const RENDERED: Record<string, (manifests: readonly Manifest[], chart: ObservabilityChart) => void> = {
  'otel-collector': (manifests) => {
    expect(servicePorts(manifests, OTEL_COLLECTOR_SERVICE.name)).toEqual([...OTEL_COLLECTOR_SERVICE.ports].sort());
    const [deployment] = workloads(manifests);
    expect(deployment?.labels).toMatchObject(OTEL_COLLECTOR.labels);
    expect(restrictedProblems(manifests)).toEqual([]);
  },
  tempo: (manifests) => {
    expect(servicePorts(manifests, 'tempo')).toEqual(expect.arrayContaining([3200, 4317]));
    expect(restrictedProblems(manifests)).toEqual([]);
  },
  loki: (manifests) => {
    expect(servicePorts(manifests, 'loki')).toEqual(expect.arrayContaining([3100]));
    expect(workloads(manifests).map((workload) => workload.kind)).toEqual(['StatefulSet']);
    expect(manifests.filter((manifest) => manifest.object.kind === 'ClusterRole')).toEqual([]);
    expect(restrictedProblems(manifests)).toEqual([]);
  },
  'fluent-bit': (manifests, chart) => {
    const config = ofKind(manifests, 'ConfigMap').find((configMap) => configMap.name === 'fluent-bit')?.typed.data;
    const values = valuesOf(chart);
    for (const section of ['inputs', 'filters', 'outputs'])
      expect(config?.['fluent-bit.conf']).toContain(String(at(values, ['config', section])).trim());
    const daemonSets = manifests.filter((manifest) => manifest.object.kind === 'DaemonSet');
    expect(daemonSets).toHaveLength(1);
    const pod = (daemonSets[0]?.object.spec as { template: { spec: PodSpec } }).template.spec;
    const mounts = pod.containers[0]?.volumeMounts?.map(({ mountPath, readOnly }) => [mountPath, readOnly === true]);
    expect(mounts).toEqual(
      expect.arrayContaining([
        ['/var/log', true],
        ['/var/lib/fluent-bit-blog', false],
      ]),
    );
  },
};

/**
 * The charts cannot be fetched in CI, so these run where a chart's variable names it. Without it the block
 * holds one test that states so; with the variable set to anything but the chart at its version, chartAtHand
 * throws and the file fails.
 */
describe.each(byRelease)('helm lint and helm template of %s', (release, chart) => {
  const found = chartAtHand(chart);
  if ('reason' in found) {
    it('says the chart is not at hand, and why', () => {
      console.info(`not rendered: ${found.reason}`);
      expect(found.reason).toMatch(new RegExp(`^${chart.variable} is not set`));
    });
    return;
  }
  const chartDir = found.dir;

  it("the fact file lists the keys of the chart's values.yaml", () => {
    expect(readRepoFile(chartKeysFile(chart.version, chart.name))).toBe(
      chartKeysText(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8'), chart.version, chart),
    );
  });

  it('helm lint --strict passes', () => {
    expect(() => helmLint(chart, chartDir)).not.toThrow();
  });

  it('renders objects valid strictly, with the names and ports the blog relies on', () => {
    const rendered = helmTemplate(chart, chartDir);
    expect(rendered.problems).toEqual([]);
    expect(schemaProblems(rendered.manifests)).toEqual([]);
    RENDERED[release]?.(rendered.manifests, chart);
  });
});
