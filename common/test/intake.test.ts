import { createServiceApp, EventConsumer, eventIntake, finishServiceApp, silentLogger } from '@blog/common';
import { envelopeOf, InMemoryBus } from '@blog/common/testing';
import request from 'supertest';

const post = (id: string) => ({ type: 'PostCreated' as const, data: { id, title: `title ${id}` } });

async function intakeApp({ start = true } = {}) {
  const history = new InMemoryBus();
  const applied: string[] = [];
  const consumer = new EventConsumer({
    history,
    logger: silentLogger(),
    handlers: { PostCreated: ({ id }) => void applied.push(id) },
  });
  if (start) await consumer.start();
  const app = createServiceApp({ isReady: () => consumer.isReady() });
  app.use(eventIntake(consumer));
  return { app: finishServiceApp(app, silentLogger()), consumer, history, applied };
}

describe('event intake', () => {
  it('POST /events/batch applies the envelopes in order and reports the position', async () => {
    const { app, applied } = await intakeApp();
    const batch = [envelopeOf(post('a'), 1), envelopeOf(post('b'), 2), envelopeOf(post('c'), 3)];
    await request(app).post('/events/batch').send(batch).expect(200, { status: 'OK', position: 3 });
    expect(applied).toEqual(['a', 'b', 'c']);
  });

  it('takes a batch far larger than the limit of ordinary request bodies', async () => {
    const { app, applied } = await intakeApp();
    const batch = Array.from({ length: 2_000 }, (_, i) => envelopeOf(post(`p${i}`), i + 1));
    expect(JSON.stringify(batch).length).toBeGreaterThan(100_000);
    await request(app).post('/events/batch').send(batch).expect(200, { status: 'OK', position: 2_000 });
    expect(applied).toHaveLength(2_000);
    // The ordinary limit still holds elsewhere.
    await request(app)
      .post('/events')
      .send({ ...envelopeOf(post('x'), 2_001), pad: 'x'.repeat(20_000) })
      .expect(413);
  });

  it('ignores what it has applied already, so a retried batch changes nothing', async () => {
    const { app, applied } = await intakeApp();
    const batch = [envelopeOf(post('a'), 1), envelopeOf(post('b'), 2)];
    await request(app).post('/events/batch').send(batch).expect(200);
    await request(app).post('/events/batch').send(batch).expect(200, { status: 'OK', position: 2 });
    expect(applied).toEqual(['a', 'b']);
  });

  it.each([
    ['an object instead of an array', envelopeOf(post('a'), 1), /JSON array/],
    ['a malformed envelope', [envelopeOf(post('a'), 1), { type: 'PostCreated', data: {}, seq: 2 }], /index 1/],
  ])('refuses %s with 400 JSON, applying nothing', async (_name, body, message) => {
    const { app, applied } = await intakeApp();
    const res = await request(app).post('/events/batch').send(body).expect(400);
    expect(res.body).toEqual({ error: expect.stringMatching(message), code: 'invalid_request' });
    expect(applied).toEqual([]);
  });

  it('buffers a batch that arrives while catching up', async () => {
    const { app, consumer, history, applied } = await intakeApp({ start: false });
    const first = await history.publish(post('a'));
    await request(app)
      .post('/events/batch')
      .send([first, envelopeOf(post('b'), 2)])
      .expect(200);
    expect(applied).toEqual([]);
    await consumer.start();
    expect(applied).toEqual(['a', 'b']);
  });
});
