/**
 * NATS per environment, from the official chart `nats` 2.14.2: each environment's layered values checked
 * against the chart's keys (the fact file) and against what the blog needs of them; one nats-server version
 * tested and deployed; and, where the chart is at hand (NATS_CHART=<its folder>), `helm lint` and
 * `helm template` of each environment, every rendered pod held to the restricted Pod Security level and the
 * rendered server configuration to `nats-server -t` of the tested version.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NATS_ACCOUNT, NATS_ADMIN_USER, NATS_BUS_USER } from '@blog/common/nats';
import {
  expectedRouteUrls,
  NATS_CONTAINERS,
  NATS_PASSWORD_SOURCES,
  natsValuesProblems,
  valueAt,
} from '../src/checks/nats-values';
import { parseQuantity } from '../src/checks/hardening';
import { podSecurityProblems } from '../src/checks/pod-security';
import { ofKind, type Manifest } from '../src/manifests';
import {
  chartKeysFile,
  chartKeysText,
  helmLint,
  helmTemplate,
  isValuesMap,
  layerValues,
  loadChartKeys,
  NATS_CHART,
  NATS_ENVIRONMENTS,
  natsChartAtHand,
  natsValuesOf,
  parseChartKeys,
  skaffoldNatsReleaseProblems,
  testedNatsServer,
  testedNatsServerVersion,
  unknownKeys,
  type NatsEnvironment,
  type Values,
} from '../src/nats-chart';
import { readRepoFile } from '../src/repo';
import { schemaProblems } from './support/variants';

const testedVersion = testedNatsServerVersion();
const chartKeys = loadChartKeys();

/** A deep copy of an environment's values with `path` set to `value` (undefined: removed). */
function changed(environment: NatsEnvironment, edits: Record<string, unknown>): Values {
  const values = structuredClone(natsValuesOf(environment));
  for (const [at, value] of Object.entries(edits)) {
    const keys = at.split('|');
    const last = keys.pop() ?? '';
    let node: Values = values;
    for (const key of keys) {
      if (!isValuesMap(node[key])) node[key] = {};
      node = node[key] as Values;
    }
    if (value === undefined) delete node[last];
    else node[last] = value;
  }
  return values;
}

