import { generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import { busServiceConfigSchema, ConfigError, env, loadConfig } from '../src/config';

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
    expect(loadConfig(secure, { EVENTS_TOKEN: ' abcdefghijklmnop-_.~ ', CORS_ORIGINS: 'https://posts.com, http://localhost:5173/' })).toEqual({
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

  it.each(['posts.com', 'http://posts.com/app', '*', 'ftp://posts.com'])('refuses the origin %j, naming CORS_ORIGINS', (origin) => {
    expect(() => loadConfig(secure, { CORS_ORIGINS: origin })).toThrow(`CORS_ORIGINS=${JSON.stringify(origin)}: "${origin}" is not an origin`);
  });
});

describe('DELIVERY_PUBLIC_KEY', () => {
  const schema = z.object({ DELIVERY_PUBLIC_KEY: busServiceConfigSchema.DELIVERY_PUBLIC_KEY });

  it('takes an Ed25519 public key in base64 DER or PEM, and names the variable when it is not one', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(loadConfig(schema, { DELIVERY_PUBLIC_KEY: der }).DELIVERY_PUBLIC_KEY?.asymmetricKeyType).toBe('ed25519');
    expect(loadConfig(schema, { DELIVERY_PUBLIC_KEY: publicKey.export({ format: 'pem', type: 'spki' }).toString() }).DELIVERY_PUBLIC_KEY?.asymmetricKeyType).toBe('ed25519');
    expect(loadConfig(schema, {}).DELIVERY_PUBLIC_KEY).toBeUndefined();
    expect(() => loadConfig(schema, { DELIVERY_PUBLIC_KEY: 'abc' })).toThrow('DELIVERY_PUBLIC_KEY=(3 characters, hidden): is not a key in PEM or base64 DER form');
    const { privateKey } = generateKeyPairSync('ed25519');
    const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => loadConfig(schema, { DELIVERY_PUBLIC_KEY: privatePem })).toThrow(/DELIVERY_PUBLIC_KEY=\(\d+ characters, hidden\): is a private key: a service gets only the public key/);
    const privateDer = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    expect(() => loadConfig(schema, { DELIVERY_PUBLIC_KEY: privateDer })).toThrow(/DELIVERY_PUBLIC_KEY=\(\d+ characters, hidden\): is not a key/);
    const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(() => loadConfig(schema, { DELIVERY_PUBLIC_KEY: x25519 })).toThrow(/DELIVERY_PUBLIC_KEY=\(\d+ characters, hidden\): is a x25519 key; it must be an Ed25519 key/);
  });
});
