import { applyJsonPatch } from '../src/skaffold';

describe("skaffold profiles' JSON patches", () => {
  const doc = { build: { artifacts: [{ image: 'a', docker: { target: 'dev' } }] } };

  it('applies every RFC 6902 operation, leaving the document and the operations as they were', () => {
    const operations = [
      { op: 'add', path: '/build/artifacts/-', value: { image: 'b' } },
      { op: 'replace', path: '/build/artifacts/1/image', value: 'c' },
      { op: 'copy', from: '/build/artifacts/0/docker', path: '/build/artifacts/1/docker' },
      { op: 'move', from: '/build/artifacts/1/docker/target', path: '/build/artifacts/1/docker/stage' },
      { op: 'test', path: '/build/artifacts/0/image', value: 'a' },
      { op: 'remove', path: '/build/artifacts/0/docker' },
      { path: '/build/artifacts/0/image', value: 'd' }, // skaffold's default op: replace
    ];
    const copy = structuredClone(operations);
    expect(applyJsonPatch(doc, operations)).toEqual({
      build: { artifacts: [{ image: 'd' }, { image: 'c', docker: { stage: 'dev' } }] },
    });
    expect(doc).toEqual({ build: { artifacts: [{ image: 'a', docker: { target: 'dev' } }] } });
    expect(operations).toEqual(copy);
  });

  it.each([
    [
      { op: 'replace', path: '/build/artifacts/3/image', value: 'x' },
      /^path \/build\/artifacts\/3\/image does not exist: nothing there to replace \(patches\[1\]: replace/,
    ],
    [
      { op: 'remove', path: '/build/artifacts/0/sync' },
      /^path \/build\/artifacts\/0\/sync does not exist: nothing there to remove \(patches\[1\]: remove/,
    ],
    [
      { op: 'add', path: '/deploy/helm/releases', value: [] },
      /^path \/deploy\/helm\/releases does not exist: its parent is missing/,
    ],
    [
      { op: 'add', path: '/build/artifacts/5', value: {} },
      /^path \/build\/artifacts\/5: the array index is out of range \(patches\[1\]: add/,
    ],
    [{ op: 'ad', path: '/build' }, /^ad is not a JSON patch operation .*\(patches\[1\]: ad \/build\)$/],
    [{ op: 'test', path: '/build/artifacts/0/image', value: 'b' }, /^test \/build\/artifacts\/0\/image failed/],
  ])('a failing operation is named with its index and why: %j', (failing, message) => {
    expect(() => applyJsonPatch(doc, [{ op: 'add', path: '/build/local', value: { push: false } }, failing])).toThrow(
      message,
    );
  });
});
