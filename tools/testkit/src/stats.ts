/** Percentiles of recorded samples by the nearest-rank method: the smallest sample with at least p% of samples ≤ it. */

export interface Summary {
  count: number;
  min: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** Nearest rank of an ascending array: sorted[ceil(p/100 · n) − 1]; p = 0 gives the minimum; null when empty. */
export function percentile(sortedAscending: readonly number[], p: number): number | null {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const n = sortedAscending.length;
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  return sortedAscending[rank - 1] as number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = Float64Array.from(samples).sort();
  const values = Array.from(sorted);
  const n = values.length;
  let total = 0;
  for (const value of values) total += value;
  return {
    count: n,
    min: n === 0 ? null : (values[0] as number),
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: n === 0 ? null : (values[n - 1] as number),
    mean: n === 0 ? null : total / n,
  };
}

/** Counts of each distinct key, e.g. HTTP status codes. */
export function tally<K extends string | number>(keys: Iterable<K>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[String(key)] = (counts[String(key)] ?? 0) + 1;
  return counts;
}
