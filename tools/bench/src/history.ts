/**
 * A synthetic event history in the bus's own log format (`events.jsonl`: one JSON line per event,
 * `{"id","type","data","time","seq"}`, seq from 1 without gaps), written streaming so that a million events
 * never sit in memory at once. The mix is the blog's: a PostCreated, then for each comment CommentCreated
 * (pending) → CommentModerated → CommentUpdated (approved, or rejected for one in five, which say "orange").
 */
import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';

export interface HistorySummary {
  events: number;
  bytes: number;
  posts: number;
  comments: number;
  /** Final statuses the history leads to (the last post may be cut short, leaving comments pending). */
  approved: number;
  rejected: number;
  pending: number;
}

/** Comments per post, repeated: 2.5 on average, so about 8.5 events per post. */
const COMMENTS_PER_POST = [3, 1, 4, 0, 2, 5, 3, 2];
const LINES_PER_WRITE = 4_096;
const FIRST_EVENT_TIME = Date.UTC(2026, 0, 1);

export async function writeSyntheticHistory(file: string, eventCount: number): Promise<HistorySummary> {
  const summary: HistorySummary = { events: 0, bytes: 0, posts: 0, comments: 0, approved: 0, rejected: 0, pending: 0 };
  const handle = await open(file, 'w');
  let lines: string[] = [];
  const flush = async () => {
    const chunk = lines.join('');
    lines = [];
    summary.bytes += Buffer.byteLength(chunk);
    await handle.write(chunk);
  };
  const emit = (type: string, data: Record<string, string>) => {
    const seq = ++summary.events;
    const time = new Date(FIRST_EVENT_TIME + seq * 7).toISOString();
    lines.push(`${JSON.stringify({ id: randomUUID(), type, data, time, seq })}\n`);
  };
  const room = () => summary.events < eventCount;
  try {
    for (let post = 0; room(); post++) {
      const postId = randomUUID();
      emit('PostCreated', { id: postId, title: `Post ${post}: notes on topic ${post % 97}` });
      summary.posts++;
      const comments = COMMENTS_PER_POST[post % COMMENTS_PER_POST.length] as number;
      for (let n = 0; n < comments && room(); n++) {
        const rejected = summary.comments % 5 === 4;
        const comment = {
          id: randomUUID(),
          postId,
          content: `Comment ${n} on post ${post}: ${rejected ? 'I would rather have an orange' : 'thanks, well put'}`,
        };
        summary.comments++;
        emit('CommentCreated', { ...comment, status: 'pending' });
        const status = rejected ? 'rejected' : 'approved';
        if (room()) emit('CommentModerated', { ...comment, status });
        if (room()) {
          emit('CommentUpdated', { ...comment, status });
          summary[status]++;
        }
      }
      if (lines.length >= LINES_PER_WRITE) await flush();
    }
    await flush();
  } finally {
    await handle.close();
  }
  summary.pending = summary.comments - summary.approved - summary.rejected;
  return summary;
}
