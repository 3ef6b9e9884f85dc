/**
 * The repository as the deployment checks see it: paths relative to the repo root, files as Docker would
 * send them in a build context (minus .dockerignore).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { minimatch } from 'minimatch';

export const REPO_ROOT = path.resolve(__dirname, '../../..');

export function repoPath(relative: string): string {
  return path.join(REPO_ROOT, relative);
}

export function readRepoFile(relative: string): string {
  return readFileSync(repoPath(relative), 'utf8');
}

export function repoFileExists(relative: string): boolean {
  return existsSync(repoPath(relative)) && statSync(repoPath(relative)).isFile();
}

export function repoDirExists(relative: string): boolean {
  return existsSync(repoPath(relative)) && statSync(repoPath(relative)).isDirectory();
}

/** Is the file executable by its owner (what `COPY` keeps in the image)? */
export function isExecutable(relative: string): boolean {
  return (statSync(repoPath(relative)).mode & 0o100) !== 0;
}

/** Folders never worth walking: they are .dockerignore'd here anyway, and huge. */
const NEVER_WALK = new Set(['.git', 'node_modules']);

/**
 * The files of a Docker build context (a folder of the repo, '.' for the root) that Docker would send,
 * i.e. minus what the context's .dockerignore excludes; paths relative to the context, with '/'.
 */
export function buildContextFiles(context: string): string[] {
  const root = repoPath(context);
  const ignorePath = path.join(root, '.dockerignore');
  const ignored = dockerIgnoreMatcher(existsSync(ignorePath) ? readFileSync(ignorePath, 'utf8') : '');
  const files: string[] = [];
  const walk = (relativeDir: string): void => {
    for (const entry of readdirSync(path.join(root, relativeDir), { withFileTypes: true })) {
      const relative = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!NEVER_WALK.has(entry.name) && !ignored(relative)) walk(relative);
      } else if (!ignored(relative)) {
        files.push(relative);
      }
    }
  };
  walk('');
  return files.sort();
}

/**
 * Docker's .dockerignore semantics (close enough for our patterns): one pattern a line, `#` comments,
 * `!` re-includes, the last matching pattern wins, `**` spans folders, and a path is excluded when it or
 * any folder above it is excluded.
 */
export function dockerIgnoreMatcher(text: string): (relativePath: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = path.posix
        .normalize((negated ? line.slice(1) : line).trim())
        .replace(/^\/+/, '')
        .replace(/\/+$/, '');
      return { negated, pattern };
    });
  const excludedItself = (candidate: string): boolean => {
    let excluded = false;
    for (const { negated, pattern } of rules) if (minimatch(candidate, pattern, { dot: true })) excluded = !negated;
    return excluded;
  };
  return (relativePath) => {
    const parts = relativePath.split('/');
    for (let i = 1; i <= parts.length; i++) if (excludedItself(parts.slice(0, i).join('/'))) return true;
    return false;
  };
}

/** Every file below infra/k8s matching *.yaml / *.yml, sorted, relative to the repo root. */
export function manifestFiles(): string[] {
  return readdirSync(repoPath('infra/k8s'))
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => `infra/k8s/${name}`);
}

/** What the image checks read from the repository; tests swap parts of it to feed mutated files. */
export interface RepoView {
  /** A file's text, or undefined when there is no such file. */
  readFile(relative: string): string | undefined;
  /** The files of a build context (see buildContextFiles). */
  contextFiles(context: string): string[];
  isDirectory(relative: string): boolean;
  isExecutable(relative: string): boolean;
}

const contextFilesCache = new Map<string, string[]>();

export const realRepo: RepoView = {
  readFile: (relative) => (repoFileExists(relative) ? readRepoFile(relative) : undefined),
  contextFiles: (context) => {
    const cached = contextFilesCache.get(context) ?? buildContextFiles(context);
    contextFilesCache.set(context, cached);
    return cached;
  },
  isDirectory: repoDirExists,
  isExecutable: (relative) => repoFileExists(relative) && isExecutable(relative),
};

/** The real repository with some files replaced (undefined = deleted). */
export function repoWith(overrides: Record<string, string | undefined>, base: RepoView = realRepo): RepoView {
  return {
    ...base,
    readFile: (relative) =>
      Object.prototype.hasOwnProperty.call(overrides, relative) ? overrides[relative] : base.readFile(relative),
  };
}
