import { generateKeyPairSync } from 'node:crypto';
import type { Server } from 'node:http';
import { createServiceApp, EVENT_BATCH_PATH, finishServiceApp, listen, silentLogger } from '@blog/common';
import { eventually } from '@blog/testkit';
import { SubscriberDelivery } from '../src/delivery/subscriber-delivery';
import { MemoryEventLog } from '../src/testing';

const fast = { minDelayMs: 5, maxDelayMs: 20 };
const busKeys = generateKeyPairSync('ed25519');

/** A subscriber built on the service kit with DELIVERY_PUBLIC_KEY, recording the seqs it takes and the refusals it answers. */
async function signedSubscriber(publicKey = busKeys.publicKey) {
  const received: number[] = [];
  const app = createServiceApp({ isReady: () => true, deliveryKey: publicKey });
  app.post(EVENT_BATCH_PATH, (req, res) => {
    received.push(...(req.body as { seq: number }[]).map(({ seq }) => seq));
    res.json({ status: 'OK', position: received.at(-1) });
  });
  const { server, port } = await listen(finishServiceApp(app, silentLogger()), 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, received, server };
}

const opened: { deliveries: SubscriberDelivery[]; servers: Server[] } = { deliveries: [], servers: [] };
afterEach(async () => {
  await Promise.all(opened.deliveries.splice(0).map((delivery) => delivery.stop()));
  for (const server of opened.servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function deliverTo(publicKey: typeof busKeys.publicKey) {
  const log = new MemoryEventLog();
  const subscriber = await signedSubscriber(publicKey);
  const delivery = new SubscriberDelivery(subscriber.url, {
    log,
    logger: silentLogger(),
    backoff: fast,
    drainTimeoutMs: 50,
    signingKey: busKeys.privateKey,
  });
  opened.servers.push(subscriber.server);
  opened.deliveries.push(delivery);
  delivery.start();
  for (let i = 1; i <= 3; i++)
    await log.append({
      id: `e${i}`,
      type: 'PostCreated',
      data: { id: `p${i}`, title: 't' },
      time: new Date().toISOString(),
    });
  return { subscriber, delivery };
}

describe('signed deliveries (DELIVERY_SIGNING_KEY)', () => {
  it('signs every delivery so that a service with the public key applies it', async () => {
    const { subscriber } = await deliverTo(busKeys.publicKey);
    await eventually(() => expect(subscriber.received).toEqual([1, 2, 3]));
  });

  it('is refused with 401, and retried, by a service expecting another key', async () => {
    const { subscriber, delivery } = await deliverTo(generateKeyPairSync('ed25519').publicKey);
    await eventually(() =>
      expect(delivery.status()).toMatchObject({
        delivered: 0,
        lastError: expect.stringMatching(/^HTTP 401 .*signature does not match/),
      }),
    );
    expect(subscriber.received).toEqual([]);
  });
});
