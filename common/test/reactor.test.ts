import { EventIdTakenError, Reactor, silentLogger } from '@blog/common';
import { recordingLogger } from '@blog/common/testing';
import { eventually } from '@blog/testkit';

function reactorWith(react: (key: string) => Promise<void>) {
  return new Reactor({ react, logger: silentLogger(), backoff: { minDelayMs: 1, maxDelayMs: 5 } });
}

/** A reaction that succeeds at once, keeping each key it was asked to publish. */
function publishingTo(published: string[]) {
  return (key: string): Promise<void> => {
    published.push(key);
    return Promise.resolve();
  };
}

describe('Reactor', () => {
  it('publishes nothing before start, then only what is still needed', async () => {
    const published: string[] = [];
    const reactor = reactorWith(publishingTo(published));
    reactor.need('a');
    reactor.need('b');
    reactor.done('a'); // the history already held a's reaction
    expect(published).toEqual([]);
    reactor.start();
    await eventually(() => expect(published).toHaveLength(1));
    expect(published).toEqual(['b']);
    reactor.stop();
  });

  it('publishes once per key even when asked again before the echo arrives', async () => {
    const published: string[] = [];
    const reactor = reactorWith(publishingTo(published));
    reactor.start();
    reactor.need('a');
    await eventually(() => expect(published).toHaveLength(1));
    reactor.need('a');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(published).toEqual(['a']);
    reactor.done('a');
    expect(reactor.outstanding).toBe(0);
    reactor.stop();
  });

  it('retries a failed publish until it succeeds', async () => {
    let failuresLeft = 3;
    const published: string[] = [];
    const reactor = reactorWith((key) => {
      if (failuresLeft-- > 0) return Promise.reject(new Error('bus down'));
      published.push(key);
      return Promise.resolve();
    });
    reactor.start();
    reactor.need('a');
    await eventually(() => expect(published).toHaveLength(1));
    expect(published).toEqual(['a']);
    reactor.stop();
  });

  it('can react again after the echo of the previous reaction', async () => {
    const published: string[] = [];
    const reactor = reactorWith(publishingTo(published));
    reactor.start();
    reactor.need('a');
    await eventually(() => expect(published).toHaveLength(1));
    reactor.done('a');
    reactor.need('a');
    await eventually(() => expect(published).toHaveLength(2));
    reactor.stop();
  });

  it('does not retry a reaction whose id the bus holds with another event, and says so', async () => {
    const { logger, lines } = recordingLogger();
    let attempts = 0;
    const reactor = new Reactor({
      react: () => {
        attempts++;
        return Promise.reject(new EventIdTakenError('reaction-1', { type: 'CommentUpdated' }));
      },
      logger,
      backoff: { minDelayMs: 1, maxDelayMs: 5 },
    });
    reactor.start();
    reactor.need('a');
    await eventually(() =>
      expect(lines()).toContainEqual(expect.objectContaining({ level: 50, key: 'a', eventId: 'reaction-1' })),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(attempts).toBe(1);
    reactor.stop();
  });
});