describe("each environment's NATS values (infra/helm/nats: values.yaml, then <env>.yaml, as helm layers them)", () => {
  it.each(NATS_ENVIRONMENTS)(
    `%s: sets only keys of the chart ${NATS_CHART.name} ${NATS_CHART.version}`,
    (environment) => {
      expect(unknownKeys(natsValuesOf(environment), chartKeys)).toEqual([]);
    },
  );

  it.each(NATS_ENVIRONMENTS)(
    '%s: the tested image, requests = limits and GOMEMLIMIT, the restricted level, spread, exporter, routes and passwords from the environment, no secret value',
    (environment) => {
      expect(natsValuesProblems(environment, natsValuesOf(environment), { testedVersion })).toEqual([]);
    },
  );

  it('size the servers per environment: dev the smallest, production the largest', () => {
    const memory = (environment: NatsEnvironment) =>
      parseQuantity(String(valueAt(natsValuesOf(environment), 'container.resources.limits.memory')));
    const [dev, staging, production] = NATS_ENVIRONMENTS.map(memory) as [number, number, number];
    expect(dev).toBeLessThan(staging);
    expect(staging).toBeLessThan(production);
  });

  it.each(NATS_ENVIRONMENTS)(
    '%s: 3 clustered servers, JetStream on file storage in PVCs fsynced before each acknowledgement, a disruption budget',
    (environment) => {
      const values = natsValuesOf(environment);
      expect(valueAt(values, 'config.cluster')).toMatchObject({ enabled: true, replicas: 3 });
      expect(valueAt(values, 'config.jetstream')).toMatchObject({
        enabled: true,
        fileStore: { enabled: true, pvc: { enabled: true } },
        merge: { sync_interval: 'always' },
      });
      expect(valueAt(values, 'podDisruptionBudget.enabled')).toBe(true);
    },
  );

  it("give the blog's account JetStream and its two users, passwords read from the environment the Secrets fill", () => {
    const values = natsValuesOf('production');
    const account = valueAt(values, `config.merge.accounts.${NATS_ACCOUNT}`) as {
      jetstream: string;
      users: { user: string; password: string }[];
    };
    expect(account.jetstream).toBe('enabled');
    expect(account.users.map(({ user, password }) => [user, password])).toEqual([
      [NATS_ADMIN_USER, '<< $NATS_ADMIN_PASSWORD >>'],
      [NATS_BUS_USER, '<< $NATS_PASSWORD >>'],
    ]);
    expect(Object.keys(NATS_PASSWORD_SOURCES).sort()).toEqual(
      ['NATS_ADMIN_PASSWORD', 'NATS_PASSWORD', 'NATS_ROUTE_PASSWORD'].sort(),
    );
    expect(valueAt(values, 'config.cluster.merge.authorization.password')).toBe('<< $NATS_ROUTE_PASSWORD >>');
  });

  it("let the bus's user publish events and read, never create, update, purge or delete the event stream", () => {
    const users = valueAt(natsValuesOf('production'), `config.merge.accounts.${NATS_ACCOUNT}.users`) as {
      user: string;
      permissions?: { publish?: { allow?: string[] }; subscribe?: { allow?: string[] } };
    }[];
    const allowed = users.find((user) => user.user === NATS_BUS_USER)?.permissions;
    const publish = allowed?.publish?.allow ?? [];
    expect(publish).toContain('blog_events.events');
    expect(
      publish.filter(
        (subject) =>
          /^\$JS\.API\.STREAM\.(CREATE|UPDATE|DELETE)\b|^\$JS\.API\.STREAM\.PURGE\.BLOG_EVENTS$|^>$|\.>$/.test(
            subject,
          ) && !/^\$(KV|O|JS\.FC|JS\.API\.(DIRECT\.GET|CONSUMER))\./.test(subject),
      ),
    ).toEqual([]);
    expect(publish.some((subject) => subject === '>' || subject.startsWith('$JS.API.>') || subject === '$JS.>')).toBe(
      false,
    );
    // No single-token wildcard either, and no deletes of single messages.
    expect(
      publish.filter(
        (subject) => subject.split('.').includes('*') || /^\$JS\.API\.STREAM\.MSG\.DELETE\./.test(subject),
      ),
    ).toEqual([]);
    expect(allowed?.subscribe?.allow).toEqual(['_INBOX.>']);
  });
});

describe('one nats-server version, tested and deployed', () => {
  it('tools/scripts/nats-server.sh fetches the version of the image every environment deploys', () => {
    expect(testedVersion).toMatch(/^\d+\.\d+\.\d+$/);
    for (const environment of NATS_ENVIRONMENTS)
      expect([environment, valueAt(natsValuesOf(environment), 'container.image.tag')]).toEqual([
        environment,
        `${testedVersion}-alpine`,
      ]);
  });

  it("the cluster fault suite's committed results (npm run test:cluster) ran on it", () => {
    const results = readRepoFile('tools/e2e/results/cluster-faults.md');
    expect(/nats-server: v(\d+\.\d+\.\d+)/.exec(results)?.[1]).toBe(testedVersion);
  });

  it('the fact file is of the chart version deployed', () => {
    expect(chartKeys.version).toBe(NATS_CHART.version);
    expect(chartKeysFile()).toBe(`tools/deploy-checks/facts/nats-chart-${NATS_CHART.version}.keys.txt`);
  });
});

