import type { StreamInfo } from '@nats-io/jetstream';
import {
  LeaderCutOffError,
  provesServerCutOff,
  QUORUM_CONTACT_MS,
  quorumUnconfirmed,
} from '../src/jetstream/stream-quorum';

/** A stream info answer as a leader gives it: its copies and how long ago it heard from each (ms). */
function answer(copies: number, leader: string | undefined, heardMsAgo: (number | 'offline')[]): StreamInfo {
  const replicas = heardMsAgo.map((ms, index) =>
    ms === 'offline'
      ? { name: `n${index + 2}`, current: false, offline: true, active: 0 }
      : { name: `n${index + 2}`, current: true, active: ms * 1e6 },
  );
  return { config: { num_replicas: copies }, cluster: { leader, replicas } } as unknown as StreamInfo;
}

describe('a stream info answer counts only when its leader is in contact with a quorum', () => {
  it.each([
    ['a leader that heard from both copies lately', answer(3, 'n1', [10, 900])],
    [
      'a leader that heard from one of two copies lately (2 of 3 is a quorum)',
      answer(3, 'n1', [10, QUORUM_CONTACT_MS + 1]),
    ],
    ['a single copy, which needs nobody', answer(1, undefined, [])],
    ['a leader with one copy offline', answer(3, 'n1', [20, 'offline'])],
  ])('counts %s', (_name, info) => {
    expect(quorumUnconfirmed(info)).toBeUndefined();
  });

  it.each([
    ['no leader', answer(3, undefined, [10, 10]), 'the stream has no leader', false],
    [
      'a leader cut off from both copies (an isolated old leader)',
      answer(3, 'n1', [QUORUM_CONTACT_MS + 1, 6_000]),
      "the stream's leader n1 has heard from 0 of its 2 other copies within 3 s, and needs 1",
      true,
    ],
    [
      'a leader of 5 copies in contact with one',
      answer(5, 'n1', [10, 'offline', 8_000, 9_000]),
      "the stream's leader n1 has heard from 1 of its 4 other copies within 3 s, and needs 2",
      true,
    ],
  ])('refuses %s (a leader cut off from its quorum says so)', (_name, info, reason, cutOff) => {
    const refusal = quorumUnconfirmed(info);
    expect(refusal?.message).toBe(reason);
    expect(refusal instanceof LeaderCutOffError).toBe(cutOff);
    // Which leader: only that leader's own answer proves the bus's server cut off.
    expect(refusal).toMatchObject(cutOff ? { leader: 'n1' } : {});
  });
});

describe("proof that the bus's own server is cut off", () => {
  const cutOffLeader = quorumUnconfirmed(answer(3, 'n1', [QUORUM_CONTACT_MS + 1, 6_000]));

  it('is the answer of a leader cut off from its quorum, when the bus is on that leader', () => {
    expect(provesServerCutOff(cutOffLeader, 'n1')).toBe(true);
  });

  it("is not that answer passed on by another server (a follower's last view of a leader it lost)", () => {
    expect(provesServerCutOff(cutOffLeader, 'n2')).toBe(false);
    expect(provesServerCutOff(cutOffLeader, undefined)).toBe(false);
  });

  it('is not an answer without a leader, nor a timeout', () => {
    expect(provesServerCutOff(quorumUnconfirmed(answer(3, undefined, [10, 10])), 'n1')).toBe(false);
    expect(provesServerCutOff(new Error('TIMEOUT'), 'n1')).toBe(false);
  });
});
