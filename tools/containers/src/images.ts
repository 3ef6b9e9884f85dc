/**
 * The images: one per skaffold artifact from its Dockerfile's `production` stage, plus the `dev` stage of
 * one of them, built with podman exactly as the Dockerfiles say (base image by name, `--pull=never`).
 *
 * Speed on the vfs driver, where every committed layer is a full copy of the root filesystem:
 * - `--layers=false`: a stage is one container and one commit, not a commit per instruction;
 * - one npm cache for every `npm ci` of every build, mounted at /mnt (empty in the base image), with the
 *   machine's CA bundle and npm settings in /usr/local/etc/npmrc (also empty in the base): the images get
 *   neither, and the Dockerfiles stay as they are for Docker;
 * - an image whose inputs (base image, Dockerfile, target, and every file its COPY instructions read) are
 *   those of the image kept from the last run is not built again.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { minimatch } from 'minimatch';
import { parseDockerfile, type Stage } from '@blog/deploy-checks/dockerfile';
import { buildContextFiles, repoPath } from '@blog/deploy-checks/repo';
import { dockerArtifacts, loadSkaffold } from '@blog/deploy-checks/skaffold';
import type { CacheState } from './cache';
import { formatSize, Podman, ULIMITS } from './podman';
import { CommandError, seconds } from './proc';

/** Bump when the build command changes in a way that changes the images. */
const BUILD_RECIPE = 'podman-layers-false-1';
/** A build that takes longer has hung (a fresh one takes well under a minute on 2 cores). */
const BUILD_TIMEOUT_MS = 10 * 60_000;

export interface ImageBuild {
  /** Repository as the manifests name it, e.g. blog/posts. */
  image: string;
  target: 'production' | 'dev';
  /** blog/posts (→ localhost/blog/posts:latest) for production, blog/posts:dev for dev. */
  tag: string;
  /** Repo-relative. */
  dockerfile: string;
  context: string;
}

/** Every artifact's production image, and the dev image of `devImage`. */
export function plannedBuilds(devImage: string): ImageBuild[] {
  const artifacts = dockerArtifacts(loadSkaffold());
  if (!artifacts.some((artifact) => artifact.image === devImage))
    throw new Error(`no skaffold artifact builds ${devImage}`);
  const builds: ImageBuild[] = artifacts.map(({ image, dockerfile, context }) => ({
    image,
    target: 'production',
    tag: image,
    dockerfile,
    context,
  }));
  for (const { image, dockerfile, context } of artifacts)
    if (image === devImage) builds.push({ image, target: 'dev', tag: `${image}:dev`, dockerfile, context });
  return builds;
}

function stagesOf(build: ImageBuild): Stage[] {
  return parseDockerfile(readFileSync(repoPath(build.dockerfile), 'utf8'));
}

/** The images the Dockerfiles build FROM that are not their own stages. */
export function externalBases(builds: readonly ImageBuild[]): string[] {
  const bases = new Set<string>();
  for (const build of builds) {
    const stages = stagesOf(build);
    const names = new Set(stages.map((stage) => stage.name).filter((name): name is string => name !== undefined));
    for (const stage of stages) if (!names.has(stage.from.toLowerCase())) bases.add(stage.from);
  }
  return [...bases].sort();
}

/** Sources of the COPY/ADD instructions that read the build context (not another stage), in any stage. */
function contextSources(stages: readonly Stage[]): string[] {
  return stages.flatMap((stage) =>
    stage.copies.filter(({ from }) => from === undefined).flatMap(({ sources }) => sources),
  );
}

