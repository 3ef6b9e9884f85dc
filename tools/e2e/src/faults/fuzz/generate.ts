/**
 * The fuzz's seeded generator, a mix of every kind of malformed request. Every generated request is
 * invalid by construction — a create never carries a usable title or content, a publish to the bus never a
 * valid event, an envelope for a service's /events is malformed, a duplicate of an applied event, or forged
 * far ahead of the history (which must be answered 409) — so that the fuzz changes no state.
 */
import { Random } from '@blog/testkit';
import { oddMethod, oddPath, oddRead } from './odd';
import type { FuzzContext, FuzzRequest } from './requests';
import { badCreate } from './creates';
import { badEnvelope } from './envelopes';
import { badHistoryQuery, badPublish } from './bus';

export function generateFuzz(seed: number, count: number, context: FuzzContext): FuzzRequest[] {
  const random = new Random(seed);
  const generators: [number, () => FuzzRequest][] = [
    [18, () => badCreate(random, context, random.pick(['posts', 'client'] as const), 'post')],
    [18, () => badCreate(random, context, random.pick(['comments', 'client'] as const), 'comment')],
    [20, () => badEnvelope(random, context)],
    [10, () => badPublish(random)],
    [8, () => badHistoryQuery(random)],
    [10, () => oddMethod(random, context)],
    [8, () => oddPath(random)],
    [4, () => oddRead(random, context)],
  ];
  const total = generators.reduce((sum, [weight]) => sum + weight, 0);
  const requests: FuzzRequest[] = [];
  for (let i = 0; i < count; i++) {
    let roll = random.next() * total;
    for (const [weight, generate] of generators) {
      roll -= weight;
      if (roll < 0) {
        requests.push(withEventToken(generate(), random, context));
        break;
      }
    }
  }
  return requests;
}

/**
 * Event requests carry the token (to the bus) or the bus's signature of their body (to a service), so that
 * the fuzz reaches the parsers behind the check; one in ten goes without (or with a wrong token), and must
 * then be refused like any other garbage.
 */
function withEventToken(request: FuzzRequest, random: Random, context: FuzzContext): FuzzRequest {
  if (request.service === 'client' || !request.path.toLowerCase().startsWith('/events')) return request;
  if (request.expectStatus !== undefined || !random.chance(0.1)) {
    const credential = request.service === 'event-bus' ? context.eventHeaders : context.deliveryHeaders(request.body);
    return { ...request, headers: { ...request.headers, ...credential } };
  }
  const wrong: Record<string, string> = random.chance(0.5)
    ? { authorization: random.pick(['Bearer', 'Bearer x', 'Basic dXNlcjpwYXNz', `Bearer ${'a'.repeat(5000)}`]) }
    : {};
  return { ...request, headers: { ...request.headers, ...wrong }, what: `${request.what}, without the events token` };
}
