/** The bus's configuration: its defaults, and the messages for wrong values. */
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { loadConfig } from '@blog/common';
import { configSchema, serviceTokensOf } from '../src/config';

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
    expect(() => loadConfig(configSchema, { NATS_URL: 'http://nats:4222' })).toThrow(
      /NATS_URL=.*is not a NATS server URL/,
    );
  });

  it('remembers 100,000 event ids and a 2-minute JetStream duplicate window by default, and names a wrong value', () => {
    const config = loadConfig(configSchema, {});
    expect([config.EVENT_IDS_REMEMBERED, config.NATS_DUPLICATE_WINDOW_MS]).toEqual([100_000, 120_000]);
    expect(loadConfig(configSchema, { EVENT_IDS_REMEMBERED: '50', NATS_DUPLICATE_WINDOW_MS: '300000' })).toMatchObject({
      EVENT_IDS_REMEMBERED: 50,
      NATS_DUPLICATE_WINDOW_MS: 300_000,
    });
    expect(() => loadConfig(configSchema, { EVENT_IDS_REMEMBERED: '0' })).toThrow(
      /EVENT_IDS_REMEMBERED="0": must be a whole number from 1 to 10000000/,
    );
    expect(() => loadConfig(configSchema, { NATS_DUPLICATE_WINDOW_MS: '2m' })).toThrow(/NATS_DUPLICATE_WINDOW_MS="2m"/);
    expect(() => loadConfig(configSchema, { EVENT_LOG: 'jetstream', NATS_DUPLICATE_WINDOW_MS: '15000' })).toThrow(
      /NATS_DUPLICATE_WINDOW_MS="15000": must be longer than NATS_PUBLISH_TIMEOUT_MS \(15000\)/,
    );
    expect(
      loadConfig(configSchema, { NATS_DUPLICATE_WINDOW_MS: '3000', NATS_PUBLISH_TIMEOUT_MS: '2000' })
        .NATS_DUPLICATE_WINDOW_MS,
    ).toBe(3000);
  });

  it('takes a NATS user and an administrator each with a password, and names the half given alone', () => {
    expect(
      loadConfig(configSchema, {
        NATS_USER: 'bus',
        NATS_PASSWORD: 'b',
        NATS_ADMIN_USER: 'admin',
        NATS_ADMIN_PASSWORD: 'a',
      }),
    ).toMatchObject({ NATS_USER: 'bus', NATS_ADMIN_USER: 'admin' });
    expect(() => loadConfig(configSchema, { NATS_ADMIN_USER: 'admin' })).toThrow(
      /NATS_ADMIN_PASSWORD="": must be set together with NATS_ADMIN_USER/,
    );
    expect(() => loadConfig(configSchema, { NATS_PASSWORD: 'secret' })).toThrow(
      /NATS_USER="": must be set together with NATS_PASSWORD/,
    );
  });

  it('takes a token per service, each different, and an Ed25519 signing key in base64 DER or PEM; a wrong one stops the bus naming it, never showing it', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const der = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const config = loadConfig(configSchema, {
      EVENTS_TOKEN: 'the-operators-own-token',
      POSTS_EVENTS_TOKEN: 'posts-token-of-24-chars',
      DELIVERY_SIGNING_KEY: der,
    });
    expect(config.DELIVERY_SIGNING_KEY?.asymmetricKeyType).toBe('ed25519');
    expect(serviceTokensOf(config)).toEqual({ posts: 'posts-token-of-24-chars' });
    expect(loadConfig(configSchema, { DELIVERY_SIGNING_KEY: pem }).DELIVERY_SIGNING_KEY?.asymmetricKeyType).toBe(
      'ed25519',
    );

    expect(() =>
      loadConfig(configSchema, {
        POSTS_EVENTS_TOKEN: 'one-token-for-two-users',
        QUERY_EVENTS_TOKEN: 'one-token-for-two-users',
      }),
    ).toThrow(
      'QUERY_EVENTS_TOKEN=(23 characters, hidden): must differ from POSTS_EVENTS_TOKEN: each client needs a token of its own',
    );
    expect(() => loadConfig(configSchema, { DELIVERY_SIGNING_KEY: 'bm90IGEga2V5' })).toThrow(
      'DELIVERY_SIGNING_KEY=(12 characters, hidden): is not a key in PEM or base64 DER form',
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ format: 'der', type: 'pkcs8' })
      .toString('base64');
    expect(() => loadConfig(configSchema, { DELIVERY_SIGNING_KEY: rsa })).toThrow(
      /DELIVERY_SIGNING_KEY=\(\d+ characters, hidden\): is a rsa key; it must be an Ed25519 key/,
    );
  });

  it('refuses service tokens without a signing key while it pushes to subscribers: no service would take its deliveries', () => {
    expect(() => loadConfig(configSchema, { POSTS_EVENTS_TOKEN: 'posts-token-of-24-chars' })).toThrow(
      /DELIVERY_SIGNING_KEY="": must be set with POSTS_EVENTS_TOKEN while the bus pushes to EVENT_SUBSCRIBERS/,
    );
    expect(
      loadConfig(configSchema, { POSTS_EVENTS_TOKEN: 'posts-token-of-24-chars', EVENT_SUBSCRIBERS: 'none' })
        .EVENT_SUBSCRIBERS,
    ).toEqual([]);
  });
});
