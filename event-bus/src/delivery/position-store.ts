/**
 * How far each pushed-to subscriber has acknowledged, kept by the bus so that a restart resumes each one
 * there: a subscriber that reports no position of its own (a course service answers `{}`) is then sent
 * again at most what was in flight, never the whole history.
 */
export interface PositionStore {
  /** The last seq `url` acknowledged, as stored; 0 when unknown. */
  load(url: string): Promise<number>;
  /** Stores that `url` acknowledged everything up to `seq`; resolves once it is durable. */
  save(url: string, seq: number): Promise<void>;
  close(): Promise<void>;
}