describe("a skaffold release of an environment's NATS", () => {
  const release = (environment: NatsEnvironment): Record<string, unknown> => ({
    name: 'nats',
    remoteChart: 'nats',
    repo: 'https://nats-io.github.io/k8s/helm/charts/',
    version: '2.14.2',
    namespace: `blog-${environment}`,
    valuesFiles: ['infra/helm/nats/values.yaml', `infra/helm/nats/${environment}.yaml`],
    wait: true,
  });

  it.each(NATS_ENVIRONMENTS)(
    '%s: the chart at the checked version, its namespace, its values files in order',
    (environment) => {
      expect(skaffoldNatsReleaseProblems(release(environment), environment)).toEqual([]);
    },
  );

  it('is refused with another version, the files in the other order, another namespace, or a value set outside them', () => {
    const wrong = {
      ...release('staging'),
      version: '2.14.3',
      namespace: 'default',
      valuesFiles: ['infra/helm/nats/staging.yaml', 'infra/helm/nats/values.yaml'],
      setValueTemplates: { 'config.cluster.routeURLs.password': '{{.PASSWORD}}' },
    };
    expect(skaffoldNatsReleaseProblems(wrong, 'staging')).toEqual([
      'NATS release for staging: version is "2.14.3", expected "2.14.2"',
      'NATS release for staging: namespace is "default", expected "blog-staging"',
      'NATS release for staging: valuesFiles is ["infra/helm/nats/staging.yaml","infra/helm/nats/values.yaml"], expected ["infra/helm/nats/values.yaml","infra/helm/nats/staging.yaml"]',
      'NATS release for staging: setValueTemplates is set: values belong in the checked values files',
    ]);
  });
});

