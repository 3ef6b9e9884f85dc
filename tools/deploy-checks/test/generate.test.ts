/**
 * The route rules of the manifests are written by `npm run generate` from PUBLIC_ROUTES: the committed files
 * are what it writes, and what it writes follows the table.
 */
import { PUBLIC_ROUTES, type PublicRoute } from '@blog/common';
import { parseAllDocuments } from 'yaml';
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

describe('the generated route rules', () => {
  it.each(generateRouteFiles().map((generated) => [generated.file, generated.text]))(
    '%s is as `npm run generate` writes it',
    (file, text) => {
      const committed = readRepoFile(file);
      if (committed !== text)
        throw new Error(
          `${file} is not what the generator writes from PUBLIC_ROUTES (${firstDifference(committed, text)}): run npm run generate`,
        );
    },
  );

  it('marks each generated section (one per Ingress, one per HTTPRoute) with a note naming the command', () => {
    const notes = (file: string) =>
      readRepoFile(file)
        .split('\n')
        .filter((line) => line.trim() === `# ${GENERATED_NOTE}`).length;
    expect([notes(INGRESS_FILE), notes(GATEWAY_FILE)]).toEqual([2, 2]);
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
