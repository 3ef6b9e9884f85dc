import type { Server } from 'node:http';
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
  close: () => Promise<void>;
}

/** A subscriber that records what it is sent and answers as told. */
export async function fakeSubscriber(): Promise<FakeSubscriber> {
  const app = express();
  app.use(express.json());
  const subscriber: FakeSubscriber = {
    url: '',
    received: [],
    answer: () => 200,
    requests: 0,
    position: () => undefined,
    close: async () => undefined,
  };
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
