import { percentile, summarize, tally } from '@blog/testkit';

describe('percentile (nearest rank)', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('picks the smallest sample with at least p% of the samples at or below it', () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 99.5)).toBe(100);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile(oneToHundred, 0)).toBe(1);
  });

  it('never interpolates: with few samples p99 is the largest', () => {
    expect(percentile([1, 2, 3], 99)).toBe(3);
    expect(percentile([1, 2, 3], 50)).toBe(2);
    expect(percentile([10, 20], 50)).toBe(10);
  });

  it('is null without samples and refuses a p outside 0..100', () => {
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts numerically, not as strings', () => {
    const summary = summarize([100, 9, 25, 3, 1000]);
    expect(summary).toMatchObject({ count: 5, min: 3, p50: 25, p99: 1000, max: 1000, mean: 227.4 });
  });

  it('leaves the input in its order', () => {
    const samples = [3, 1, 2];
    summarize(samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  it('reports an empty set as nulls', () => {
    expect(summarize([])).toEqual({ count: 0, min: null, p50: null, p95: null, p99: null, max: null, mean: null });
  });
});

describe('tally', () => {
  it('counts each key', () => {
    expect(tally([201, 201, 503, 'ECONNRESET'])).toEqual({ '201': 2, '503': 1, ECONNRESET: 1 });
  });
});