/** Does a COPY source (a file, a folder, a glob, '.') read this context file? */
export function readsFile(source: string, file: string): boolean {
  const normalized = path.posix
    .normalize(source)
    .replace(/^\.\/?/, '')
    .replace(/\/+$/, '');
  if (normalized === '' || normalized === '.') return true;
  if (/[*?[]/.test(normalized))
    return minimatch(file, normalized, { dot: true }) || minimatch(file, `${normalized}/**`, { dot: true });
  return file === normalized || file.startsWith(`${normalized}/`);
}

/** A hash of everything the build reads; equal hashes build equal images. */
export function inputsKey(build: ImageBuild, baseId: string): string {
  const dockerfileText = readFileSync(repoPath(build.dockerfile), 'utf8');
  const sources = contextSources(parseDockerfile(dockerfileText));
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify({
      recipe: BUILD_RECIPE,
      baseId,
      dockerfile: build.dockerfile,
      dockerfileText,
      target: build.target,
      context: build.context,
    }),
  );
  for (const file of buildContextFiles(build.context)) {
    if (!sources.some((source) => readsFile(source, file))) continue;
    const absolute = repoPath(path.posix.join(build.context, file));
    const executable = (statSync(absolute).mode & 0o111) !== 0;
    hash.update(`\n${file} ${executable ? 'x' : '-'} `);
    hash.update(readFileSync(absolute));
  }
  return hash.digest('hex');
}

export interface BuildMounts {
  /** Holds npmrc and the CA bundle; mounted read-only at /usr/local/etc. */
  npmConfigDir: string;
  /** npm's cache; mounted at /mnt. */
  npmCache: string;
}

export interface BuiltImage {
  build: ImageBuild;
  id: string;
  size: number;
  /** Wall-clock seconds of the build, or undefined when the kept image was reused. */
  seconds: number | undefined;
}

export interface BuildOptions {
  podman: Podman;
  baseId: string;
  mounts: BuildMounts;
  state: CacheState;
  /** Builds at a time. */
  jobs: number;
  /** Build even when a kept image has the same inputs. */
  force: boolean;
  logDir: string;
  log: (line: string) => void;
}

/** Builds (or reuses) every image; `state.images` is updated as builds finish. */
export async function buildImages(builds: readonly ImageBuild[], options: BuildOptions): Promise<BuiltImage[]> {
  const results: BuiltImage[] = new Array<BuiltImage>(builds.length);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < builds.length; index = next++) {
      const build = builds[index] as ImageBuild;
      results[index] = await buildOne(build, options);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs, builds.length)) }, worker));
  return results;
}

async function buildOne(
  build: ImageBuild,
  { podman, baseId, mounts, state, force, logDir, log }: BuildOptions,
): Promise<BuiltImage> {
  const key = inputsKey(build, baseId);
  const kept = state.images[build.tag];
  if (!force && kept?.key === key) {
    const image = await podman.image(build.tag);
    if (image?.id === kept.id) {
      log(
        `  ${build.tag} (${build.target}): inputs unchanged, kept image ${image.id.slice(0, 12)} (${formatSize(image.size)})`,
      );
      return { build, id: image.id, size: image.size, seconds: undefined };
    }
  }
  const logFile = path.join(logDir, `build-${build.tag.replace(/[/:]/g, '-')}.log`);
  const started = Date.now();
  try {
    await podman.check(
      [
        'build',
        '--runtime',
        'runc',
        '--pull=never',
        '--layers=false',
        '--network',
        'host',
        ...ULIMITS,
        '--volume',
        `${mounts.npmConfigDir}:/usr/local/etc:ro`,
        '--volume',
        `${mounts.npmCache}:/mnt`,
        '--file',
        repoPath(build.dockerfile),
        '--target',
        build.target,
        '--tag',
        build.tag,
        repoPath(build.context),
      ],
      { logFile, timeoutMs: BUILD_TIMEOUT_MS },
    );
  } catch (err) {
    if (err instanceof CommandError)
      throw new Error(`building ${build.tag} (${build.dockerfile}, target ${build.target}) failed: ${err.message}`);
    throw err;
  }
  const elapsed = (Date.now() - started) / 1000;
  const image = await podman.image(build.tag);
  if (!image) throw new Error(`podman build did not leave an image tagged ${build.tag}`);
  state.images[build.tag] = { key, id: image.id };
  log(`  ${build.tag} (${build.target}): built in ${seconds(elapsed * 1000)} s, ${formatSize(image.size)}`);
  return { build, id: image.id, size: image.size, seconds: elapsed };
}
