import { Writable } from 'node:stream';
import { createServiceApp, EventConsumer, finishServiceApp, ServiceMetrics, BusClient, type Logger } from '@blog/common';
import { envelopeOf, InMemoryBus } from '@blog/common/testing';
import pino from 'pino';
import request from 'supertest';

/** A logger whose JSON lines are kept for the test to read. */
function recordingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    logger: pino({ level: 'info' }, sink),
    lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

function appWith(logger: Logger, metrics: ServiceMetrics) {
  const app = createServiceApp({ isReady: () => true, logger, metrics });
  app.get('/things/:id', (_req, res) => void res.json({ ok: true }));
  return finishServiceApp(app, logger);
}

describe('observability of every service', () => {
  it('logs one line per request with method, path, status, duration and a request id it echoes', async () => {
    const { logger, lines } = recordingLogger();
    const app = appWith(logger, new ServiceMetrics('test'));
    const answer = await request(app).get('/things/42').set('x-request-id', 'req-1').expect(200);
    expect(answer.headers['x-request-id']).toBe('req-1');
    const generated = await request(app).get('/nowhere').expect(404);
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await request(app).get('/healthz').expect(200);

    const requests = lines().filter((line) => line.req !== undefined);
    expect(requests).toEqual([
      expect.objectContaining({ req: { id: 'req-1', method: 'GET', path: '/things/42' }, res: { status: 200 }, responseTime: expect.any(Number) }),
      expect.objectContaining({ req: expect.objectContaining({ id: generated.headers['x-request-id'], path: '/nowhere' }), res: { status: 404 } }),
    ]);
  });

  it('serves Prometheus metrics: request durations by route pattern and status', async () => {
    const metrics = new ServiceMetrics('test');
    const app = appWith(recordingLogger().logger, metrics);
    await request(app).get('/things/1').expect(200);
    await request(app).get('/things/2').expect(200);
    const scraped = await request(app).get('/metrics').expect(200).expect('content-type', /text\/plain/);
    const count = scraped.text.split('\n').find((line) => line.startsWith('http_request_duration_seconds_count') && line.includes('route="/things/:id"'));
    expect(count).toMatch(/method="GET"/);
    expect(count).toMatch(/status="200"/);
    expect(count).toMatch(/service="test"/);
    expect(count).toMatch(/ 2$/);
  });

  it('counts and logs events published and applied, with their ids, so one event can be followed', async () => {
    const { logger, lines } = recordingLogger();
    const metrics = new ServiceMetrics('test');
    const history = new InMemoryBus();
    const consumer = new EventConsumer({
      history,
      logger,
      metrics,
      handlers: {
        PostCreated: ({ id }) => {
          if (id === 'broken') throw new Error('cannot apply');
        },
      },
    });
    await consumer.start();
    const event = envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'T' } }, 1);
    await consumer.receive(event, envelopeOf({ type: 'PostCreated', data: { id: 'broken', title: 'T' } }, 2));
    expect((await metrics.registry.getSingleMetric('events_skipped_total')?.get())?.values[0]?.value).toBe(1);
    const applied = (await metrics.registry.getSingleMetric('events_applied_total')?.get())?.values;
    expect(applied).toEqual([expect.objectContaining({ labels: expect.objectContaining({ type: 'PostCreated' }), value: 1 })]);
    expect(lines()).toContainEqual(expect.objectContaining({ msg: 'event applied', eventId: event.id, type: 'PostCreated', seq: 1 }));
  });

  it('times the catch-up', async () => {
    const metrics = new ServiceMetrics('test');
    const consumer = new EventConsumer({ history: new InMemoryBus(), logger: recordingLogger().logger, metrics, handlers: {} });
    await consumer.start();
    expect((await metrics.registry.getSingleMetric('catch_up_duration_seconds')?.get())?.values[0]?.value).toBeGreaterThanOrEqual(0);
  });

  it('BusClient counts and logs what the bus stored', async () => {
    const { logger, lines } = recordingLogger();
    const metrics = new ServiceMetrics('test');
    const bus = new BusClient('http://127.0.0.1:9', { logger, metrics });
    await expect(bus.publish({ type: 'PostCreated', data: { id: 'p', title: 't' } })).rejects.toThrow();
    expect(await metrics.registry.getSingleMetricAsString('events_published_total')).not.toMatch(/PostCreated/);
    expect(lines().filter((line) => line.msg === 'event published')).toEqual([]);
  });
});
