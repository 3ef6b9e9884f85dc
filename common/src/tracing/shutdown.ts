/** What stops the tracing SDK (exporting the spans it still holds), registered when it started. */
let stop: (() => Promise<void>) | undefined;

export function onTracingStop(stopTracing: () => Promise<void>): void {
  stop = stopTracing;
}

/** Exports the spans still held and stops tracing; nothing to do when it never started. */
export async function stopTracing(): Promise<void> {
  const current = stop;
  stop = undefined;
  await current?.();
}
