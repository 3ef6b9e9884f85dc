import { randomUUID } from 'node:crypto';
import { CLAIM_TTL_MS, type SnapshotClaims } from '../snapshots/snapshot-claims';

/** Claims held in this process: enough for the one bus of the file log. */
export class MemorySnapshotClaims implements SnapshotClaims {
  private readonly live = new Map<string, { token: string; until: number }>();

  constructor(readonly ttlMs = CLAIM_TTL_MS) {}

  claim(service: string, schema: string): Promise<string | undefined> {
    const key = `${service}/${schema}`;
    const held = this.live.get(key);
    if (held && held.until > Date.now()) return Promise.resolve(undefined);
    const token = randomUUID();
    this.live.set(key, { token, until: Date.now() + this.ttlMs });
    return Promise.resolve(token);
  }

  holds(service: string, schema: string, token: string): Promise<boolean> {
    const held = this.live.get(`${service}/${schema}`);
    return Promise.resolve(held !== undefined && held.token === token && held.until > Date.now());
  }

  async release(service: string, schema: string, token: string): Promise<void> {
    if (await this.holds(service, schema, token)) this.live.delete(`${service}/${schema}`);
  }
}
