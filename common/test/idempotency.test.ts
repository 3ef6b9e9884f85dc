/** CreatesByKey on its own: when a keyed create may trust the state, and when it catches up first. */
import { CreatesByKey, EventIdTakenError } from '@blog/common';

function createsWith({ position, idsFrom }: { position: number; idsFrom: number | undefined }) {
  const state = {
    position,
    syncs: 0,
    sync: () => {
      state.syncs++;
      return Promise.resolve();
    },
  };
  return { state, creates: new CreatesByKey({ state, bus: { idsFrom } }) };
}

const keyed = (creates: CreatesByKey, found: string | undefined, body: string, stored: string) =>
  creates.create('key', {
    find: () => found,
    sameBody: (held) => held === body,
    create: () => Promise.resolve(stored),
  });

describe('CreatesByKey', () => {
  it('trusts the state without reading the history while it holds everything older than the bus remembers', async () => {
    const { state, creates } = createsWith({ position: 41, idsFrom: 42 });
    await expect(keyed(creates, undefined, 'mine', 'mine')).resolves.toBe('mine');
    expect(state.syncs).toBe(0);
  });

  it('catches up first when it is behind what the bus remembers, or the bus did not say', async () => {
    for (const idsFrom of [43, undefined]) {
      const { state, creates } = createsWith({ position: 41, idsFrom });
      await expect(keyed(creates, undefined, 'mine', 'mine')).resolves.toBe('mine');
      expect(state.syncs).toBe(1);
    }
  });

  it('answers 422 for another body: held in the state, or held by the bus', async () => {
    const { creates } = createsWith({ position: 0, idsFrom: 1 });
    await expect(keyed(creates, 'theirs', 'mine', 'mine')).rejects.toMatchObject({ status: 422 });
    const taken = creates.create('key', {
      find: () => undefined,
      sameBody: () => true,
      create: () => Promise.reject(new EventIdTakenError('e1', {})),
    });
    await expect(taken).rejects.toMatchObject({
      status: 422,
      message: expect.stringMatching(/Idempotency-Key was already used with a different body/),
    });
  });

  it('creates without a key, asking nothing of the state', async () => {
    const { state, creates } = createsWith({ position: 0, idsFrom: undefined });
    await expect(
      creates.create(undefined, {
        find: () => 'never asked',
        sameBody: () => false,
        create: () => Promise.resolve('created'),
      }),
    ).resolves.toBe('created');
    expect(state.syncs).toBe(0);
  });
});