describe('the NATS values checks catch', () => {
  const problems = (environment: NatsEnvironment, values: Values) =>
    natsValuesProblems(environment, values, { testedVersion });

  it("a typo'd key, at the top or deep, but nothing under the chart's free-form maps and lists", () => {
    const typos = changed('production', {
      'promExporter|podMonitr|enabled': true,
      'container|imag|tag': 'x',
      'podTemplat|merge': {},
      'config|cluster|routeUrls': {},
    });
    expect(unknownKeys(typos, chartKeys)).toEqual([
      'config.cluster.routeUrls',
      'container.imag',
      'promExporter.podMonitr',
      'podTemplat',
    ]);
    const freeForm = changed('production', {
      'container|merge|anything|below': 1,
      'config|merge|max_payload': '<< 2MB >>',
      'config|cluster|patch': [{ op: 'add', path: '/x', value: 1 }],
      'container|env|EXTRA': 'value',
    });
    expect(unknownKeys(freeForm, chartKeys)).toEqual([]);
  });

  it('reads the fact file strictly: a marker it does not know, no chart version', () => {
    expect(() => parseChartKeys('# chart nats 1.0.0 from x\na.b {}\na.c ??\n')).toThrow(/a\.c \?\?/);
    expect(() => parseChartKeys('a.b\n')).toThrow(/no chart version/);
    const keys = parseChartKeys(chartKeysText('a:\n  b: {}\n  c: []\n  d:\n    e: 1\n', '1.0.0'));
    expect([keys.version, [...keys.keys], [...keys.freeForm]]).toEqual([
      '1.0.0',
      ['a', 'a.b', 'a.c', 'a.d', 'a.d.e'],
      ['a.b', 'a.c'],
    ]);
  });

  it('layers values as helm does: maps merged, lists and scalars replaced', () => {
    expect(layerValues({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: null })).toEqual({
      a: { b: 1, c: [3] },
      d: null,
    });
  });

  it('an image other than the tested version, or from elsewhere', () => {
    expect(
      problems('dev', changed('dev', { 'container|image|tag': '2.14.2-alpine', 'container|image|registry': 'r' })),
    ).toEqual([
      `container.image.tag is "2.14.2-alpine", not ${testedVersion}-alpine (the version the tests run)`,
      "container.image sets registry: the chart's image (nats) is the one tested",
    ]);
  });

  it('requests below limits, a missing request, a GOMEMLIMIT not 80% of the memory limit', () => {
    const values = changed('staging', {
      'container|resources|requests|cpu': '500m',
      'reloader|merge|resources|requests': { cpu: '50m' },
      'container|env|GOMEMLIMIT': '2GiB',
    });
    expect(problems('staging', values)).toEqual([
      'container: resources.requests.cpu "500m" is not its limit "1"',
      'reloader: resources.requests.memory and resources.limits.memory must both be set',
      'container.env.GOMEMLIMIT is "2GiB", expected 1638MiB (80% of the memory limit "2Gi")',
    ]);
  });

  it('a container without the restricted securityContext, a pod without a uid or seccomp, natsBox on', () => {
    const values = changed('production', {
      'promExporter|merge|securityContext': { readOnlyRootFilesystem: true },
      'podTemplate|merge|spec|securityContext': { runAsNonRoot: true },
      'natsBox|enabled': true,
    });
    expect(problems('production', values)).toEqual([
      'production NATS pod container nats: seccompProfile.type is not RuntimeDefault or Localhost (pod or container securityContext)',
      'production NATS pod container reloader: seccompProfile.type is not RuntimeDefault or Localhost (pod or container securityContext)',
      'production NATS pod container prom-exporter: securityContext.allowPrivilegeEscalation is not false',
      'production NATS pod container prom-exporter: securityContext.capabilities.drop does not include ALL',
      'production NATS pod container prom-exporter: seccompProfile.type is not RuntimeDefault or Localhost (pod or container securityContext)',
      'production NATS pod container nats: no runAsUser (the image sets no user: it would run as root)',
      'production NATS pod container reloader: no runAsUser (the image sets no user: it would run as root)',
      'production NATS pod container prom-exporter: no runAsUser (the image sets no user: it would run as root)',
      'natsBox.enabled is not false (its pod is not locked down)',
    ]);
  });

  it('production without its zone spread or with a soft one, the exporter off, a PodMonitor in dev', () => {
    expect(
      problems(
        'production',
        changed('production', { 'podTemplate|topologySpreadConstraints|topology.kubernetes.io/zone': undefined }),
      ),
    ).toEqual(['podTemplate.topologySpreadConstraints has no topology.kubernetes.io/zone']);
    const soft = changed('production', {
      'podTemplate|topologySpreadConstraints|topology.kubernetes.io/zone|whenUnsatisfiable': 'ScheduleAnyway',
    });
    expect(problems('production', soft)).toEqual([
      'podTemplate.topologySpreadConstraints.topology.kubernetes.io/zone is not maxSkew 1, DoNotSchedule',
    ]);
    expect(problems('dev', changed('dev', { 'promExporter|podMonitor|enabled': true }))).toEqual([
      'promExporter.podMonitor.enabled should be false in dev',
    ]);
    expect(problems('staging', changed('staging', { 'promExporter|enabled': false }))).toEqual([
      'promExporter.enabled is not true',
    ]);
  });

  it('a literal password: in a key, a route URL, a variable not read from a Secret', () => {
    const values = changed('production', {
      'config|cluster|routeURLs|user': 'blog-route',
      'config|cluster|routeURLs|password': 'local-development-only-route',
      'container|env|NATS_PASSWORD': 'hunter2',
      'config|merge|leafnodes': { remotes: [{ url: 'nats-leaf://leaf:s3cret@example.com:7422' }] },
    });
    expect(problems('production', values)).toEqual([
      'config.cluster.routeURLs.user/password are set: the chart writes them into the ConfigMap',
      'container.env.NATS_PASSWORD is not read from the Secret nats-credentials, key NATS_PASSWORD',
      'config.cluster.routeURLs.password holds a literal secret',
      'config.merge.leafnodes.remotes.0.url holds a URL with a literal password',
      'container.env.NATS_PASSWORD is a literal, not from a Secret',
    ]);
  });

  it('routes: a server missing from the URLs, a $(VAR) listed after its user, a config variable nobody sets', () => {
    const [first, second] = expectedRouteUrls(natsValuesOf('dev'));
    const values = changed('dev', {
      'container|env|NATS_ROUTE_URLS': JSON.stringify([first, second]),
      'container|env|A_URL': '$(NATS_ROUTE_PASSWORD)',
      'config|merge|authorization': { token: '<< $NATS_TOKEN >>' },
    });
    expect(problems('dev', values)).toEqual([
      `container.env.NATS_ROUTE_URLS is ${JSON.stringify(JSON.stringify([first, second]))}, expected the list ${JSON.stringify(expectedRouteUrls(values))}`,
      'config.merge.authorization.token reads $NATS_TOKEN, which container.env does not set',
      'container.env.A_URL names $(NATS_ROUTE_PASSWORD), which is not listed before it',
    ]);
  });
});

const chart = natsChartAtHand();

/**
 * The chart cannot be fetched in CI, so these run where NATS_CHART names it (.ci/run's machine does not have
 * it). Without it the block holds one test that states so, rather than tests skipped without a word; with
 * NATS_CHART set to anything but the chart at its version, natsChartAtHand throws and the file fails.
 */
