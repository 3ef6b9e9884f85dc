/** How `npm start` chooses the event credentials, and what each process is told of them. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { DEFAULT_PORTS, localEventsCredentials, newEventsCredentials, serviceEnv } from '@blog/stack';

describe('the event credentials of a local stack', () => {
  it('are fresh at each start, with the operator token EVENTS_TOKEN sets, and none with EVENTS_TOKEN=none (open intake for course services)', () => {
    expect(localEventsCredentials({ EVENTS_TOKEN: ' a-token-set-by-you-1234 ' })?.operatorToken).toBe(
      'a-token-set-by-you-1234',
    );
    const fresh = localEventsCredentials({});
    expect(fresh?.operatorToken).toMatch(/^[\w-]{32}$/);
    expect(localEventsCredentials({})?.operatorToken).not.toBe(fresh?.operatorToken);
    expect(localEventsCredentials({ EVENTS_TOKEN: '' })?.operatorToken).toMatch(/^[\w-]{32}$/);
    expect(localEventsCredentials({ EVENTS_TOKEN: 'none' })).toBeUndefined();
  });

  it('give each service a token of its own and a key pair whose public half the services hold', () => {
    const { operatorToken, serviceTokens, signingKey, publicKey } = newEventsCredentials();
    expect(new Set([operatorToken, ...Object.values(serviceTokens)]).size).toBe(5);
    const derived = createPublicKey(
      createPrivateKey({ key: Buffer.from(signingKey, 'base64'), format: 'der', type: 'pkcs8' }),
    );
    expect(derived.export({ format: 'der', type: 'spki' }).toString('base64')).toBe(publicKey);
  });

  it('reach the bus (every token, the signing key) and each service (its own token, the public key only)', () => {
    const credentials = newEventsCredentials('a-token-set-by-you-1234');
    expect(serviceEnv('event-bus', DEFAULT_PORTS, 'start', credentials)).toMatchObject({
      EVENTS_TOKEN: 'a-token-set-by-you-1234',
      POSTS_EVENTS_TOKEN: credentials.serviceTokens.posts,
      QUERY_EVENTS_TOKEN: credentials.serviceTokens.query,
      DELIVERY_SIGNING_KEY: credentials.signingKey,
    });
    const posts = serviceEnv('posts', DEFAULT_PORTS, 'start', credentials);
    expect(posts).toMatchObject({
      EVENTS_TOKEN: credentials.serviceTokens.posts,
      DELIVERY_PUBLIC_KEY: credentials.publicKey,
    });
    expect(Object.values(posts)).not.toContain(credentials.signingKey);
    expect(Object.values(posts)).not.toContain('a-token-set-by-you-1234');
  });

  it('without credentials, give every process empty values (not the runner’s "none")', () => {
    for (const name of ['event-bus', 'posts', 'comments', 'query', 'moderation'] as const) {
      const env = serviceEnv(name, DEFAULT_PORTS, 'start', undefined);
      expect([name, env.EVENTS_TOKEN, env.DELIVERY_SIGNING_KEY ?? env.DELIVERY_PUBLIC_KEY]).toEqual([name, '', '']);
    }
  });
});
