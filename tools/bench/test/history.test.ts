import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeSyntheticHistory } from '../src/history';

describe('writeSyntheticHistory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bench-history-test-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes exactly the asked number of events in the bus log format, seq from 1 without gaps', async () => {
    const file = path.join(dir, 'events.jsonl');
    const summary = await writeSyntheticHistory(file, 5_000);
    const text = await readFile(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(lines).toHaveLength(5_000);
    expect(summary.events).toBe(5_000);
    expect(summary.bytes).toBe(Buffer.byteLength(text));

    const events = lines.map(
      (line) =>
        JSON.parse(line) as { id: string; type: string; data: Record<string, string>; time: string; seq: number },
    );
    events.forEach((event, index) => {
      expect(Object.keys(event)).toEqual(['id', 'type', 'data', 'time', 'seq']);
      expect(event.seq).toBe(index + 1);
      expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Date(event.time).toISOString()).toBe(event.time);
    });
    expect(new Set(events.map((event) => event.id)).size).toBe(5_000);

    const byType = (type: string) => events.filter((event) => event.type === type);
    expect(byType('PostCreated')).toHaveLength(summary.posts);
    expect(byType('CommentCreated')).toHaveLength(summary.comments);
    expect(byType('PostCreated').every((event) => Object.keys(event.data).join() === 'id,title')).toBe(true);
    for (const type of ['CommentCreated', 'CommentModerated', 'CommentUpdated']) {
      expect(byType(type).every((event) => Object.keys(event.data).join() === 'id,postId,content,status')).toBe(true);
    }
    expect(byType('CommentCreated').every((event) => event.data.status === 'pending')).toBe(true);
  });

  it('follows the blog rules: comments on earlier posts, orange ones rejected, the summary matches the final statuses', async () => {
    const file = path.join(dir, 'events.jsonl');
    const summary = await writeSyntheticHistory(file, 2_003);
    const events = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; data: Record<string, string> });
    const posts = new Set<string>();
    const final = new Map<string, string>();
    for (const { type, data } of events) {
      if (type === 'PostCreated') posts.add(data.id as string);
      else expect(posts.has(data.postId as string)).toBe(true);
      if (type === 'CommentCreated') final.set(data.id as string, 'pending');
      if (type === 'CommentModerated')
        expect(data.status).toBe(/orange/.test(data.content as string) ? 'rejected' : 'approved');
      if (type === 'CommentUpdated') final.set(data.id as string, data.status as string);
    }
    const count = (status: string) => [...final.values()].filter((value) => value === status).length;
    expect(summary).toMatchObject({
      posts: posts.size,
      comments: final.size,
      approved: count('approved'),
      rejected: count('rejected'),
      pending: count('pending'),
    });
    expect(summary.rejected / (summary.approved + summary.rejected)).toBeCloseTo(0.2, 1);
  });
});
