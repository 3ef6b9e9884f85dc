/**
 * Where the container step keeps things between runs, and what it remembers about them.
 *
 * <cache>/                  BLOG_CONTAINERS_CACHE, default ~/.cache/blog-containers (delete it to start over)
 *   storage/                podman's graph root: the stand-in base image and the images of the last run
 *   npm/                    the npm cache every `npm ci` of a build uses (and `npm pack` of the base)
 *   state.json              which inputs each kept image was built from
 *   run/                    podman's run root while the step runs (removed at the end)
 *   tmp/                    scratch space: the base's root filesystem, build mounts, the bus's volume (removed at the end)
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PodmanStore } from './podman';

export interface CacheLayout {
  root: string;
  storage: string;
  npm: string;
  state: string;
  run: string;
  tmp: string;
}

export function cacheLayout(
  root = process.env.BLOG_CONTAINERS_CACHE ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'blog-containers'),
): CacheLayout {
  const resolved = path.resolve(root);
  return {
    root: resolved,
    storage: path.join(resolved, 'storage'),
    npm: path.join(resolved, 'npm'),
    state: path.join(resolved, 'state.json'),
    run: path.join(resolved, 'run'),
    tmp: path.join(resolved, 'tmp'),
  };
}

export function podmanStore(layout: CacheLayout, driver: string): PodmanStore {
  return { graphRoot: layout.storage, runRoot: layout.run, tmpDir: path.join(layout.tmp, 'podman'), driver };
}

export interface BaseRecord {
  /** The recipe the base was made with (see base.ts). */
  key: string;
  id: string;
  nodeVersion: string;
}

export interface ImageRecord {
  /** Hash of everything the build reads (see images.ts). */
  key: string;
  id: string;
}

export interface CacheState {
  base?: BaseRecord;
  /** By tag, e.g. blog/posts or blog/client:dev. */
  images: Record<string, ImageRecord>;
}

export function loadState(layout: CacheLayout): CacheState {
  if (!existsSync(layout.state)) return { images: {} };
  try {
    const parsed = JSON.parse(readFileSync(layout.state, 'utf8')) as Partial<CacheState>;
    return { base: parsed.base, images: parsed.images ?? {} };
  } catch {
    return { images: {} };
  }
}

export function saveState(layout: CacheLayout, state: CacheState): void {
  mkdirSync(layout.root, { recursive: true });
  const temporary = `${layout.state}.${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temporary, layout.state);
}
