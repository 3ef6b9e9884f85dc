/** How `npm start` chooses the events token, and what each service is told of it. */
import { DEFAULT_PORTS, localEventsToken, serviceEnv } from '@blog/stack';

describe('the events token of a local stack', () => {
  it('is the one EVENTS_TOKEN sets, a fresh one without it, and none with EVENTS_TOKEN=none (open intake for course services)', () => {
    expect(localEventsToken({ EVENTS_TOKEN: ' a-token-set-by-you-1234 ' })).toBe('a-token-set-by-you-1234');
    const fresh = localEventsToken({});
    expect(fresh).toMatch(/^[\w-]{32}$/);
    expect(localEventsToken({})).not.toBe(fresh);
    expect(localEventsToken({ EVENTS_TOKEN: '' })).toMatch(/^[\w-]{32}$/);
    expect(localEventsToken({ EVENTS_TOKEN: 'none' })).toBeUndefined();
  });

  it('reaches the bus and every service, and without one each gets an empty value (not the runner’s "none")', () => {
    expect(serviceEnv('posts', DEFAULT_PORTS, 'start', 'a-token-set-by-you-1234').EVENTS_TOKEN).toBe('a-token-set-by-you-1234');
    for (const name of ['event-bus', 'posts', 'comments', 'query', 'moderation'] as const) expect([name, serviceEnv(name, DEFAULT_PORTS, 'start', undefined).EVENTS_TOKEN]).toEqual([name, '']);
  });
});
