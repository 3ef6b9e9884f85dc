import { recordingLogger } from '@blog/common/testing';
import { QuorumWatch } from '../src/jetstream/quorum-watch';

const INTERVAL_MS = 1_000;
const LEAVE_AFTER_MS = 5_000;
const LEAVE_CUT_OFF_AFTER_MS = 2_000;

/** What the fake server's probes answer when they prove it cut off from the quorum. */
class CutOff extends Error {}

/** A watch on a fake server: each probe is answered as `answer` says when it is made; leaves are counted. */
function fakeServer() {
  const hanging: { confirm: () => void; cutOff: () => void }[] = [];
  const server = {
    answer: 'confirm' as 'confirm' | 'refuse' | 'cut-off' | 'hang',
    probes: 0,
    leaves: 0,
    /** Answers the probes left unanswered: confirmed, or with proof that the server is cut off. */
    release: (answer: 'confirm' | 'cut-off' = 'confirm') =>
      hanging.splice(0).forEach((probe) => (answer === 'confirm' ? probe.confirm() : probe.cutOff())),
  };
  const { logger, lines } = recordingLogger('warn');
  const watch = new QuorumWatch({
    probe: () => {
      server.probes++;
      if (server.answer === 'confirm') return Promise.resolve();
      if (server.answer === 'refuse') return Promise.reject(new Error('the stream has no leader'));
      if (server.answer === 'cut-off')
        return Promise.reject(new CutOff("the stream's leader n1 has heard from 0 of its 2 other copies"));
      return new Promise<void>((resolve, reject) =>
        hanging.push({ confirm: resolve, cutOff: () => reject(new CutOff('the server left is cut off')) }),
      );
    },
    leave: () => {
      server.leaves++;
      return Promise.resolve();
    },
    server: () => 'nats://10.0.0.1:4222',
    logger,
    intervalMs: INTERVAL_MS,
    leaveAfterMs: LEAVE_AFTER_MS,
    provesCutOff: (failure) => failure instanceof CutOff,
    leaveCutOffAfterMs: LEAVE_CUT_OFF_AFTER_MS,
  });
  return { server, watch, warnings: lines };
}

