/**
 * The route rules of the manifests are written by `npm run generate` from PUBLIC_ROUTES, and the bus's NATS
 * permissions in the chart's values from natsBusPermissions: the committed files are what it writes, and what
 * it writes follows its source.
 */
import { PUBLIC_ROUTES, type PublicRoute } from '@blog/common';
import { DEFAULT_NATS_STREAM, NATS_BUS_USER, natsBusPermissions } from '@blog/common/nats';
import { parse, parseAllDocuments } from 'yaml';
import { COURSE_COPIES, copyNote, generateCourseCopies } from '../src/generate/course-copies';
import { generatedFiles } from '../src/generate/files';
import { ALERT_RULES_FILE, PROMETHEUS_RULE_FILE } from '../src/generate/prometheus-rule';
import { generateNatsValuesFile, NATS_PERMISSIONS_NOTE, NATS_VALUES_FILE } from '../src/generate/nats-values';
import {
  backendService,
  GATEWAY_FILE,
  GENERATED_NOTE,
  gatewayPathValue,
  generateRouteFiles,
  INGRESS_FILE,
} from '../src/generate/routes';
import { loadManifests, mutatedCopy, setField as set } from '../src/manifests';
import { readRepoFile } from '../src/repo';

const { manifests } = loadManifests();

/** The first line where two texts differ, for the message. */
function firstDifference(committed: string, generated: string): string {
  const a = committed.split('\n');
  const b = generated.split('\n');
  const line = a.findIndex((text, index) => text !== b[index]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1}: committed ${JSON.stringify(a[at] ?? '')}, generated ${JSON.stringify(b[at] ?? '')}`;
}

/** The generated files' objects by kind/name, with `read` giving each file's committed text. */
function generatedObjects(
  routes: readonly PublicRoute[],
  read: (file: string) => string = readRepoFile,
): Map<string, Record<string, unknown>> {
  const objects = new Map<string, Record<string, unknown>>();
  for (const { text } of generateRouteFiles(routes, read)) {
    const docs = parseAllDocuments(text);
    if (!Array.isArray(docs)) throw new Error('not a YAML stream');
    for (const doc of docs) {
      const object = doc.toJS() as { kind: string; metadata: { name: string } };
      objects.set(`${object.kind}/${object.metadata.name}`, object);
    }
  }
  return objects;
}

const ingressPaths = (object: Record<string, unknown> | undefined) =>
  (
    (
      object?.spec as {
        rules: {
          http: { paths: { path: string; backend: { service: { name: string; port: { number: number } } } }[] };
        }[];
      }
    ).rules[0]?.http.paths ?? []
  ).map((entry) => `${entry.path} → ${entry.backend.service.name}:${entry.backend.service.port.number}`);
const httpRouteRules = (object: Record<string, unknown> | undefined) =>
  (
    (
      object?.spec as {
        rules: {
          matches: { path: { value: string } }[];
          backendRefs: { name: string; port: number }[];
          filters?: unknown[];
        }[];
      }
    ).rules ?? []
  ).map(
    (rule) =>
      `${rule.matches[0]?.path.value ?? ''} → ${rule.backendRefs[0]?.name ?? ''}:${rule.backendRefs[0]?.port ?? ''}${rule.filters ? ' (filtered)' : ''}`,
  );

/** How many lines of the committed file are the note. */
const notes = (file: string, note: string) =>
  readRepoFile(file)
    .split('\n')
    .filter((line) => line.trim() === `# ${note}`).length;

describe('the generated files', () => {
  it("are the route files, their copies in the course's infra/k8s and the NATS chart values", () => {
    expect(generatedFiles().map((generated) => generated.file)).toEqual([
      INGRESS_FILE,
      GATEWAY_FILE,
      ...COURSE_COPIES.map(({ copy }) => copy),
      NATS_VALUES_FILE,
      PROMETHEUS_RULE_FILE,
    ]);
  });

  it.each(generatedFiles().map((generated) => [generated.file, generated.from, generated.text]))(
    '%s is as `npm run generate` writes it',
    (file, from, text) => {
      const committed = readRepoFile(file);
      if (committed !== text)
        throw new Error(
          `${file} is not what the generator writes from ${from} (${firstDifference(committed, text)}): run npm run generate`,
        );
    },
  );
});

describe('the generated route rules', () => {
  it('marks each generated section (one per Ingress, one per HTTPRoute) with a note naming the command', () => {
    expect([notes(INGRESS_FILE, GENERATED_NOTE), notes(GATEWAY_FILE, GENERATED_NOTE)]).toEqual([2, 2]);
  });

  it('puts the streams on the objects of their own and every other route on the others, each to its Service', () => {
    const objects = generatedObjects(PUBLIC_ROUTES);
    expect(ingressPaths(objects.get('Ingress/ingress-srv'))).toEqual([
      '/posts/create → posts-clusterip-srv:4000',
      '/posts/?(.*)/comments → comments-srv:4001',
      '/posts/?(.*) → query-srv:4002',
      '/?(.*) → client-srv:3000',
    ]);
    expect(ingressPaths(objects.get('Ingress/ingress-stream'))).toEqual(['/posts/stream → query-srv:4002']);
    expect(httpRouteRules(objects.get('HTTPRoute/blog-routes'))).toEqual([
      '/(?i)posts/create → posts-clusterip-srv:4000',
      '/(?i)posts/?(.*)/comments → comments-srv:4001',
      '/(?i)posts/?(.*) → query-srv:4002',
      '/?(.*) → client-srv:3000',
    ]);
    expect(httpRouteRules(objects.get('HTTPRoute/blog-stream'))).toEqual([
      '/(?i)posts/stream → query-srv:4002 (filtered)',
    ]);
  });

  it('follows a changed table: another backend, a new stream', () => {
    const changed: PublicRoute[] = [
      ...PUBLIC_ROUTES.map((route) =>
        route.path === '/posts/create' ? { ...route, backend: 'comments' as const } : route,
      ),
      { path: '/posts/live', backend: 'query', stream: true },
    ];
    const objects = generatedObjects(changed);
    expect(ingressPaths(objects.get('Ingress/ingress-srv'))[0]).toBe('/posts/create → comments-srv:4001');
    expect(ingressPaths(objects.get('Ingress/ingress-stream'))).toEqual([
      '/posts/stream → query-srv:4002',
      '/posts/live → query-srv:4002',
    ]);
    expect(httpRouteRules(objects.get('HTTPRoute/blog-stream'))).toEqual([
      '/(?i)posts/stream → query-srv:4002 (filtered)',
      '/(?i)posts/live → query-srv:4002 (filtered)',
    ]);
  });

  it('writes only its sections: a hand edit elsewhere stays, one inside a section is undone', () => {
    const committed = readRepoFile(INGRESS_FILE);
    const annotated = committed.replace('limit-rps: "10"', 'limit-rps: "20"');
    const rerouted = committed.replace('name: posts-clusterip-srv', 'name: comments-srv');
    expect(annotated).not.toBe(committed);
    expect(rerouted).not.toBe(committed);
    const generate = (text: string) =>
      generateRouteFiles(PUBLIC_ROUTES, (file) => (file === INGRESS_FILE ? text : readRepoFile(file))).find(
        (generated) => generated.file === INGRESS_FILE,
      )?.text;
    expect(generate(annotated)).toBe(annotated);
    expect(generate(rerouted)).toBe(committed);
  });

  it('refuses an Ingress it does not know which routes to give', () => {
    const renamed = readRepoFile(INGRESS_FILE).replace('name: ingress-stream', 'name: ingress-extra');
    expect(() =>
      generateRouteFiles(PUBLIC_ROUTES, (file) => (file === INGRESS_FILE ? renamed : readRepoFile(file))),
    ).toThrow('ingress-extra is neither ingress-srv nor ingress-stream');
  });

  it('asks NGINX Gateway Fabric for case-insensitive paths where a path has letters', () => {
    expect(['/posts/create', '/posts/?(.*)/comments', '/?(.*)'].map(gatewayPathValue)).toEqual([
      '/(?i)posts/create',
      '/(?i)posts/?(.*)/comments',
      '/?(.*)',
    ]);
  });

  it("finds each public backend's Service from the workload running its image, and says when there is none", () => {
    expect(backendService(manifests, 'query')).toEqual({ name: 'query-srv', port: 4002 });
    const noService = mutatedCopy(manifests, (copy) =>
      set(copy, 'Service', 'query-srv', ['spec', 'selector'], { app: 'nothing' }),
    );
    expect(() => backendService(noService, 'query')).toThrow(
      /query-depl should have exactly one Service \(not headless\) with one port; found none/,
    );
  });
});

interface ChartValues {
  config: { merge: { accounts: Record<string, { users: { user: string; permissions?: unknown }[] }> } };
}

/** The values with each user's permissions, as parsed, and the rest of the values without them. */
function splitPermissions(text: string): { permissions: Record<string, unknown>; rest: ChartValues } {
  const values = parse(text, { uniqueKeys: true }) as ChartValues;
  const permissions: Record<string, unknown> = {};
  for (const account of Object.values(values.config.merge.accounts))
    account.users = account.users.map(({ permissions: allowed, ...user }) => {
      if (allowed !== undefined) permissions[user.user] = allowed;
      return user;
    });
  return { permissions, rest: values };
}

/** The permissions as the chart's values spell them. */
const allowed = (stream: string) => {
  const { publish, subscribe } = natsBusPermissions(stream);
  return { publish: { allow: publish }, subscribe: { allow: subscribe } };
};

describe("the generated NATS permissions of the bus's user", () => {
  const committed = readRepoFile(NATS_VALUES_FILE);
  const generate = (text: string, stream?: string) =>
    generateNatsValuesFile(stream, (file) => (file === NATS_VALUES_FILE ? text : readRepoFile(file))).text;

  it('are those of the default stream, under one note naming the command; no other user has any', () => {
    expect(notes(NATS_VALUES_FILE, NATS_PERMISSIONS_NOTE)).toBe(1);
    expect(splitPermissions(generateNatsValuesFile().text).permissions).toEqual({
      [NATS_BUS_USER]: allowed(DEFAULT_NATS_STREAM),
    });
  });

  it('follow the stream: another name changes them and nothing else', () => {
    const other = generate(committed, 'OTHER_EVENTS');
    expect(splitPermissions(other).permissions).toEqual({ [NATS_BUS_USER]: allowed('OTHER_EVENTS') });
    const naming = (text: string) =>
      text.split('\n').filter((line) => line.includes(DEFAULT_NATS_STREAM) && !line.trimStart().startsWith('#'));
    expect(naming(committed).length).toBeGreaterThan(0);
    expect(naming(other)).toEqual([]);
    expect(splitPermissions(other).rest).toEqual(splitPermissions(committed).rest);
    expect(generate(other)).toBe(committed);
  });

  it('write a list on one line where it fits, one subject a line where it does not', () => {
    const lines = generateNatsValuesFile().text.split('\n');
    expect(lines).toContain('                allow: ["_INBOX.>"]');
    expect(lines).toContain('                  - "$JS.API.INFO"');
    expect(lines.filter((line) => line.length > 120 && !line.trimStart().startsWith('#'))).toEqual([]);
  });

  it('write only their section: a hand edit elsewhere stays, one inside the section is undone', () => {
    const rescaled = committed.replace('replicas: 3', 'replicas: 5');
    const widened = committed.replace('- "$JS.API.INFO"', '- "$JS.API.>"');
    expect(rescaled).not.toBe(committed);
    expect(widened).not.toBe(committed);
    expect(generate(rescaled)).toBe(rescaled);
    expect(generate(widened)).toBe(committed);
  });

  it("say so when the bus's user is missing or there twice", () => {
    const renamed = committed.replace(`- user: ${NATS_BUS_USER}`, '- user: someone-else');
    const doubled = committed.replace('- user: blog-admin', `- user: ${NATS_BUS_USER}`);
    expect(() => generate(renamed)).toThrow(`0 users ${NATS_BUS_USER} in account BLOG, expected one`);
    expect(() => generate(doubled)).toThrow(`2 users ${NATS_BUS_USER} in account BLOG, expected one`);
  });
});

describe("the course's copies in infra/k8s", () => {
  it('are each component file whole, under a line saying where to edit, and follow an edit of the source', () => {
    const edited = (file: string) => (file === COURSE_COPIES[0]?.source ? '# edited\n' : readRepoFile(file));
    const copies = generateCourseCopies(edited);
    expect(copies.map(({ file, text }) => [file, text.split('\n')[0]])).toEqual(
      COURSE_COPIES.map(({ copy, source }) => [copy, copyNote(source).trimEnd()]),
    );
    expect(copies[0]?.text).toBe(`${copyNote(COURSE_COPIES[0]?.source ?? '')}# edited\n`);
    expect(copies[1]?.text.endsWith(readRepoFile(COURSE_COPIES[1]?.source ?? ''))).toBe(true);
  });
});

describe('the generated PrometheusRule', () => {
  it('holds exactly the groups of the plain rules file', () => {
    const rule = parse(readRepoFile(PROMETHEUS_RULE_FILE)) as { kind: string; spec: { groups: unknown } };
    const rules = parse(readRepoFile(ALERT_RULES_FILE)) as { groups: unknown };
    expect(rule.kind).toBe('PrometheusRule');
    expect(rule.spec.groups).toEqual(rules.groups);
  });
});
