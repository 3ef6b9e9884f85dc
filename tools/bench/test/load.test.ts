import type { JsonAnswer } from '../src/http';
import { runClosedLoop, runOpenLoop } from '../src/load';

const created = (): Promise<JsonAnswer> => Promise.resolve({ status: 201, body: { id: 'x' } });
const after = (ms: number, answer: JsonAnswer): Promise<JsonAnswer> =>
  new Promise((resolve) => setTimeout(() => resolve(answer), ms));

describe('runOpenLoop', () => {
  it('sends on schedule at the offered rate, whatever the answers take', async () => {
    const result = await runOpenLoop({
      ratePerSecond: 200,
      durationMs: 300,
      maxInFlight: 1_000,
      send: () => after(50, { status: 201, body: {} }),
    });
    expect(result.scheduled).toBe(60);
    expect(result.attempts).toHaveLength(60);
    expect(result.shed).toBe(0);
    const sentAt = result.attempts.map((attempt) => attempt.sentAt);
    const span = Math.max(...sentAt) - Math.min(...sentAt);
    // 59 intervals of 5 ms; slow answers (50 ms) must not slow the sending down.
    expect(span).toBeGreaterThan(280);
    expect(span).toBeLessThan(600);
    expect(result.attempts.every((attempt) => attempt.status === 201 && attempt.doneAt - attempt.sentAt >= 45)).toBe(
      true,
    );
  });

  it('skips and counts sends that fall due while the in-flight cap is reached', async () => {
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = runOpenLoop({
      ratePerSecond: 500,
      durationMs: 100,
      maxInFlight: 3,
      send: () => stuck.then(() => ({ status: 201, body: {} })),
    });
    setTimeout(release, 200);
    const result = await running;
    expect(result.attempts).toHaveLength(3);
    expect(result.shed).toBe(result.scheduled - 3);
    expect(result.attempts.map((attempt) => attempt.index)).toEqual([0, 1, 2]);
  });

  it('numbers sends from firstIndex and records failures by their code', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const result = await runOpenLoop({
      ratePerSecond: 1_000,
      durationMs: 3,
      maxInFlight: 10,
      firstIndex: 7,
      send: () => Promise.reject(refused),
    });
    expect(result.attempts.map((attempt) => attempt.index)).toEqual([7, 8, 9]);
    expect(result.attempts.every((attempt) => attempt.status === null && attempt.failure === 'ECONNREFUSED')).toBe(
      true,
    );
  });
});

describe('runClosedLoop', () => {
  it('keeps exactly `concurrency` requests in flight and stops at maxRequests', async () => {
    let inFlight = 0;
    let most = 0;
    const result = await runClosedLoop({
      concurrency: 4,
      durationMs: 10_000,
      maxRequests: 10,
      send: async () => {
        most = Math.max(most, ++inFlight);
        await after(5, { status: 201, body: {} });
        inFlight--;
        return created();
      },
    });
    expect(result.attempts).toHaveLength(10);
    expect(most).toBe(4);
    expect(new Set(result.attempts.map((attempt) => attempt.index)).size).toBe(10);
    expect(result.elapsedMs).toBeGreaterThan(10);
  });

  it('stops starting requests when its time is up', async () => {
    const result = await runClosedLoop({
      concurrency: 2,
      durationMs: 50,
      maxRequests: 1_000_000,
      send: () => after(10, { status: 201, body: {} }),
    });
    expect(result.attempts.length).toBeGreaterThanOrEqual(2);
    expect(result.attempts.length).toBeLessThanOrEqual(14);
  });
});
