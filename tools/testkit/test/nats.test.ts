import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareVersions, findNatsServer, MINIMUM_NATS_SERVER } from '@blog/testkit';

describe('finding a nats-server', () => {
  it('compares versions part by part', () => {
    expect(compareVersions('2.10.27', MINIMUM_NATS_SERVER)).toBeGreaterThan(0);
    expect(compareVersions('2.9.10', MINIMUM_NATS_SERVER)).toBeLessThan(0);
    expect(compareVersions('2.10.23', '2.10.23')).toBe(0);
    expect(compareVersions('2.11.0', '2.10.99')).toBeGreaterThan(0);
  });

  it('says what to do when none is found', () => {
    const emptyCache = mkdtempSync(path.join(os.tmpdir(), 'no-nats-'));
    try {
      expect(() =>
        findNatsServer({ NATS_SERVER: path.join(emptyCache, 'missing'), XDG_CACHE_HOME: emptyCache, PATH: '' }),
      ).toThrow(/no nats-server 2\.10\.23 or later found.*tools\/scripts\/nats-server\.sh.*NATS_SERVER/);
    } finally {
      rmSync(emptyCache, { recursive: true, force: true });
    }
  });
});
