import { createServiceApp, finishServiceApp, HttpError, parseBody, silentLogger } from '@blog/common';
import request from 'supertest';
import { z } from 'zod';

function appWithRoute(ready = true) {
  const app = createServiceApp({ isReady: () => ready });
  app.post('/things', (req, res) => {
    const { name } = parseBody(z.object({ name: z.string().min(1) }), req.body);
    res.status(201).json({ name });
  });
  app.get('/boom', () => {
    throw new Error('secret internals');
  });
  app.get('/teapot', () => {
    throw new HttpError(418, 'short and stout');
  });
  return finishServiceApp(app, silentLogger());
}

describe('service kit', () => {
  it('answers health and readiness', async () => {
    await request(appWithRoute(true)).get('/healthz').expect(200, { status: 'ok' });
    await request(appWithRoute(true)).get('/readyz').expect(200, { status: 'ready' });
    const notReady = await request(appWithRoute(false)).get('/readyz').expect(503);
    expect(notReady.body.error).toMatch(/not ready/);
  });

  it.each([
    ['malformed JSON', 'application/json', '{"name":', 400, /not valid JSON/],
    ['a JSON array', 'application/json', '[1]', 400, /must be a JSON object/],
    ['a JSON string', 'application/json', '"x"', 400, /not valid JSON/],
    ['no JSON at all', 'text/plain', 'name=x', 400, /must be a JSON object/],
    ['a wrong field', 'application/json', '{"name":""}', 400, /^name:/],
    ['an oversized body', 'application/json', JSON.stringify({ name: 'x'.repeat(20_000) }), 413, /larger than/],
  ])('answers %s with a JSON error', async (_name, type, body, status, message) => {
    const res = await request(appWithRoute()).post('/things').set('content-type', type).send(body).expect(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.error).toMatch(message);
  });

  it('hides internal errors behind a 500 JSON and keeps HttpError statuses', async () => {
    const boom = await request(appWithRoute()).get('/boom').expect(500);
    expect(boom.body).toEqual({ error: 'internal error' });
    await request(appWithRoute()).get('/teapot').expect(418, { error: 'short and stout' });
  });

  it('answers unknown routes and malformed URLs with JSON errors', async () => {
    await request(appWithRoute()).delete('/things').expect(404, { error: 'no route for DELETE /things' });
    const res = await request(appWithRoute()).get('/things/%E0%A4%A');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.error).toEqual(expect.any(String));
  });
});
