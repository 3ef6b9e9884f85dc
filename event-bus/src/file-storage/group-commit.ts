interface Queued<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: Error) => void;
}

/**
 * Group commit: items added while a write is under way are written together by the next one, so under
 * load one write (and one fsync) covers many. The items added in the same turn of the event loop as the
 * first one join the first write. A write that throws refuses its whole batch with that error; the next
 * batch is tried all the same.
 */
export class GroupCommit<T, R> {
  private queue: Queued<T, R>[] = [];
  private running: Promise<void> | undefined;

  /** `write` stores a batch and returns one result per item, in order. */
  constructor(private readonly write: (items: T[]) => Promise<R[]>) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.running ??= this.run();
    });
  }

  /** Resolves once everything added so far is written or refused. */
  settled(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        const results = await this.write(batch.map(({ item }) => item));
        batch.forEach(({ resolve }, i) => resolve(results[i] as R));
      } catch (err) {
        for (const { reject } of batch) reject(err as Error);
      }
    }
    this.running = undefined;
  }
}
