import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listen } from '@blog/common';
import express from 'express';

export interface FakeSubscriber {
  url: string;
  received: { seq: number; type: string }[];
  /** Decides each answer (possibly later); default 200. */
  answer: (seq: number) => number | 'hang' | Promise<number>;
  /** Requests received so far, answered or not. */
  requests: number;
  /** The position a successful answer reports; default none (like a course service). */
  position: (seq: number) => number | undefined;
  /** Sizes of the batches received on `POST /events/batch` (only when it serves that route). */
  batches: number[];
  /** Decides the answer to a whole batch, by the seqs in it; default 200. */
  answerBatch: (seqs: number[]) => number;
  /** Decides whether a request's Authorization header is accepted (401 otherwise); default any. */
  authorize: (header: string | undefined) => boolean;
  close: () => Promise<void>;
}

/**
 * A subscriber that records what it is sent and answers as told. Like a course service it serves only
 * `POST /events`, unless `takesBatches`: then it serves `POST /events/batch` too, like this code base's.
 */
export async function fakeSubscriber({ takesBatches = false } = {}): Promise<FakeSubscriber> {
  const app = express();
  app.use(express.json({ limit: '4mb' }));
  const subscriber: FakeSubscriber = {
    url: '',
    received: [],
    answer: () => 200,
    requests: 0,
    position: () => undefined,
    batches: [],
    answerBatch: () => 200,
    authorize: () => true,
    close: () => Promise.resolve(),
  };
  app.use((req, res, next) => {
    if (subscriber.authorize(req.headers.authorization)) return next();
    res.status(401).json({ error: 'wrong events token' });
  });
  if (takesBatches) {
    app.post('/events/batch', (req, res) => {
      const events = req.body as { seq: number; type: string }[];
      subscriber.requests++;
      const status = subscriber.answerBatch(events.map((event) => event.seq));
      if (status >= 300) {
        res.status(status).json({ error: 'no' });
        return;
      }
      subscriber.batches.push(events.length);
      subscriber.received.push(...events.map(({ seq, type }) => ({ seq, type })));
      res.json({ status: 'OK', position: events.at(-1)?.seq });
    });
  }
  app.post('/events', async (req, res) => {
    const { seq, type } = req.body as { seq: number; type: string };
    subscriber.requests++;
    const status = await subscriber.answer(seq);
    if (status === 'hang') return;
    if (status < 300) subscriber.received.push({ seq, type });
    res.status(status).json(status < 300 ? { status: 'OK', position: subscriber.position(seq) } : { error: 'no' });
  });
  const { server, port }: { server: Server; port: number } = await listen(app, 0, '127.0.0.1');
  subscriber.url = `http://127.0.0.1:${port}`;
  subscriber.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return subscriber;
}

/** Makes new empty folders for a test file, and deletes them all after its tests, passed or failed. */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
