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
  app.get('/unsure', () => {
    throw new HttpError(503, 'the bus did not confirm', { code: 'outcome_unknown', retryAfterSeconds: 2 });
  });
  return finishServiceApp(app, silentLogger());
}

describe('service kit', () => {
  it('answers health and readiness', async () => {
    await request(appWithRoute(true)).get('/healthz').expect(200, { status: 'ok' });
    await request(appWithRoute(true)).get('/readyz').expect(200, { status: 'ready' });
    const notReady = await request(appWithRoute(false)).get('/readyz').expect(503);
    expect(notReady.body).toEqual({ error: expect.stringMatching(/not ready/), code: 'unavailable' });
  });

  it('refuses requests with 503 unavailable while catching up', async () => {
    const res = await request(appWithRoute(false)).get('/things').expect(503);
    expect(res.body).toEqual({ error: expect.stringMatching(/catching up/), code: 'unavailable' });
  });

  it.each([
    ['malformed JSON', 'application/json', '{"name":', 400, /not valid JSON/, 'invalid_request'],
    ['a JSON array', 'application/json', '[1]', 400, /must be a JSON object/, 'invalid_request'],
    ['a JSON string', 'application/json', '"x"', 400, /not valid JSON/, 'invalid_request'],
    ['no JSON at all', 'text/plain', 'name=x', 400, /must be a JSON object/, 'invalid_request'],
    ['a wrong field', 'application/json', '{"name":""}', 400, /^name:/, 'invalid_request'],
    [
      'an unsupported charset',
      'application/json; charset=koi8-r',
      '{"name":"x"}',
      415,
      /unsupported charset/,
      'invalid_request',
    ],
    [
      'an oversized body',
      'application/json',
      JSON.stringify({ name: 'x'.repeat(20_000) }),
      413,
      /larger than/,
      'payload_too_large',
    ],
  ])('answers %s with a JSON error and its code', async (_name, type, body, status, message, code) => {
    const res = await request(appWithRoute()).post('/things').set('content-type', type).send(body).expect(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toEqual({ error: expect.stringMatching(message), code });
  });

  it('hides internal errors behind a 500 JSON and keeps HttpError statuses and codes', async () => {
    const boom = await request(appWithRoute()).get('/boom').expect(500);
    expect(boom.body).toEqual({ error: 'internal error', code: 'internal' });
    await request(appWithRoute()).get('/teapot').expect(418, { error: 'short and stout', code: 'invalid_request' });
    const unsure = await request(appWithRoute())
      .get('/unsure')
      .expect(503, { error: 'the bus did not confirm', code: 'outcome_unknown' });
    expect(unsure.headers['retry-after']).toBe('2');
  });

  it('answers unknown routes and malformed URLs with JSON errors', async () => {
    await request(appWithRoute())
      .delete('/things')
      .expect(404, { error: 'no route for DELETE /things', code: 'not_found' });
    const res = await request(appWithRoute()).get('/things/%E0%A4%A');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body).toEqual({ error: expect.any(String), code: res.status === 404 ? 'not_found' : 'invalid_request' });
  });
});
