import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { clientBuildIsCurrent, clientInputsHash, CLIENT_INPUTS } from '@blog/stack';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A repository-shaped folder with a client source file and a common one. */
function fakeRepo(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'stack-client-build-'));
  roots.push(root);
  mkdirSync(path.join(root, 'client', 'src'), { recursive: true });
  mkdirSync(path.join(root, 'common', 'src', 'contracts'), { recursive: true });
  mkdirSync(path.join(root, 'client', 'dist'), { recursive: true });
  writeFileSync(path.join(root, 'client', 'src', 'App.tsx'), 'export const App = 1;');
  writeFileSync(path.join(root, 'common', 'src', 'contracts', 'api.ts'), 'export const LIMITS = {};');
  return root;
}

const stamp = (root: string) =>
  writeFileSync(path.join(root, 'client', 'dist', '.inputs-sha256'), `${clientInputsHash(root)}\n`);

describe('the client build check', () => {
  it('takes the sources of the page and what it imports from common', () => {
    expect(CLIENT_INPUTS).toEqual(
      expect.arrayContaining(['client/src', 'common/src', 'client/index.html', 'package-lock.json']),
    );
  });

  it('is current right after a build, and stale once any input changes, appears or goes', () => {
    const root = fakeRepo();
    expect(clientBuildIsCurrent(root)).toBe(false);
    stamp(root);
    expect(clientBuildIsCurrent(root)).toBe(true);

    writeFileSync(path.join(root, 'common', 'src', 'contracts', 'api.ts'), 'export const LIMITS = { title: 200 };');
    expect(clientBuildIsCurrent(root)).toBe(false);
    stamp(root);
    writeFileSync(path.join(root, 'client', 'src', 'New.tsx'), '');
    expect(clientBuildIsCurrent(root)).toBe(false);
    stamp(root);
    rmSync(path.join(root, 'client', 'src', 'New.tsx'));
    expect(clientBuildIsCurrent(root)).toBe(false);
  });

  it('ignores files that are not inputs, such as the bundle itself', () => {
    const root = fakeRepo();
    stamp(root);
    writeFileSync(path.join(root, 'client', 'dist', 'index.html'), '<!doctype html>');
    expect(clientBuildIsCurrent(root)).toBe(true);
  });
});
