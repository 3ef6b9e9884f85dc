/**
 * Where each record starts and ends in the log's text: growing offsets, 8 bytes per event, from seq `first`
 * on (1 for a log read from its start; a later one for a log only its newest events were read of).
 */
export class ByteOffsets {
  private ends = new Float64Array(1024);
  private known = 0;

  constructor(readonly first = 1) {}

  /** The last seq: the records before `first` and those pushed. */
  get count(): number {
    return this.first - 1 + this.known;
  }

  /** Adds the next record, `bytes` long (its newline included). */
  push(bytes: number): void {
    if (this.known + 1 >= this.ends.length) {
      const grown = new Float64Array(this.ends.length * 2);
      grown.set(this.ends);
      this.ends = grown;
    }
    this.ends[this.known + 1] = this.end + bytes;
    this.known++;
  }

  /** Byte length of the whole records from `first` on: where the next one goes. */
  get end(): number {
    return this.ends[this.known] as number;
  }

  startOf(seq: number): number {
    return this.ends[seq - this.first] as number;
  }

  endOf(seq: number): number {
    return this.ends[seq - this.first + 1] as number;
  }

  /**
   * The last seq in [first, last] such that first..seq take at most maxBytes (at least `first`); `last`
   * when the sizes from `first` on are not known here (the reader of the older events bounds them).
   */
  lastWithin(first: number, last: number, maxBytes: number): number {
    if (last < first || !Number.isFinite(maxBytes) || first < this.first) return last;
    const limit = this.startOf(first) + maxBytes;
    let seq = first;
    while (seq < last && this.endOf(seq + 1) <= limit) seq++;
    return seq;
  }
}