describe(`helm lint and helm template of each environment (${chart.dir ? `the chart at ${chart.dir}` : 'chart not at hand'})`, () => {
  if ('reason' in chart) {
    it('says the chart is not at hand, and why', () => {
      console.info(`not rendered: ${chart.reason}`);
      expect(chart.reason).toMatch(/^NATS_CHART is not set/);
    });
    return;
  }
  const chartDir = chart.dir;

  it("the fact file lists the keys of the chart's values.yaml", () => {
    expect(readRepoFile(chartKeysFile())).toBe(
      chartKeysText(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8'), NATS_CHART.version),
    );
  });

  describe.each(NATS_ENVIRONMENTS)('%s', (environment) => {
    const rendered = helmTemplate(chartDir, environment);
    const statefulSet = ofKind(rendered.manifests, 'StatefulSet');
    const template = statefulSet[0]?.typed.spec?.template;
    const pod = template?.spec;

    it('helm lint --strict passes', () => {
      expect(() => helmLint(chartDir, environment)).not.toThrow();
    });

    it('renders the servers, their Services, budget and configuration, each valid strictly; a PodMonitor where Prometheus runs', () => {
      expect(rendered.problems).toEqual([]);
      const kinds = rendered.manifests.map(
        (manifest: Manifest) => `${String(manifest.object.kind)}/${String(manifest.object.metadata?.name)}`,
      );
      expect(kinds.sort()).toEqual(
        [
          'ConfigMap/nats-config',
          'Service/nats',
          'Service/nats-headless',
          'StatefulSet/nats',
          'PodDisruptionBudget/nats',
          ...(environment === 'dev' ? [] : ['PodMonitor/nats']),
        ].sort(),
      );
      expect(schemaProblems(rendered.manifests.filter((manifest) => manifest.object.kind !== 'PodMonitor'))).toEqual(
        [],
      );
    });

    it('every NATS pod passes the restricted Pod Security level; each container is Guaranteed, the server the tested image', () => {
      expect(pod).toBeDefined();
      if (!pod) return;
      expect(
        podSecurityProblems(pod, `${environment} StatefulSet/nats`, template?.metadata?.annotations ?? {}),
      ).toEqual([]);
      expect(pod.containers.map((container) => container.name)).toEqual(Object.values(NATS_CONTAINERS));
      for (const container of pod.containers) {
        const { requests = {}, limits = {} } = container.resources ?? {};
        expect([container.name, requests]).toEqual([container.name, limits]);
        expect(Object.keys(limits).sort()).toEqual(['cpu', 'memory']);
      }
      expect(pod.containers[0]?.image).toBe(`nats:${testedVersion}-alpine`);
    });

    it('writes no password into the configuration: nats-server -t of the tested version accepts it with the variables set', () => {
      const config = ofKind(rendered.manifests, 'ConfigMap')[0]?.typed.data?.['nats.conf'] ?? '';
      expect(config.match(/"password":\s*[^,\n]+/g)?.sort()).toEqual(
        ['"password": $NATS_ADMIN_PASSWORD', '"password": $NATS_PASSWORD', '"password": $NATS_ROUTE_PASSWORD'].sort(),
      );
      const env = pod?.containers[0]?.env ?? [];
      const variables: Record<string, string> = { SERVER_NAME: 'nats-0' };
      for (const { name, value, valueFrom } of env) {
        if (valueFrom?.secretKeyRef) variables[name] = `test-${name.toLowerCase().replace(/_/g, '-')}`;
        else if (value !== undefined)
          variables[name] = value.replace(/\$\((\w+)\)/g, (_, ref: string) => variables[ref] ?? '');
      }
      const dir = mkdtempSync(path.join(os.tmpdir(), 'nats-conf-'));
      try {
        const file = path.join(dir, 'nats.conf');
        writeFileSync(file, config);
        const checked = spawnSync(testedNatsServer(), ['-t', '-c', file], {
          encoding: 'utf8',
          env: { PATH: process.env.PATH, ...variables },
        });
        expect([checked.status, `${checked.stdout}${checked.stderr}`]).toEqual([0, expect.stringMatching(/is valid/)]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
