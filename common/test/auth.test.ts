import { createServiceApp, eventsAuthorization, finishServiceApp, silentLogger } from '@blog/common';
import request from 'supertest';

const TOKEN = 'a-token-of-twenty-four-c';

/** A service app with event routes, as the bus and the services have them. */
function appWith(eventsToken: string | undefined) {
  const app = createServiceApp({ isReady: () => true, eventsToken });
  app.get('/events', (_req, res) => void res.json([]));
  app.post('/events', (req, res) => void res.json({ received: req.body as unknown }));
  app.post('/events/batch', (_req, res) => void res.json({ status: 'OK' }));
  app.get('/posts', (_req, res) => void res.json({}));
  return finishServiceApp(app, silentLogger());
}

describe('authenticated event intake (EVENTS_TOKEN)', () => {
  const app = appWith(TOKEN);
  const event = { type: 'PostCreated', data: { id: 'p', title: 't' } };

  it.each([
    ['POST', '/events'],
    ['POST', '/events/batch'],
    ['GET', '/events'],
    ['GET', '/EVENTS?after=0'],
  ])('answers %s %s without the token with 401 JSON naming the header', async (method, path) => {
    const call = method === 'GET' ? request(app).get(path) : request(app).post(path).send(event);
    const answer = await call.expect(401).expect('content-type', /json/).expect('www-authenticate', 'Bearer');
    expect(answer.body).toEqual({
      error: expect.stringContaining('Authorization: Bearer <EVENTS_TOKEN>'),
      code: 'unauthorized',
    });
  });

  it.each([`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN, `bearer ${TOKEN}`, 'Bearer ', `Basic ${TOKEN}`])(
    'refuses the header %j',
    async (header) => {
      const answer = await request(app).post('/events').set('authorization', header).send(event).expect(401);
      expect(answer.body).toEqual({ error: 'wrong events token', code: 'unauthorized' });
    },
  );

  it('lets the right token through, to the routes and their body parsers', async () => {
    const answer = await request(app)
      .post('/events')
      .set('authorization', eventsAuthorization(TOKEN))
      .send(event)
      .expect(200);
    expect(answer.body).toEqual({ received: event });
    await request(app).post('/events/batch').set('authorization', eventsAuthorization(TOKEN)).send([event]).expect(200);
    await request(app).get('/events').set('authorization', eventsAuthorization(TOKEN)).expect(200);
  });

  it('refuses before reading the body: a large or broken body without the token is a 401, not a 413 or 400', async () => {
    await request(app).post('/events').set('content-type', 'application/json').send('x'.repeat(100_000)).expect(401);
    await request(app).post('/events').set('content-type', 'application/json').send('{broken').expect(401);
  });

  it('leaves the other routes alone', async () => {
    await request(app).get('/posts').expect(200);
    await request(app).get('/healthz').expect(200);
  });

  it('is open when no token is configured, as in the course version', async () => {
    await request(appWith(undefined)).post('/events').send(event).expect(200);
  });
});
