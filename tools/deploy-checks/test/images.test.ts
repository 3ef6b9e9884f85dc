import {
  checkArtifactDockerfiles,
  checkDevEntrypoints,
  checkDockerfileStages,
  checkImagesMatchArtifacts,
  checkPersistentMountsUsed,
  checkSyncRules,
  nestedPackages,
} from '../src/checks/images';
import { parseDockerfile, stageConfig } from '../src/dockerfile';
import { copyManifests, loadManifests, typedOf } from '../src/manifests';
import { dockerIgnoreMatcher, realRepo, repoWith, type RepoView } from '../src/repo';
import { loadSkaffold, type SkaffoldConfig } from '../src/skaffold';

const { manifests } = loadManifests();
const skaffold = loadSkaffold();

function skaffoldWith(mutate: (copy: SkaffoldConfig) => void): SkaffoldConfig {
  const copy = structuredClone(skaffold);
  mutate(copy);
  return copy;
}

function artifact(config: SkaffoldConfig, index: number) {
  const found = config.build?.artifacts?.[index];
  if (!found) throw new Error(`no artifact ${index}`);
  return found;
}

/** The real Dockerfile with `from` replaced by `to` (which must occur). */
function editedDockerfile(file: string, from: string | RegExp, to: string): RepoView {
  const text = realRepo.readFile(file);
  if (text === undefined) throw new Error(`no ${file}`);
  const edited = text.replace(from, to);
  if (edited === text) throw new Error(`${String(from)} not found in ${file}`);
  return repoWith({ [file]: edited });
}

describe('images, skaffold artifacts and Dockerfiles', () => {
  it('every image in the manifests is a skaffold artifact, and every artifact is used', () => {
    expect(checkImagesMatchArtifacts(manifests, skaffold)).toEqual([]);
  });

  it("each artifact's context and Dockerfile exist and have the target stage, in every profile", () => {
    expect(checkArtifactDockerfiles(skaffold, realRepo)).toEqual([]);
  });

  it('each sync rule matches files in the build context and lands on a writable mount', () => {
    expect(checkSyncRules(skaffold, manifests, realRepo)).toEqual([]);
  });

  it('the dev and production stages EXPOSE the containerPort, run as a non-root user, and use exec-form CMDs (production: node <main>)', () => {
    expect(checkDockerfileStages(skaffold, manifests, realRepo)).toEqual([]);
  });

  it("the dev stage's entry script is executable and keeps every installed package reachable from /tmp/dev", () => {
    expect(checkDevEntrypoints(skaffold, realRepo)).toEqual([]);
  });

  it('each persistent volume is mounted where the process is told to write (env, args, ConfigMap, Dockerfile or sources)', () => {
    expect(checkPersistentMountsUsed(skaffold, manifests, realRepo)).toEqual([]);
  });
});

