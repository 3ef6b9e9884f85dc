/**
 * How the container step (tools/containers, `npm run test:containers`) reads the manifests, the Dockerfiles
 * and skaffold.yaml. Nothing is built or run here: podman is only needed by the step itself.
 */
import { baseImageSpec, qualifiedName } from '../src/base';
import { externalBases, plannedBuilds, readsFile } from '../src/images';
import { parseMountInfo } from '../src/inspect';
import { containerPlans, localEnv, type ContainerPlan } from '../src/plan';
import { runArguments, type ContainerSpec } from '../src/stack';

const IMAGES = ['blog/event-bus', 'blog/posts', 'blog/comments', 'blog/query', 'blog/moderation', 'blog/client'];
const { manifests, containers } = containerPlans(IMAGES);
const MANIFEST_PORTS: Record<string, number> = {
  'event-bus': 4005,
  posts: 4000,
  comments: 4001,
  query: 4002,
  moderation: 4003,
  client: 3000,
};

function plan(name: string): ContainerPlan {
  const found = containers.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no plan for ${name}`);
  return found;
}

describe('the container plans read from infra/k8s', () => {
  it('one per image, with the port, grace period, user and hardening of its pod', () => {
    expect(
      containers.map((c) => [c.image, c.name, c.containerPort, c.graceSeconds, c.runAsUser, c.runAsGroup]),
    ).toEqual(
      IMAGES.map((image) => {
        const name = image.replace('blog/', '');
        return [image, name, MANIFEST_PORTS[name], 10, 1000, 1000];
      }),
    );
    for (const c of containers) {
      expect([
        c.name,
        c.readOnlyRootFilesystem,
        c.dropAllCapabilities,
        c.allowPrivilegeEscalation,
        c.healthPath,
        c.readyPath,
      ]).toEqual([c.name, true, true, false, '/healthz', '/readyz']);
    }
  });

  it("an emptyDir at /tmp everywhere, a service's state on an emptyDir of its pod, and the event log on a persistent volume at /data", () => {
    const tmp = { path: '/tmp', volume: 'tmp', kind: 'emptyDir', sizeBytes: 256 * 2 ** 20, readOnly: false };
    expect(plan('posts').volumes).toEqual([
      tmp,
      { path: '/var/lib/blog/state', volume: 'state', kind: 'emptyDir', sizeBytes: 4 * 2 ** 30, readOnly: false },
    ]);
    expect(plan('query').env).toMatchObject({ STATE_DIR: '/var/lib/blog/state' });
    expect(plan('event-bus').volumes).toEqual([
      tmp,
      { path: '/data', volume: 'event-log', kind: 'persistent', sizeBytes: undefined, readOnly: false },
    ]);
    expect(plan('event-bus').env).toMatchObject({ EVENT_LOG_DIR: '/data', PORT: '4005' });
  });

  it('the cluster env, with the Services’ URLs on loopback at the ports the containers listen on here', () => {
    const here: Record<string, number> = {
      'event-bus': 5005,
      posts: 5000,
      comments: 5001,
      query: 5002,
      moderation: 5003,
      client: 5100,
    };
    const portOf = (name: string) => here[name];
    expect(plan('posts').env.EVENT_BUS_URL).toBe('http://event-bus-srv:4005');
    expect(localEnv(plan('posts'), 5000, portOf, manifests)).toMatchObject({
      PORT: '5000',
      EVENT_BUS_URL: 'http://127.0.0.1:5005',
      LOG_FORMAT: 'json',
      BLOCKED_WORDS: 'orange',
    });
    expect(localEnv(plan('event-bus'), 5005, portOf, manifests).EVENT_SUBSCRIBERS).toBe(
      'http://127.0.0.1:5000,http://127.0.0.1:5001,http://127.0.0.1:5002,http://127.0.0.1:5003',
    );
    // No Ingress here: the client routes the API paths itself.
    expect(localEnv(plan('client'), 5100, portOf, manifests)).toMatchObject({
      PORT: '5100',
      PROXY_API: 'true',
      POSTS_URL: 'http://127.0.0.1:5000',
      COMMENTS_URL: 'http://127.0.0.1:5001',
      QUERY_URL: 'http://127.0.0.1:5002',
    });
  });
});

describe('podman run arguments', () => {
  const spec = (name: string, port: number): ContainerSpec => ({
    plan: plan(name),
    name: `blog-ci-${name}`,
    tag: plan(name).image,
    port,
    env: { PORT: String(port) },
  });

  it('read-only root without podman’s extra tmpfs mounts, no capabilities, no privilege escalation, the image’s own user', () => {
    const args = runArguments(spec('posts', 4000), () => '/unused');
    expect(args).toEqual(
      expect.arrayContaining([
        '--read-only',
        '--read-only-tmpfs=false',
        '--cap-drop',
        'ALL',
        '--security-opt',
        'no-new-privileges',
        '--network',
        'host',
      ]),
    );
    expect(args.filter((arg) => arg.startsWith('/tmp'))).toEqual([`/tmp:rw,mode=1777,size=${256 * 2 ** 20}`]);
    expect(args).not.toContain('--user');
    expect(args.slice(-3)).toEqual(['--env', 'PORT=4000', 'blog/posts']);
  });

  it('a folder of the run for the persistent volume', () => {
    expect(runArguments(spec('event-bus', 4005), (volume) => `/run-dir/${volume}`)).toEqual(
      expect.arrayContaining(['--volume', '/run-dir/event-log:/data:rw']),
    );
  });
});

describe('images and the base image', () => {
  it('every skaffold artifact in production, and the dev target of one', () => {
    const builds = plannedBuilds('blog/client');
    expect(builds.map((build) => `${build.tag} ${build.target} ${build.dockerfile}`)).toEqual([
      ...IMAGES.map((image) => `${image} production ${image.replace('blog/', '')}/Dockerfile`),
      'blog/client:dev dev client/Dockerfile',
    ]);
    expect(() => plannedBuilds('blog/nothing')).toThrow(/no skaffold artifact builds blog\/nothing/);
    expect(externalBases(builds)).toEqual(['node:24-bookworm-slim']);
  });

  it('stands in for official Node images on a Debian release only', () => {
    expect(baseImageSpec('node:24-bookworm-slim')).toEqual({
      name: 'docker.io/library/node:24-bookworm-slim',
      nodeMajor: 24,
      npmMajor: 11,
      suite: 'bookworm',
    });
    expect(baseImageSpec('node:22.12-bookworm')).toMatchObject({ nodeMajor: 22, npmMajor: 10 });
    expect(() => baseImageSpec('node:24-alpine3.21')).toThrow(/can stand in only for node/);
    expect(() => baseImageSpec('gcr.io/distroless/nodejs24')).toThrow(/can stand in only for node/);
    expect(['node', 'library/node:24', 'localhost/blog/posts', 'quay.io/x/y:1'].map(qualifiedName)).toEqual([
      'docker.io/library/node',
      'docker.io/library/node:24',
      'localhost/blog/posts',
      'quay.io/x/y:1',
    ]);
  });

  it('knows which files a COPY source reads (what decides whether a kept image is still current)', () => {
    expect(readsFile('posts/', 'posts/src/app.ts')).toBe(true);
    expect(readsFile('posts/', 'postscript/x')).toBe(false);
    expect(readsFile('package.json', 'package.json')).toBe(true);
    expect(readsFile('package.json', 'posts/package.json')).toBe(false);
    expect(readsFile('.', 'anything/at/all')).toBe(true);
    expect(readsFile('infra/docker/*.sh', 'infra/docker/dev.sh')).toBe(true);
  });
});

describe('reading a container process’s mounts', () => {
  it('mount points with escapes, and their per-mount options', () => {
    const text = [
      '601 545 254:0 /x / ro,relatime - ext4 /dev/vda rw',
      '602 601 0:52 / /tmp rw,nosuid,nodev,relatime - tmpfs tmpfs rw,size=262144k',
      '603 601 0:53 / /my\\040data rw,relatime - tmpfs tmpfs rw',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { mountPoint: '/', options: ['ro', 'relatime'] },
      { mountPoint: '/tmp', options: ['rw', 'nosuid', 'nodev', 'relatime'] },
      { mountPoint: '/my data', options: ['rw', 'relatime'] },
    ]);
  });
});
