/** The bus's configuration: its defaults, and the messages for wrong values. */
import path from 'node:path';
import { loadConfig } from '@blog/common';
import { configSchema } from '../src/config';

const ROOT = path.resolve(__dirname, '..', '..');

describe('event-bus configuration', () => {
  it("keeps the log in the repository's .data/event-bus by default, wherever the bus is started from", () => {
    const cwd = process.cwd();
    try {
      for (const dir of [ROOT, path.join(ROOT, 'event-bus')]) {
        process.chdir(dir);
        expect(loadConfig(configSchema, {}).EVENT_LOG_DIR).toBe(path.join(ROOT, '.data', 'event-bus'));
      }
    } finally {
      process.chdir(cwd);
    }
  });

  it('takes EVENT_SUBSCRIBERS=none for a bus that pushes to no one, and names a wrong variable', () => {
    expect(loadConfig(configSchema, { EVENT_SUBSCRIBERS: 'none' }).EVENT_SUBSCRIBERS).toEqual([]);
    expect(() => loadConfig(configSchema, { EVENT_LOG: 'kafka' })).toThrow(/EVENT_LOG="kafka"/);
    expect(() => loadConfig(configSchema, { NATS_URL: 'http://nats:4222' })).toThrow(/NATS_URL=.*is not a NATS server URL/);
  });
});
