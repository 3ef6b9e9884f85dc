import type { StreamInfo } from '@nats-io/jetstream';

/**
 * How recently the stream's leader must have heard from a majority of its copies for its answer to count:
 * below the smallest election timeout of nats-server's RAFT groups (4 s), so that no other leader can
 * have been elected (and acknowledged events this one does not hold) meanwhile.
 */
export const QUORUM_CONTACT_MS = 3_000;

/**
 * A stream info answer naming a leader that has not heard from a majority of its copies lately. Coming from
 * that leader itself, it proves the leader cut off from them; a follower may pass on such a view of a
 * leader it has lost (while the others elect a new one), so it proves nothing about the follower.
 */
export class LeaderCutOffError extends Error {
  constructor(
    message: string,
    readonly leader: string,
  ) {
    super(message);
  }
}

/** Whether a failed quorum check proves the server `serverName` cut off: it is the leader that lost its quorum. */
export function provesServerCutOff(failure: unknown, serverName: string | undefined): boolean {
  return failure instanceof LeaderCutOffError && serverName !== undefined && failure.leader === serverName;
}

/**
 * Why the answer of a stream info request cannot be taken for the stream's state as a quorum holds it (no
 * leader, or a leader that has not heard from a majority of its copies lately: a LeaderCutOffError), or
 * undefined when it can.
 */
export function quorumUnconfirmed({ config, cluster }: StreamInfo): Error | undefined {
  const copies = config.num_replicas;
  if (copies <= 1) return undefined;
  if (!cluster?.leader) return new Error('the stream has no leader');
  const others = (cluster.replicas ?? []).filter(
    (replica) => !replica.offline && replica.active < QUORUM_CONTACT_MS * 1e6,
  ).length;
  const majority = Math.floor(copies / 2) + 1;
  if (others + 1 >= majority) return undefined;
  return new LeaderCutOffError(
    `the stream's leader ${cluster.leader} has heard from ${others} of its ${copies - 1} other copies within ${QUORUM_CONTACT_MS / 1000} s, and needs ${majority - 1}`,
    cluster.leader,
  );
}
