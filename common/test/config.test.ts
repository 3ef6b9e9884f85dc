import { z } from 'zod';
import { commonConfigSchema, ConfigError, env, eventsConfigSchema, loadConfig } from '../src/config';

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

describe('where a process listens (HOST)', () => {
  const listening = z.object(commonConfigSchema);

  it('listens on the IPv4 loopback unless told otherwise', () => {
    expect(loadConfig(listening, {}).HOST).toBe('127.0.0.1');
    expect(loadConfig(listening, { HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(loadConfig(listening, { HOST: '::' }).HOST).toBe('::');
    expect(loadConfig(listening, { HOST: 'my-host.local' }).HOST).toBe('my-host.local');
  });

  it.each(['http://0.0.0.0', '0.0.0.0:4000', 'a host', '-bad-'])('refuses HOST=%j, naming it', (host) => {
    expect(() => loadConfig(listening, { HOST: host })).toThrow(new RegExp(`^invalid configuration: HOST=.*must be an IP address to listen on`));
  });
});

describe('the development events token', () => {
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
      expect((error as Error).message).toMatch(/EVENTS_TOKEN is the development token .* only with BLOG_ENV=development/);
    }
  });

  it('is accepted with BLOG_ENV=development; any other token is accepted in production', () => {
    expect(loadConfig(events, { EVENTS_TOKEN: committed, BLOG_ENV: 'development' })).toEqual({ EVENTS_TOKEN: committed, BLOG_ENV: 'development' });
    expect(loadConfig(events, { EVENTS_TOKEN: 'a-token-of-my-own-1234' })).toEqual({ EVENTS_TOKEN: 'a-token-of-my-own-1234', BLOG_ENV: 'production' });
  });

  it('refuses a BLOG_ENV it does not know, naming it', () => {
    expect(() => loadConfig(events, { BLOG_ENV: 'staging' })).toThrow(/BLOG_ENV="staging": must be development or production/);
  });
});
