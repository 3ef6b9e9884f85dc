/**
 * Who may make the next snapshot of a service: one replica at a time. A claim lapses after its time to
 * live, so a replica that died while making one does not block the others for ever.
 */
export interface SnapshotClaims {
  /** How long a claim lasts. */
  readonly ttlMs: number;
  /** A new claim's token, or undefined while another replica's claim is alive. */
  claim(service: string, schema: string): Promise<string | undefined>;
  /** Whether `token` is the live claim of the service's schema. */
  holds(service: string, schema: string, token: string): Promise<boolean>;
  release(service: string, schema: string, token: string): Promise<void>;
}

/** How long a claim to make a snapshot lasts by default (SNAPSHOT_CLAIM_TTL_MS): longer than making and sending one takes. */
export const CLAIM_TTL_MS = 10 * 60_000;
