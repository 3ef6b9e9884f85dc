import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MAX_EVENT_BYTES, QUARANTINED_EVENT_TYPE, silentLogger } from '@blog/common';
import { recordingLogger } from '@blog/common/testing';
import { FileEventLog } from '../src/file-storage/file-event-log';
import { tempDirs } from './support';

const freshDir = tempDirs('event-log-');

const open = (dir: string, tailSize?: number, recentIds?: number) =>
  FileEventLog.open({ dir, logger: silentLogger(), tailSize, recentIds });
const event = (n: number) => ({
  id: `e${n}`,
  type: 'PostCreated',
  data: { id: `p${n}`, title: `t${n}` },
  time: '2026-01-01T00:00:00.000Z',
});
const file = (dir: string) => path.join(dir, 'events.jsonl');

/** What is particular to the file: group commit, durability, torn and damaged records, reads from the file. The rest is the EventLog contract (event-logs.test.ts). */
describe('FileEventLog', () => {
  it('writes the appends of one moment together: one fsync for many events, in order', async () => {
    const log = await open(freshDir());
    const appended = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(event(i + 1))));
    expect(appended.map((e) => e.event.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(log.writes).toBe(1);
    expect((await log.readAfter(98, 10)).map((e) => e.seq)).toEqual([99, 100]);
    await log.close();
  });

  it('makes an event readable only once it is on disk', async () => {
    const dir = freshDir();
    const log = await open(dir);
    const appending = log.append(event(1));
    expect(log.lastSeq).toBe(0);
    await appending;
    expect(log.lastSeq).toBe(1);
    expect(readFileSync(file(dir), 'utf8')).toContain('"id":"e1"');
    await log.close();
  });

  it.each([
    ['half a line', '{"id":"e3","type":"Po'],
    ['a whole record without its newline', JSON.stringify({ ...event(3), seq: 3 })],
  ])('drops a torn last record (%s) and truncates the file to the last whole event', async (_name, torn) => {
    const dir = freshDir();
    const log = await open(dir);
    await log.append(event(1));
    await log.append(event(2));
    await log.close();
    const whole = statSync(file(dir)).size;
    appendFileSync(file(dir), torn);

    const reopened = await open(dir);
    expect(reopened.lastSeq).toBe(2);
    expect(statSync(file(dir)).size).toBe(whole);
    expect(await reopened.append(event(3))).toMatchObject({ event: { seq: 3 }, duplicate: false });
    await reopened.close();
    const lines = readFileSync(file(dir), 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([1, 2, 3]);
  });

  it('quarantines a line that is not an event: it keeps its seq, is served as a placeholder from memory and from the file, and the log goes on', async () => {
    const dir = freshDir();
    const good = (n: number) => JSON.stringify({ ...event(n), seq: n });
    const bad = [
      'not json',
      JSON.stringify({ hello: 'world', seq: 3 }),
      JSON.stringify({ ...event(4), seq: 4, data: 'x'.repeat(MAX_EVENT_BYTES) }),
    ];
    writeFileSync(file(dir), `${good(1)}\n${bad.join('\n')}\n${good(5)}\n`);
    const quarantined: number[] = [];
    const recorded = recordingLogger('error');
    for (const tailSize of [100, 1]) {
      const log = await FileEventLog.open({
        dir,
        logger: recorded.logger,
        tailSize,
        onQuarantined: () => quarantined.push(tailSize),
      });
      const texts = await log.readRawAfter(0, 10);
      const events = texts.map((text) => JSON.parse(text) as { id: string; type: string; seq: number });
      expect(events.map(({ seq }) => seq)).toEqual([1, 2, 3, 4, 5]);
      expect(events.map(({ type, id }) => [type, id])).toEqual([
        ['PostCreated', 'e1'],
        [QUARANTINED_EVENT_TYPE, 'quarantined-2'],
        [QUARANTINED_EVENT_TYPE, 'quarantined-3'],
        [QUARANTINED_EVENT_TYPE, 'quarantined-4'],
        ['PostCreated', 'e5'],
      ]);
      expect(await log.append(event(6))).toMatchObject({ event: { seq: 6 }, duplicate: false });
      await log.close();
      writeFileSync(file(dir), `${good(1)}\n${bad.join('\n')}\n${good(5)}\n`);
    }
    expect(quarantined).toEqual([100, 100, 100, 1, 1, 1]);
    expect(recorded.lines().map((line) => [line.seq, line.reason])).toEqual(
      [1, 2].flatMap(() => [
        [2, 'not JSON'],
        [3, 'not an event envelope (seq, id, type, data and time)'],
        [4, expect.stringMatching(/more than the 32768 an event may take/)],
      ]),
    );
  });

  it('refuses to start on lines out of seq order (lines removed or inserted)', async () => {
    const dir = freshDir();
    const good = (n: number) => JSON.stringify({ ...event(n), seq: n });
    writeFileSync(file(dir), `${good(1)}\n${good(3)}\n`);
    await expect(open(dir)).rejects.toThrow(/damaged at line 2: its seq is not the line's number/);
  });

  it('starts empty in a new directory, creating it', async () => {
    const log = await open(path.join(freshDir(), 'nested', 'dir'));
    expect(log.lastSeq).toBe(0);
    await log.close();
  });

  it('rejects appends with 503 once closed', async () => {
    const log = await open(freshDir());
    await log.close();
    await expect(log.append(event(1))).rejects.toMatchObject({ status: 503 });
  });

  it('reads events older than its in-memory tail from the file, also after a reopen', async () => {
    const dir = freshDir();
    const log = await open(dir, 5);
    for (let n = 1; n <= 40; n += 10) await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(event(n + i))));
    const all = (await log.readAfter(0, 100)).map((e) => e.seq);
    expect(all).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect((await log.readAfter(3, 4)).map((e) => e.id)).toEqual(['e4', 'e5', 'e6', 'e7']);
    await log.close();

    const reopened = await open(dir, 5);
    expect((await reopened.readAfter(10, 3)).map((e) => e.id)).toEqual(['e11', 'e12', 'e13']);
    expect((await reopened.readAfter(38, 10)).map((e) => e.id)).toEqual(['e39', 'e40']);
    // An old id is still known: a retry of it is not stored again.
    expect(await reopened.append(event(2))).toEqual({ event: { ...event(2), seq: 2 }, duplicate: true });
    expect(reopened.lastSeq).toBe(40);
    await reopened.close();
  });

  it('remembers the ids of the newest `recentIds` events, also after a reopen; an older id is stored again', async () => {
    const dir = freshDir();
    const log = await open(dir, 5, 3);
    for (let n = 1; n <= 5; n++) await log.append(event(n));
    expect(await log.append(event(3))).toMatchObject({ event: { seq: 3 }, duplicate: true });
    await log.close();

    const reopened = await open(dir, 5, 3);
    expect(await reopened.append(event(3))).toMatchObject({ event: { seq: 3 }, duplicate: true });
    // e2 is older than the newest three: its id is forgotten, and the services' state has to answer for it.
    expect(await reopened.append(event(2))).toMatchObject({ event: { id: 'e2', seq: 6 }, duplicate: false });
    await reopened.close();
  });

  it('bounds a read by size, but always returns at least one event', async () => {
    const dir = freshDir();
    const log = await open(dir, 5);
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(event(i + 1))));
    for (const after of [0, 15]) {
      // from the file (after 0) and from memory (after 15); the next three records are equally long
      const lineBytes = (await log.readRawAfter(after, 1))[0]!.length + 1;
      expect(await log.readRawAfter(after, 10, lineBytes * 3)).toHaveLength(3);
      expect(await log.readRawAfter(after, 10, 1)).toHaveLength(1);
    }
    await log.close();
  });
});
