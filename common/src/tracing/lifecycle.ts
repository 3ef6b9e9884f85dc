/** What stops the tracing SDK (exporting the spans it still holds), registered when it started. */
let stop: (() => Promise<void>) | undefined;

export function onTracingStop(stopTracing: () => Promise<void>): void {
  stop = stopTracing;
}

/**
 * Whether this process started tracing: work done per event only for its spans (reading each delivered
 * event's trace context) is skipped when it did not.
 */
export function tracingStarted(): boolean {
  return stop !== undefined;
}

/** Exports the spans still held and stops tracing; nothing to do when it never started. */
export async function stopTracing(): Promise<void> {
  const current = stop;
  stop = undefined;
  await current?.();
}
