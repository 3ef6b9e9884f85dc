/** The bus's in-memory index of its log, also when only the newest events were read (a JetStream start). */
import { ByteOffsets } from '../src/log/byte-offsets';
import { EventIndex, type StoredRecord } from '../src/log/event-index';

const record = (seq: number, text = 'x'.repeat(seq)): StoredRecord => ({
  seq,
  id: `e${seq}`,
  line: `{"id":"e${seq}","t":"${text}","seq":${seq}}`,
});

describe('ByteOffsets', () => {
  it('knows where each record starts and ends from its first seq on, and the byte budget of reads within them', () => {
    const offsets = new ByteOffsets(5);
    for (const bytes of [10, 20, 30]) offsets.push(bytes);
    expect(offsets.count).toBe(7);
    expect([offsets.startOf(5), offsets.endOf(5), offsets.startOf(7), offsets.endOf(7), offsets.end]).toEqual([
      0, 10, 30, 60, 60,
    ]);
    expect(offsets.lastWithin(5, 7, 30)).toBe(6);
    expect(offsets.lastWithin(6, 7, 10)).toBe(6);
    // Sizes before seq 5 are unknown: the reader of those events bounds them.
    expect(offsets.lastWithin(2, 7, 1)).toBe(7);
  });
});

describe('EventIndex read from a later seq on', () => {
  const index = () => {
    const made = new EventIndex({ firstSeq: 101, tailSize: 2, recentIds: 2 });
    made.add([101, 102, 103, 104].map((seq) => record(seq)));
    return made;
  };

  it('counts the events before it, and remembers only the newest ids', () => {
    const made = index();
    expect(made.lastSeq).toBe(104);
    expect([made.recentSeq('e104'), made.recentSeq('e103'), made.recentSeq('e102')]).toEqual([104, 103, undefined]);
    expect(made.idsFrom).toBe(103);
  });

  it('reads its tail from memory and anything older from the log, handing it the byte budget', async () => {
    const made = index();
    const older = jest.fn((first: number, last: number, maxBytes: number) =>
      Promise.resolve([`${first}…${last} within ${maxBytes}`]),
    );
    // The tail holds 101–104 until it passes twice its size.
    expect(await made.readRaw(102, 10, Infinity, older)).toEqual([record(103).line, record(104).line]);
    expect(older).not.toHaveBeenCalled();
    expect(await made.readRaw(0, 50, 4_096, older)).toEqual(['1…50 within 4096']);
    expect(await made.readRaw(99, 10, 4_096, older)).toEqual(['100…104 within 4096']);
  });
});
