/**
 * The client's bundle (client/dist) is built by Vite, which takes a few seconds even when nothing
 * changed. `npm start` builds it only when one of its inputs differs from the last build: a hash of
 * their contents is kept beside the bundle.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** What the bundle is made from, relative to the repository root: files, or folders read whole. */
export const CLIENT_INPUTS = [
  'client/src',
  'client/index.html',
  'client/vite.config.mts',
  'client/tsconfig.app.json',
  'client/package.json',
  // The page imports the API's shapes and limits from common.
  'common/src',
  'package-lock.json',
];

const STAMP = path.join('client', 'dist', '.inputs-sha256');

/** A hash of every input file's path and contents; a missing input counts as empty. */
export function clientInputsHash(root: string, inputs: readonly string[] = CLIENT_INPUTS): string {
  const hash = createHash('sha256');
  for (const file of inputs.flatMap((input) => filesUnder(root, input)).sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(path.join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function filesUnder(root: string, relative: string): string[] {
  const full = path.join(root, relative);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [relative];
  return readdirSync(full).flatMap((entry) => filesUnder(root, path.join(relative, entry)));
}

/** The hash of the inputs the bundle in client/dist was built from, if it was built by this. */
function builtFrom(root: string): string | undefined {
  const stamp = path.join(root, STAMP);
  return existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : undefined;
}

export function clientBuildIsCurrent(root: string): boolean {
  return builtFrom(root) === clientInputsHash(root);
}

/**
 * Builds the client unless its bundle is up to date; returns whether it built. Throws when the build
 * fails (its output has been shown).
 */
export function buildClientIfStale(root: string, say: (line: string) => void): boolean {
  const hash = clientInputsHash(root);
  if (builtFrom(root) === hash) return false;
  say('building the client (its sources changed since the last build)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const { status, error } = spawnSync(npm, ['run', 'build', '-w', 'client'], { cwd: root, stdio: 'inherit' });
  if (error) throw error;
  if (status !== 0) throw new Error(`building the client failed (exit code ${status})`);
  writeFileSync(path.join(root, STAMP), `${hash}\n`);
  return true;
}
