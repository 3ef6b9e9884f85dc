/**
 * The framework's own cost of a create: a bare Express 5 app with one JSON POST handler that answers 201
 * with what a create answers, and does nothing else (no validation, no event, no log, no metrics). The
 * bench runs it as a process of its own, beside the blog, to measure the blog's creates against it.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';

const app = express();
app.use(express.json());
app.post('/posts/create', (req, res) => {
  res.status(201).json({ id: randomUUID(), title: (req.body as { title?: unknown }).title });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
