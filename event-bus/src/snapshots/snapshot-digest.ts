import { createHash } from 'node:crypto';
import { HttpError } from '@blog/common';

/** The bytes of a body as they pass, their count and SHA-256; refuses a body past `maxBytes`. */
export class SnapshotDigest {
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(private readonly maxBytes: number) {}

  async *pass(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of body) {
      this.bytes += chunk.length;
      if (this.bytes > this.maxBytes)
        throw new HttpError(413, `snapshot is larger than SNAPSHOT_MAX_BYTES (${this.maxBytes} bytes)`);
      this.hash.update(chunk);
      yield chunk;
    }
  }

  /** Throws a 400 unless the bytes that passed are the ones `sha256` names. */
  check(sha256: string): void {
    const actual = this.hash.digest('hex');
    if (actual !== sha256)
      throw new HttpError(400, `snapshot does not match its snapshot-sha256 header (got ${actual})`);
  }
}
