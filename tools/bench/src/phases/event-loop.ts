import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Summary } from '@blog/testkit';

/**
 * Measures how late this process's own event loop runs while a phase is under way: every sighting and every
 * send can be late by that much, so it bounds the error of the latency figures.
 */
export type EventLoopDelay = Pick<Summary, 'p50' | 'p99' | 'max'>;

export function watchEventLoop(): { stop: () => EventLoopDelay } {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  return {
    stop: () => {
      histogram.disable();
      const ms = (ns: number) => (Number.isFinite(ns) && histogram.count > 0 ? ns / 1e6 : null);
      return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
    },
  };
}