describe('the quorum watch', () => {
  let stopWatch: (() => void) | undefined;

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => {
    stopWatch?.();
    jest.useRealTimers();
  });

  function started() {
    const fake = fakeServer();
    fake.watch.start();
    stopWatch = () => fake.watch.stop();
    return fake;
  }

  it('leaves a server whose probes have failed for leaveAfterMs, naming it and the last failure', async () => {
    const { server, warnings } = started();
    server.answer = 'refuse';
    await jest.advanceTimersByTimeAsync(LEAVE_AFTER_MS - INTERVAL_MS);
    expect(server.leaves).toBe(0);
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(server.leaves).toBe(1);
    expect(warnings()).toEqual([
      expect.objectContaining({ server: 'nats://10.0.0.1:4222', reason: 'the stream has no leader' }),
    ]);
  });

  it('leaves sooner a server whose answers prove it cut off from the quorum', async () => {
    const { server, warnings } = started();
    server.answer = 'refuse';
    await jest.advanceTimersByTimeAsync(2 * INTERVAL_MS);
    server.answer = 'cut-off';
    // Counted from the first answer that proves it, not from the first failure.
    await jest.advanceTimersByTimeAsync(LEAVE_CUT_OFF_AFTER_MS);
    expect(server.leaves).toBe(0);
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(server.leaves).toBe(1);
    expect(warnings()).toEqual([
      expect.objectContaining({ reason: "the stream's leader n1 has heard from 0 of its 2 other copies" }),
    ]);
  });

  it('needs proof from the next server too: a proof from the one it left does not count there', async () => {
    const { server } = started();
    server.answer = 'cut-off';
    await jest.advanceTimersByTimeAsync(LEAVE_CUT_OFF_AFTER_MS);
    // The next server does not answer yet (an election under way): only the longer wait applies there.
    server.answer = 'hang';
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(server.leaves).toBe(1);
    await jest.advanceTimersByTimeAsync(LEAVE_AFTER_MS - INTERVAL_MS);
    expect(server.leaves).toBe(1);
  });

  it('takes no answer to a probe sent before a leave for an answer of the next server', async () => {
    const { server } = started();
    server.answer = 'hang';
    await jest.advanceTimersByTimeAsync(LEAVE_AFTER_MS);
    expect(server.leaves).toBe(1);
    // The probe sent to the server left is answered now, with proof that that server is cut off.
    server.release('cut-off');
    await jest.advanceTimersByTimeAsync(LEAVE_CUT_OFF_AFTER_MS + INTERVAL_MS);
    expect(server.leaves).toBe(1);
  });

  it('counts proof of a cut only while every answer gives it', async () => {
    const { server } = started();
    // Within leaveAfterMs in all, so only proof of a cut could make it leave.
    for (let round = 0; round < 2; round++) {
      server.answer = 'cut-off';
      await jest.advanceTimersByTimeAsync(INTERVAL_MS);
      server.answer = 'refuse';
      await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    }
    expect(server.leaves).toBe(0);
  });

  it('stays on a server that confirms the quorum', async () => {
    const { server } = started();
    await jest.advanceTimersByTimeAsync(10 * LEAVE_AFTER_MS);
    expect(server.probes).toBe((10 * LEAVE_AFTER_MS) / INTERVAL_MS);
    expect(server.leaves).toBe(0);
  });

  it('stays on a server whose probes fail only for a while, shorter than leaveAfterMs', async () => {
    const { server } = started();
    for (let round = 0; round < 5; round++) {
      server.answer = 'refuse';
      await jest.advanceTimersByTimeAsync(LEAVE_AFTER_MS - 2 * INTERVAL_MS);
      server.answer = 'confirm';
      await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    }
    expect(server.leaves).toBe(0);
  });

  it('waits leaveAfterMs again before leaving the next server, however many tick meanwhile', async () => {
    const { server } = started();
    server.answer = 'refuse';
    await jest.advanceTimersByTimeAsync(LEAVE_AFTER_MS);
    expect(server.leaves).toBe(1);
    await jest.advanceTimersByTimeAsync(LEAVE_AFTER_MS - INTERVAL_MS);
    expect(server.leaves).toBe(1);
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(server.leaves).toBe(2);
    // A cluster without a quorum anywhere: the bus moves on every leaveAfterMs, never on every tick.
    await jest.advanceTimersByTimeAsync(8 * LEAVE_AFTER_MS);
    expect(server.leaves).toBe(10);
  });

  it('starts no probe while one is unanswered, and leaves a server that never answers', async () => {
    const { server, warnings } = started();
    server.answer = 'hang';
    await jest.advanceTimersByTimeAsync(LEAVE_AFTER_MS);
    expect(server.probes).toBe(1);
    expect(server.leaves).toBe(1);
    expect(warnings()).toEqual([expect.objectContaining({ reason: 'the quorum check is still unanswered' })]);
    server.answer = 'confirm';
    server.release();
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(server.probes).toBe(2);
  });

  it('neither probes nor leaves once stopped', async () => {
    const { server, watch } = started();
    server.answer = 'refuse';
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    const probes = server.probes;
    watch.stop();
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(10 * LEAVE_AFTER_MS);
    expect(server.probes).toBe(probes);
    expect(server.leaves).toBe(0);
  });

  it('logs a leave that fails and goes on watching', async () => {
    const { logger, lines } = recordingLogger('warn');
    let leaves = 0;
    const watch = new QuorumWatch({
      probe: () => Promise.reject(new Error('timeout')),
      leave: () => {
        leaves++;
        return Promise.reject(new Error('connection draining'));
      },
      server: () => 'nats://10.0.0.1:4222',
      logger,
      intervalMs: INTERVAL_MS,
      leaveAfterMs: LEAVE_AFTER_MS,
    });
    watch.start();
    stopWatch = () => watch.stop();
    await jest.advanceTimersByTimeAsync(2 * LEAVE_AFTER_MS);
    expect(leaves).toBe(2);
    expect(lines()).toContainEqual(
      expect.objectContaining({ reason: 'connection draining', msg: 'could not leave the NATS server' }),
    );
  });
});
