import { eventually, waitFor, waitUntil } from '@blog/testkit';

describe('waiting', () => {
  it('waitFor returns what the check found once it finds it', async () => {
    let calls = 0;
    expect(
      await waitFor(() => (++calls >= 3 ? `found on call ${calls}` : undefined), {
        what: 'a third call',
        intervalMs: 1,
      }),
    ).toBe('found on call 3');
  });

  it('waitFor names what it waited for, the last failure and the detail when time runs out', async () => {
    const waiting = waitFor(
      () => {
        throw new Error('not yet');
      },
      { what: 'the impossible', timeoutMs: 20, intervalMs: 5, detail: () => 'state: empty' },
    );
    await expect(waiting).rejects.toThrow(
      'timed out after 20ms waiting for the impossible; last check failed with: not yet; state: empty',
    );
  });

  it('waitUntil answers whether the condition held in time', async () => {
    let flag = false;
    setTimeout(() => (flag = true), 5);
    expect(await waitUntil(() => flag, 2_000, 1)).toBe(true);
    expect(await waitUntil(() => false, 10, 1)).toBe(false);
  });

  it('eventually passes once the assertion does, and otherwise throws its last failure', async () => {
    let value = 0;
    setTimeout(() => (value = 1), 5);
    await eventually(() => expect(value).toBe(1), { timeoutMs: 2_000, intervalMs: 1 });
    await expect(eventually(() => expect(value).toBe(2), { timeoutMs: 10, intervalMs: 1 })).rejects.toThrow(
      /Expected: 2/,
    );
  });
});
