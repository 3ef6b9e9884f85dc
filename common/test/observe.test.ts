import { setTimeout as sleep } from 'node:timers/promises';
import * as fromIndex from 'prom-client';
import * as own from '../src/service/prom';
import { createServiceApp, EventConsumer, finishServiceApp, ServiceMetrics, type Logger } from '@blog/common';
import { envelopeOf, InMemoryBus, recordingLogger } from '@blog/common/testing';
import request from 'supertest';

function appWith(logger: Logger, metrics: ServiceMetrics) {
  const app = createServiceApp({ isReady: () => true, logger, metrics });
  app.get('/things/:id', (_req, res) => void res.json({ ok: true }));
  return finishServiceApp(app, logger);
}

describe('observability of every service', () => {
  it('logs one line per request with method, path, status, duration and a request id it echoes', async () => {
    const { logger, lines, text } = recordingLogger();
    const app = appWith(logger, new ServiceMetrics());
    const answer = await request(app).get('/things/42').set('x-request-id', 'req-1').expect(200);
    expect(answer.headers['x-request-id']).toBe('req-1');
    const generated = await request(app).get('/nowhere').expect(404);
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await request(app).get('/healthz').expect(200);

    const requests = lines().filter((line) => line.status !== undefined);
    expect(requests).toEqual([
      expect.objectContaining({
        level: 30,
        reqId: 'req-1',
        method: 'GET',
        path: '/things/42',
        status: 200,
        ms: expect.any(Number),
      }),
      expect.objectContaining({ reqId: generated.headers['x-request-id'], path: '/nowhere', status: 404 }),
    ]);
    // Each key once: a log store reading the line must not have to pick between two values.
    expect(text().every((line) => line.split('"reqId"').length <= 2)).toBe(true);
  });

  it('logs a failed request as an error even when the level hides other requests', async () => {
    const { logger, lines } = recordingLogger('warn');
    const app = createServiceApp({ isReady: () => true, logger });
    app.get('/ok', (_req, res) => void res.json({}));
    app.get('/broken', () => {
      throw new Error('boom');
    });
    finishServiceApp(app, logger);
    await request(app).get('/ok').expect(200);
    await request(app).get('/broken').expect(500);
    expect(lines().filter((line) => line.status !== undefined)).toEqual([
      expect.objectContaining({ level: 50, path: '/broken', status: 500 }),
    ]);
    // The line that reports the error names the same request.
    const failed = lines().find((line) => line.msg === 'request failed');
    expect(failed?.reqId).toBe(lines().find((line) => line.status === 500)?.reqId);
  });

  it('does not take a request id that could forge log lines', async () => {
    const app = appWith(recordingLogger().logger, new ServiceMetrics());
    const answer = await request(app).get('/things/1').set('x-request-id', 'a b"c').expect(200);
    expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves Prometheus metrics: request durations by route pattern and status', async () => {
    const metrics = new ServiceMetrics();
    const app = appWith(recordingLogger().logger, metrics);
    await request(app).get('/things/1').expect(200);
    await request(app).get('/things/2').expect(200);
    const scraped = await request(app)
      .get('/metrics')
      .expect(200)
      .expect('content-type', /text\/plain/);
    const count = scraped.text
      .split('\n')
      .find((line) => line.startsWith('http_request_duration_seconds_count') && line.includes('route="/things/:id"'));
    expect(count).toMatch(/method="GET"/);
    expect(count).toMatch(/status="200"/);
    // No label of a name Prometheus gives the target (it would come out renamed exported_<name>).
    expect(count).not.toMatch(/\b(job|instance|service|pod|namespace|container|endpoint)="/);
    expect(count).toMatch(/ 2$/);
  });

  it('labels every path no route matches "unmatched", so probing paths adds no series', async () => {
    const metrics = new ServiceMetrics();
    const app = appWith(recordingLogger().logger, metrics);
    for (const path of ['/nope', '/wp-admin/x.php', '/things/1/extra', '/%2e%2e/etc']) await request(app).get(path);
    const routes = (await metrics.registry.metrics())
      .split('\n')
      .filter((line) => line.startsWith('http_request_duration_seconds_count'))
      .map((line) => /route="([^"]*)"/.exec(line)?.[1]);
    expect(routes).toEqual(['unmatched']);
  });

  it('counts and logs events published and applied, with their ids, so one event can be followed', async () => {
    const { logger, lines } = recordingLogger();
    const metrics = new ServiceMetrics();
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
    expect(applied).toEqual([
      expect.objectContaining({ labels: expect.objectContaining({ type: 'PostCreated' }), value: 1 }),
    ]);
    expect(lines()).toContainEqual(
      expect.objectContaining({ msg: 'event applied', eventId: event.id, type: 'PostCreated', seq: 1 }),
    );
  });

  it('times the catch-up', async () => {
    const metrics = new ServiceMetrics();
    const bus = new InMemoryBus();
    const slowHistory = {
      readAfter: async (after: number, limit: number) => (await sleep(50), bus.readAfter(after, limit)),
    };
    const consumer = new EventConsumer({
      history: slowHistory,
      logger: recordingLogger().logger,
      metrics,
      handlers: {},
    });
    const startedAt = Date.now();
    await consumer.start();
    const elapsedSeconds = (Date.now() - startedAt) / 1_000;
    // The reads took time, and the catch-up is timed within the call that made them (on the same clock).
    const timed = (await metrics.registry.getSingleMetric('catch_up_duration_seconds')?.get())?.values[0]?.value;
    expect(timed).toBeGreaterThan(0);
    expect(timed).toBeLessThanOrEqual(elapsedSeconds);
  });
});

describe('process metrics of a running service', () => {
  it("are prom-client's standard process and Node.js metrics, read when scraped", async () => {
    const metrics = new ServiceMetrics({ processMetrics: true });
    const families = await metrics.registry.getMetricsAsJSON();
    const value = (name: string) => families.find((family) => family.name === name)?.values[0]?.value;
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(10_000_000);
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(1_000_000);
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(families.map((family) => family.name)).toEqual(
      expect.arrayContaining([
        'nodejs_eventloop_lag_p99_seconds',
        'nodejs_gc_duration_seconds',
        'process_start_time_seconds',
      ]),
    );
  });

  it('are not collected for the apps tests build', async () => {
    const names = (await new ServiceMetrics().registry.getMetricsAsJSON()).map((family) => family.name);
    expect(names.filter((name) => /^(process|nodejs)_/.test(name))).toEqual([]);
  });
});

describe('prom-client classes loaded one by one (common/src/service/prom.ts)', () => {
  it('are the very classes prom-client exports', () => {
    expect([own.Registry, own.Counter, own.Gauge, own.Histogram, own.collectDefaultMetrics]).toEqual([
      fromIndex.Registry,
      fromIndex.Counter,
      fromIndex.Gauge,
      fromIndex.Histogram,
      fromIndex.collectDefaultMetrics,
    ]);
  });
});