describe('the image checks catch', () => {
  it('an image no artifact builds, an unused artifact, a tagged image', () => {
    const copy = copyManifests(manifests);
    const posts = typedOf(copy, 'Deployment', 'posts-depl').spec?.template.spec?.containers[0];
    const query = typedOf(copy, 'Deployment', 'query-depl').spec?.template.spec?.containers[0];
    if (!posts || !query) throw new Error('no containers');
    posts.image = 'blog/post';
    query.image = 'blog/query:v1';
    expect(checkImagesMatchArtifacts(copy, skaffold)).toEqual([
      expect.stringMatching(/posts-depl container posts: image blog\/post is not built by skaffold.yaml/),
      expect.stringMatching(/query-depl container query: image blog\/query:v1 has a tag or digest/),
      expect.stringMatching(/build.artifacts\[1\]: image blog\/posts is used by no manifest/),
    ]);
  });

  it('a missing Dockerfile, a missing target stage, a profile patching a missing stage', () => {
    const broken = skaffoldWith((copy) => {
      const posts = artifact(copy, 1);
      if (posts.docker) posts.docker.dockerfile = 'post/Dockerfile';
      const comments = artifact(copy, 2);
      if (comments.docker) comments.docker.target = 'devel';
      const production = copy.profiles?.find((candidate) => candidate.name === 'production');
      const queryTarget = production?.patches?.find((patch) => patch.path === '/build/artifacts/3/docker/target');
      if (queryTarget) queryTarget.value = 'prod';
    });
    expect(checkArtifactDockerfiles(broken, realRepo)).toEqual([
      expect.stringMatching(
        /^skaffold.yaml build.artifacts\[1\] blog\/posts: dockerfile post\/Dockerfile does not exist/,
      ),
      expect.stringMatching(
        /^skaffold.yaml build.artifacts\[2\] blog\/comments: comments\/Dockerfile has no stage "devel"/,
      ),
      // The ingress-nginx and jetstream profiles build the same artifacts, so they meet the same problems.
      ...['ingress-nginx', 'jetstream'].flatMap((profile): unknown[] => [
        expect.stringMatching(
          new RegExp(
            `\\(profile ${profile}\\) build.artifacts\\[1\\] blog/posts: dockerfile post/Dockerfile does not exist`,
          ),
        ),
        expect.stringMatching(
          new RegExp(
            `\\(profile ${profile}\\) build.artifacts\\[2\\] blog/comments: comments/Dockerfile has no stage "devel"`,
          ),
        ),
      ]),
      expect.stringMatching(
        /\(profile production\) build.artifacts\[1\] registry.example.com\/blog\/posts: dockerfile post\/Dockerfile does not exist/,
      ),
      expect.stringMatching(
        /\(profile production\) build.artifacts\[3\] registry.example.com\/blog\/query: query\/Dockerfile has no stage "prod"/,
      ),
    ]);
  });

  it('a sync glob matching no file (or only .dockerignored ones), and a dest on the read-only root', () => {
    const broken = skaffoldWith((copy) => {
      const posts = artifact(copy, 1);
      posts.sync = {
        manual: [
          { src: 'posts/source/**/*.ts', dest: '/tmp/dev' },
          { src: 'posts/dist/**/*.js', dest: '/tmp/dev' },
          { src: 'posts/src/**/*.ts', dest: '/app' },
        ],
      };
    });
    expect(checkSyncRules(broken, manifests, realRepo)).toEqual([
      expect.stringMatching(/sync.manual\[0\]: src "posts\/source\/\*\*\/\*.ts" matches no file/),
      expect.stringMatching(
        /sync.manual\[1\]: src "posts\/dist\/\*\*\/\*.js" matches no file in the build context . \(after .dockerignore\)/,
      ),
      expect.stringMatching(
        /sync.manual\[2\]: dest \/app is not on a writable emptyDir mount of Deployment\/posts-depl container posts/,
      ),
    ]);
  });

  it('EXPOSE different from the containerPort, in the production or the dev stage', () => {
    expect(
      checkDockerfileStages(
        skaffold,
        manifests,
        editedDockerfile('posts/Dockerfile', /EXPOSE 4000\n# node itself/, 'EXPOSE 4001\n# node itself'),
      ),
    ).toEqual([
      'posts/Dockerfile stage production: EXPOSE 4001/tcp but the pods running blog/posts listen on 4000/tcp',
    ]);
    expect(
      checkDockerfileStages(
        skaffold,
        manifests,
        editedDockerfile('query/Dockerfile', 'USER node\nEXPOSE 4002\nCMD ["dev.sh"', 'USER node\nCMD ["dev.sh"'),
      ),
    ).toEqual(['query/Dockerfile stage dev: EXPOSE (none) but the pods running blog/query listen on 4002/tcp']);
  });

  it('a stage running as root, a shell-form or npm CMD, a CMD that is not the main', () => {
    const repo = repoWith({
      'posts/Dockerfile': (realRepo.readFile('posts/Dockerfile') ?? '').replace(
        /USER node\nEXPOSE 4000\n# node/,
        'EXPOSE 4000\n# node',
      ),
      'comments/Dockerfile': (realRepo.readFile('comments/Dockerfile') ?? '').replace(
        'CMD ["node", "comments/dist/index.js"]',
        'CMD ["npm", "start", "-w", "comments"]',
      ),
      'query/Dockerfile': (realRepo.readFile('query/Dockerfile') ?? '').replace(
        'CMD ["node", "query/dist/index.js"]',
        'CMD node query/dist/index.js',
      ),
      'moderation/Dockerfile': (realRepo.readFile('moderation/Dockerfile') ?? '').replace(
        'CMD ["node", "moderation/dist/index.js"]',
        'CMD ["node", "moderation/dist/main.js"]',
      ),
      'event-bus/Dockerfile': (realRepo.readFile('event-bus/Dockerfile') ?? '').replace(
        'COPY --from=build /app/event-bus/dist event-bus/dist\n',
        '',
      ),
    });
    expect(checkDockerfileStages(skaffold, manifests, repo)).toEqual([
      expect.stringMatching(
        /^event-bus\/Dockerfile stage production: CMD runs event-bus\/dist\/index.js, which no COPY of the stage puts in the image/,
      ),
      expect.stringMatching(/^posts\/Dockerfile stage production: runs as the base image user \(root\)/),
      expect.stringMatching(
        /^comments\/Dockerfile stage production: CMD \["npm","start","-w","comments"\] does not run node directly/,
      ),
      expect.stringMatching(/^query\/Dockerfile stage production: CMD is in shell form/),
      expect.stringMatching(
        /^moderation\/Dockerfile stage production: CMD runs moderation\/dist\/main.js, but moderation\/package.json's main is dist\/index.js/,
      ),
    ]);
  });

  it('another user than node/1000, and a Dockerfile whose last stage is not production', () => {
    const repo = repoWith({
      'posts/Dockerfile': (realRepo.readFile('posts/Dockerfile') ?? '').replace(
        /USER node\nEXPOSE 4000\n# node/,
        'USER www-data\nEXPOSE 4000\n# node',
      ),
      'comments/Dockerfile': `${realRepo.readFile('comments/Dockerfile') ?? ''}\nFROM production AS debug\n`,
    });
    expect(checkDockerfileStages(skaffold, manifests, repo)).toEqual([
      expect.stringMatching(/^posts\/Dockerfile stage production: USER www-data: expected node or 1000/),
      expect.stringMatching(/^comments\/Dockerfile: the last stage is debug, not production/),
    ]);
  });

  it('USER node with runAsNonRoot but no numeric runAsUser (the kubelet cannot verify it)', () => {
    const copy = copyManifests(manifests);
    const pod = typedOf(copy, 'Deployment', 'moderation-depl').spec?.template.spec;
    if (pod?.securityContext) delete pod.securityContext.runAsUser;
    expect(checkDockerfileStages(skaffold, copy, realRepo)).toEqual([
      expect.stringMatching(
        /^moderation\/Dockerfile stage dev: USER node is not numeric and Deployment\/moderation-depl sets runAsNonRoot without a numeric runAsUser/,
      ),
      expect.stringMatching(/^moderation\/Dockerfile stage production: USER node is not numeric/),
    ]);
  });

  it('a dev entry script that is not executable, or that leaves a workspace-local package behind', () => {
    const notExecutable: RepoView = {
      ...realRepo,
      isExecutable: () => false,
      readFile: (file) => (file === 'package-lock.json' ? '{"packages":{}}' : realRepo.readFile(file)),
    };
    expect(checkDevEntrypoints(skaffold, notExecutable)).toContainEqual(
      expect.stringMatching(
        /^posts\/Dockerfile stage dev: CMD dev.sh \(infra\/docker\/dev.sh\): the file is not executable/,
      ),
    );

    const lockfile = JSON.stringify({
      packages: {
        '': {},
        'node_modules/express': {},
        'posts/node_modules/left-pad': {},
        'node_modules/@blog/posts': { link: true },
      },
    });
    expect(nestedPackages(lockfile, ['posts', 'common'])).toEqual(['posts/node_modules/left-pad']);
    // A script that links only the root node_modules into /tmp/dev (as dev.sh once did).
    const rootOnly = [
      '#!/bin/sh',
      'set -eu',
      'folder="$1"',
      'shift',
      'mkdir -p /tmp/dev',
      'tar -C /app -cf - --exclude=node_modules tsconfig.base.json common "$folder" | tar -C /tmp/dev -xf -',
      'ln -sfn /app/node_modules /tmp/dev/node_modules',
      'cd /tmp/dev',
      'exec "$@"',
    ].join('\n');
    expect(
      checkDevEntrypoints(skaffold, repoWith({ 'package-lock.json': lockfile, 'infra/docker/dev.sh': rootOnly })),
    ).toEqual([
      expect.stringMatching(
        /^posts\/Dockerfile stage dev: .*installs left-pad in posts\/node_modules, which the script does not bring into \/tmp\/dev/,
      ),
    ]);
    // The script once copied common and the workspace but not tsconfig.base.json, which their tsconfig.json extend.
    expect(
      checkDevEntrypoints(
        skaffold,
        repoWith({
          'infra/docker/dev.sh': realRepo.readFile('infra/docker/dev.sh')?.replace('tsconfig.base.json ', ''),
        }),
      ),
    ).toContainEqual(
      expect.stringMatching(
        /^posts\/Dockerfile stage dev: .*: \/tmp\/dev\/posts\/tsconfig.json extends ..\/tsconfig.base.json, which the script does not copy into \/tmp\/dev/,
      ),
    );
    // The real script with the same lockfile.
    expect(checkDevEntrypoints(skaffold, repoWith({ 'package-lock.json': lockfile }))).toEqual([]);
    // A script that fails in the model is reported, not passed.
    const failing = checkDevEntrypoints(
      skaffold,
      repoWith({
        'package-lock.json': lockfile,
        'infra/docker/dev.sh': rootOnly.replace('set -eu', 'set -eu\nexit 3'),
      }),
    );
    expect(failing).toHaveLength(6);
    expect(failing).toContainEqual(
      expect.stringMatching(
        /^posts\/Dockerfile stage dev: .*could not run it against a model of the image: exit status 3/,
      ),
    );
  });
});

describe('the persistent volume check', () => {
  it('fails for a volume nothing refers to, and passes once the env or the code names its path', () => {
    const copy = copyManifests(manifests);
    const container = typedOf(copy, 'StatefulSet', 'event-bus').spec?.template.spec?.containers[0];
    const mount = container?.volumeMounts?.find((m) => m.name === 'event-log');
    if (!container || !mount) throw new Error('event-bus has no event-log mount');
    mount.mountPath = '/var/lib/event-bus';
    expect(checkPersistentMountsUsed(skaffold, copy, realRepo)).toEqual([
      expect.stringMatching(
        /^infra\/k8s\/event-bus.yaml StatefulSet\/event-bus container event-bus: the persistent volume event-log is mounted at \/var\/lib\/event-bus, but nothing tells the process to use/,
      ),
    ]);

    container.env = [...(container.env ?? []), { name: 'EVENT_LOG_DIR', value: '/var/lib/event-bus' }];
    expect(checkPersistentMountsUsed(skaffold, copy, realRepo)).toEqual([]);

    const inCode = repoWith({
      'event-bus/src/index.ts': `${realRepo.readFile('event-bus/src/index.ts') ?? ''}\nconst dir = env.path('/var/lib/event-bus/');\n`,
    });
    container.env = container.env.filter((variable) => variable.name !== 'EVENT_LOG_DIR');
    expect(checkPersistentMountsUsed(skaffold, copy, inCode)).toEqual([]);
    // A longer path that merely starts the same way does not count.
    const lookalike = repoWith({ 'event-bus/src/index.ts': "const dir = '/var/lib/event-bus-old';" });
    expect(checkPersistentMountsUsed(skaffold, copy, lookalike)).toHaveLength(1);
  });
});

describe('Dockerfile reading', () => {
  it('follows stages: USER, EXPOSE, ENV and WORKDIR are inherited from the stage built FROM', () => {
    const stages = parseDockerfile(
      [
        'ARG BASE=node:24',
        'FROM --platform=linux/amd64 node:24 AS Build',
        'USER node',
        'EXPOSE 80',
        'ENV A=1 B="two words"',
        'WORKDIR /app',
        '',
        'FROM build AS dev',
        '# a comment',
        'RUN --mount=type=cache,target=/root/.npm a \\',
        '  # a comment inside a continuation',
        '  && b',
        'ENV B=2',
        'WORKDIR sub',
        'CMD ["x", "a \\"quoted\\" word"]',
        'FROM node:24 AS production',
        'expose 81/UDP 82',
        'COPY --chown=node --from=build /app/dist dist/',
        'ADD a b ./',
        'CMD x y',
      ].join('\n'),
    );
    expect(stages.map((s) => [s.name, s.from, s.line])).toEqual([
      ['build', 'node:24', 2],
      ['dev', 'build', 8],
      ['production', 'node:24', 16],
    ]);
    expect(stageConfig(stages, 'dev')).toMatchObject({
      user: 'node',
      exposed: ['80/tcp'],
      env: { A: '1', B: '2' },
      workdir: '/app/sub',
      cmd: { form: 'exec', argv: ['x', 'a "quoted" word'] },
    });
    expect(stages[1]?.instructions.find((i) => i.keyword === 'RUN')).toEqual({
      keyword: 'RUN',
      arguments: ['a', '&&', 'b'],
      flags: { mount: 'type=cache,target=/root/.npm' },
      line: 10,
    });
    expect(stageConfig(stages, 'production')).toMatchObject({
      user: undefined,
      exposed: ['81/udp', '82/tcp'],
      env: {},
      cmd: { form: 'shell', command: 'x y' },
      copies: [
        { keyword: 'COPY', from: 'build', sources: ['/app/dist'], destination: 'dist/', line: 18 },
        { keyword: 'ADD', from: undefined, sources: ['a', 'b'], destination: './', line: 19 },
      ],
    });
  });

  it('keeps a CMD of the same stage when ENTRYPOINT follows it, and drops an inherited one (as docker build does)', () => {
    const stages = parseDockerfile(
      'FROM node:24 AS base\nCMD ["serve"]\nFROM base AS a\nENTRYPOINT ["tini"]\nFROM base AS b\nCMD ["run"]\nENTRYPOINT ["tini", "--"]\n',
    );
    expect(stageConfig(stages, 'a')).toMatchObject({ entrypoint: { argv: ['tini'] }, cmd: undefined });
    expect(stageConfig(stages, 'b')).toMatchObject({ entrypoint: { argv: ['tini', '--'] }, cmd: { argv: ['run'] } });
  });

  it('reads .dockerignore like Docker', () => {
    const ignored = dockerIgnoreMatcher('**/node_modules\n**/dist\n.git\n!keep/dist\n');
    expect(
      ['node_modules/x', 'posts/dist/index.js', '.git/HEAD', 'posts/src/app.ts', 'keep/dist/a'].map(ignored),
    ).toEqual([true, true, true, false, false]);
  });
});
