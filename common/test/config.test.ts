import { generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import {
  busServiceConfigSchema,
  commonConfigSchema,
  ConfigError,
  DEVELOPMENT_DELIVERY_PUBLIC_KEY,
  env,
  eventsConfigSchema,
  loadConfig,
} from '../src/service/config';

const schema = z.object({
  PORT: env.port(4000),
  EVENT_BUS_URL: env.url('http://localhost:4005'),
  EVENT_SUBSCRIBERS: env.urlList(['http://localhost:4000']),
  BLOCKED_WORDS: env.wordList(['orange']),
  PROXY_API: env.flag(true),
});

describe('loadConfig', () => {
  it('uses the defaults when nothing is set, and treats empty values as unset', () => {
    expect(loadConfig(schema, { PORT: '', EVENT_BUS_URL: '  ' })).toEqual({
      PORT: 4000,
      EVENT_BUS_URL: 'http://localhost:4005',
      EVENT_SUBSCRIBERS: ['http://localhost:4000'],
      BLOCKED_WORDS: ['orange'],
      PROXY_API: true,
    });
  });

  it('reads and normalises the variables', () => {
    const config = loadConfig(schema, {
      PORT: '8080',
      EVENT_BUS_URL: 'http://event-bus-srv:4005/',
      EVENT_SUBSCRIBERS: ' http://a:1 , http://b:2/,, ',
      BLOCKED_WORDS: 'Orange, LEMON',
      PROXY_API: 'false',
    });
    expect(config).toEqual({
      PORT: 8080,
      EVENT_BUS_URL: 'http://event-bus-srv:4005',
      EVENT_SUBSCRIBERS: ['http://a:1', 'http://b:2'],
      BLOCKED_WORDS: ['orange', 'lemon'],
      PROXY_API: false,
    });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['EVENT_BUS_URL', 'event-bus:4005'],
    ['EVENT_BUS_URL', 'ftp://bus'],
    ['EVENT_SUBSCRIBERS', 'http://ok:1,not a url'],
    ['PROXY_API', 'maybe'],
  ])('stops with an error naming %s=%s', (name, value) => {
    expect(() => loadConfig(schema, { [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { [name]: value })).toThrow(`${name}=${JSON.stringify(value)}: `);
  });
});

describe('security settings', () => {
  const secure = z.object({ EVENTS_TOKEN: env.token(), CORS_ORIGINS: env.originList(['http://localhost:3000']) });

  it('has no token and the default origins when nothing is set', () => {
    expect(loadConfig(secure, {})).toEqual({ EVENTS_TOKEN: undefined, CORS_ORIGINS: ['http://localhost:3000'] });
  });

  it('reads a token and a list of origins', () => {
    expect(
      loadConfig(secure, {
        EVENTS_TOKEN: ' abcdefghijklmnop-_.~ ',
        CORS_ORIGINS: 'https://posts.com, http://localhost:5173/',
      }),
    ).toEqual({
      EVENTS_TOKEN: 'abcdefghijklmnop-_.~',
      CORS_ORIGINS: ['https://posts.com', 'http://localhost:5173'],
    });
  });

  it.each([
    ['short', 'must be at least 16 characters'],
    ['sixteen or more but with spaces', 'must be printable ASCII without spaces'],
  ])('refuses the token %j without printing it', (token, message) => {
    const load = () => loadConfig(secure, { EVENTS_TOKEN: token });
    expect(load).toThrow(`EVENTS_TOKEN=(${token.length} characters, hidden): ${message}`);
    expect(load).not.toThrow(token);
  });

  it.each(['posts.com', 'http://posts.com/app', '*', 'ftp://posts.com'])(
    'refuses the origin %j, naming CORS_ORIGINS',
    (origin) => {
      expect(() => loadConfig(secure, { CORS_ORIGINS: origin })).toThrow(
        `CORS_ORIGINS=${JSON.stringify(origin)}: "${origin}" is not an origin`,
      );
    },
  );
});

describe('DELIVERY_PUBLIC_KEY', () => {
  const schema = z.object({ DELIVERY_PUBLIC_KEY: busServiceConfigSchema.DELIVERY_PUBLIC_KEY });

  it('takes an Ed25519 public key in base64 DER or PEM, and names the variable when it is not one', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(loadConfig(schema, { DELIVERY_PUBLIC_KEY: der }).DELIVERY_PUBLIC_KEY?.asymmetricKeyType).toBe('ed25519');
    expect(
      loadConfig(schema, { DELIVERY_PUBLIC_KEY: publicKey.export({ format: 'pem', type: 'spki' }).toString() })
        .DELIVERY_PUBLIC_KEY?.asymmetricKeyType,
    ).toBe('ed25519');
    expect(loadConfig(schema, {}).DELIVERY_PUBLIC_KEY).toBeUndefined();
    expect(() => loadConfig(schema, { DELIVERY_PUBLIC_KEY: 'abc' })).toThrow(
      'DELIVERY_PUBLIC_KEY=(3 characters, hidden): is not a key in PEM or base64 DER form',
    );
    const { privateKey } = generateKeyPairSync('ed25519');
    const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => loadConfig(schema, { DELIVERY_PUBLIC_KEY: privatePem })).toThrow(
      /DELIVERY_PUBLIC_KEY=\(\d+ characters, hidden\): is a private key: a service gets only the public key/,
    );
    const privateDer = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    expect(() => loadConfig(schema, { DELIVERY_PUBLIC_KEY: privateDer })).toThrow(
      /DELIVERY_PUBLIC_KEY=\(\d+ characters, hidden\): is not a key/,
    );
    const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(() => loadConfig(schema, { DELIVERY_PUBLIC_KEY: x25519 })).toThrow(
      /DELIVERY_PUBLIC_KEY=\(\d+ characters, hidden\): is a x25519 key; it must be an Ed25519 key/,
    );
  });
});

describe('where a process listens (HOST)', () => {
  const listening = z.object(commonConfigSchema);

  it('listens on the IPv4 loopback unless told otherwise', () => {
    expect(loadConfig(listening, {}).HOST).toBe('127.0.0.1');
    expect(loadConfig(listening, { HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(loadConfig(listening, { HOST: '::' }).HOST).toBe('::');
    expect(loadConfig(listening, { HOST: 'my-host.local' }).HOST).toBe('my-host.local');
  });

  it.each(['http://0.0.0.0', '0.0.0.0:4000', 'a host', '-bad-'])('refuses HOST=%j, naming it', (host) => {
    expect(() => loadConfig(listening, { HOST: host })).toThrow(
      new RegExp(`^invalid configuration: HOST=.*must be an IP address to listen on`),
    );
  });
});

describe('the committed development credentials', () => {
  const events = z.object(eventsConfigSchema);
  const committed = 'local-development-only';

  it('is refused outside development, naming EVENTS_TOKEN and BLOG_ENV, and never shown', () => {
    for (const environment of [{}, { BLOG_ENV: 'production' }]) {
      let error: unknown;
      try {
        loadConfig(events, { EVENTS_TOKEN: committed, ...environment });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(
        /EVENTS_TOKEN is a development credential committed in infra\/k8s, accepted only with BLOG_ENV=development/,
      );
      expect((error as Error).message).not.toContain(committed);
    }
  });

  it('are all refused outside development: any token or password of infra/k8s, and its delivery key pair, named together', () => {
    const schema = z.object({
      ...eventsConfigSchema,
      NATS_PASSWORD: z.string().optional(),
      DELIVERY_PUBLIC_KEY: busServiceConfigSchema.DELIVERY_PUBLIC_KEY,
    });
    const committedKeys = {
      NATS_PASSWORD: 'local-development-only-admin',
      DELIVERY_PUBLIC_KEY: DEVELOPMENT_DELIVERY_PUBLIC_KEY,
    };
    expect(() => loadConfig(schema, { EVENTS_TOKEN: 'local-development-posts', ...committedKeys })).toThrow(
      /^invalid configuration: EVENTS_TOKEN, NATS_PASSWORD, DELIVERY_PUBLIC_KEY are development credentials committed in infra\/k8s/,
    );
    expect(
      loadConfig(schema, { EVENTS_TOKEN: 'local-development-posts', ...committedKeys, BLOG_ENV: 'development' })
        .BLOG_ENV,
    ).toBe('development');
    const own = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(
      loadConfig(schema, {
        EVENTS_TOKEN: 'a-token-of-my-own-1234',
        NATS_PASSWORD: 'my-own-password',
        DELIVERY_PUBLIC_KEY: own,
      }).BLOG_ENV,
    ).toBe('production');
  });

  it('is accepted with BLOG_ENV=development; any other token is accepted in production', () => {
    expect(loadConfig(events, { EVENTS_TOKEN: committed, BLOG_ENV: 'development' })).toEqual({
      EVENTS_TOKEN: committed,
      BLOG_ENV: 'development',
    });
    expect(loadConfig(events, { EVENTS_TOKEN: 'a-token-of-my-own-1234' })).toEqual({
      EVENTS_TOKEN: 'a-token-of-my-own-1234',
      BLOG_ENV: 'production',
    });
  });

  it('refuses a BLOG_ENV it does not know, naming it', () => {
    expect(() => loadConfig(events, { BLOG_ENV: 'staging' })).toThrow(
      /BLOG_ENV="staging": must be development or production/,
    );
  });
});
