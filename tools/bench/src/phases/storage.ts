/**
 * Phase 6 (local stack only): what the event log costs on the bus's volume, read from the bus's own
 * `events.jsonl` after the load phases. Bytes per event by type and in all, and from those how many
 * events, posts and comments a GiB holds (a comment is three events: created, moderated, updated).
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { grouped } from '../format';
import { notMeasured, type Metric, type PhaseOutcome } from '../report/model';
import type { Target } from '../target';

const GIB = 1 << 30;
const COMMENT_EVENTS = ['CommentCreated', 'CommentModerated', 'CommentUpdated'] as const;
const TYPES = ['PostCreated', ...COMMENT_EVENTS] as const;

export interface TypeBytes {
  events: number;
  /** Bytes on disk, the newline of each record included. */
  bytes: number;
}

export interface StorageDetails {
  total: TypeBytes;
  byType: Record<string, TypeBytes>;
  /** Mean length in characters of the post titles and comment contents in the log. */
  meanTitleChars: number | null;
  meanContentChars: number | null;
}

/** Reads the log file once: events and bytes per type, and the mean title and content lengths. */
export async function readLogStorage(file: string): Promise<StorageDetails> {
  const total: TypeBytes = { events: 0, bytes: 0 };
  const byType: Record<string, TypeBytes> = {};
  const text = { titles: 0, titleChars: 0, contents: 0, contentChars: 0 };
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    const bytes = Buffer.byteLength(line) + 1;
    const { type, data } = JSON.parse(line) as { type: string; data?: { title?: unknown; content?: unknown } };
    const entry = (byType[type] ??= { events: 0, bytes: 0 });
    entry.events++;
    entry.bytes += bytes;
    total.events++;
    total.bytes += bytes;
    if (type === 'PostCreated' && typeof data?.title === 'string') {
      text.titles++;
      text.titleChars += data.title.length;
    }
    if (type === 'CommentCreated' && typeof data?.content === 'string') {
      text.contents++;
      text.contentChars += data.content.length;
    }
  }
  return {
    total,
    byType,
    meanTitleChars: text.titles > 0 ? text.titleChars / text.titles : null,
    meanContentChars: text.contents > 0 ? text.contentChars / text.contents : null,
  };
}

const mean = (entry: TypeBytes | undefined) => (entry && entry.events > 0 ? entry.bytes / entry.events : null);
const perGiB = (bytes: number | null) => (bytes === null || bytes === 0 ? null : Math.floor(GIB / bytes));

export async function runStoragePhase(target: Target, loadRan: boolean): Promise<PhaseOutcome<StorageDetails | null>> {
  const why = !target.stack ? 'not measured (external stack)' : !loadRan ? 'no load phase ran' : undefined;
  const details =
    target.stack && why === undefined
      ? await readLogStorage(path.join(target.stack.eventLogDir, 'events.jsonl'))
      : null;
  const eventBytes = mean(details?.total);
  const commentParts = COMMENT_EVENTS.map((type) => mean(details?.byType[type]));
  const commentBytes = commentParts.every((part) => part !== null)
    ? commentParts.reduce((sum, part) => sum + part, 0)
    : null;
  const measured: Metric[] = [
    { key: 'storage.event', label: 'event log bytes per event (all types)', value: eventBytes, unit: 'B' },
    ...TYPES.map((type): Metric => ({
      key: `storage.${type}`,
      label: `event log bytes per ${type}`,
      value: mean(details?.byType[type]),
      unit: 'B',
    })),
    { key: 'storage.events-per-gib', label: 'events per GiB of log', value: perGiB(eventBytes), unit: 'count' },
    {
      key: 'storage.posts-per-gib',
      label: 'posts per GiB (1 event each)',
      value: perGiB(mean(details?.byType.PostCreated)),
      unit: 'count',
    },
    {
      key: 'storage.comments-per-gib',
      label: 'comments per GiB (3 events each)',
      value: perGiB(commentBytes),
      unit: 'count',
    },
  ];
  if (!details)
    return {
      metrics: measured.map(({ key, label, unit }) => notMeasured(key, label, unit, why ?? '')),
      checks: [],
      notes: [],
      details: null,
    };
  const chars = (value: number | null) => (value === null ? 'none' : grouped(value, 1));
  return {
    metrics: measured,
    checks: [],
    notes: [
      `Storage: the bus's events.jsonl after the load phases, ${grouped(details.total.events, 0)} events in ${grouped(details.total.bytes, 0)} bytes. ` +
        `Titles averaged ${chars(details.meanTitleChars)} characters and comments ${chars(details.meanContentChars)}; ` +
        'each extra character of text adds a byte (more for non-ASCII, and for characters JSON escapes).',
    ],
    details,
  };
}
