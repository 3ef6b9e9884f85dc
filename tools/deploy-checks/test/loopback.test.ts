import { localizeValue, loopbackEnv } from '../src/loopback';
import { loadManifests } from '../src/manifests';

const { manifests } = loadManifests();
const MANIFEST_PORTS: Record<string, number> = {
  'event-bus': 4005,
  posts: 4000,
  comments: 4001,
  query: 4002,
  moderation: 4003,
  client: 3000,
};
const portOf = (name: string) => MANIFEST_PORTS[name];

describe('the manifests on loopback', () => {
  it('leaves URLs alone unless they name a Service and one of its ports', () => {
    expect(localizeValue('http://event-bus-srv.default.svc.cluster.local:4005/events', manifests, portOf)).toBe(
      'http://127.0.0.1:4005/events',
    );
    expect(localizeValue('http://event-bus-srv:9999', manifests, portOf)).toBe('http://event-bus-srv:9999');
    expect(localizeValue('https://example.com:443,orange', manifests, portOf)).toBe('https://example.com:443,orange');
  });

  it('moves every URL of an env to the port its container listens on here, and PORT with it', () => {
    const here: Record<string, number> = {
      'event-bus': 5005,
      posts: 5000,
      comments: 5001,
      query: 5002,
      moderation: 5003,
    };
    const env = {
      PORT: '4005',
      EVENT_SUBSCRIBERS: 'http://posts-clusterip-srv:4000,http://query-srv:4002',
      BLOCKED_WORDS: 'orange',
    };
    expect(loopbackEnv(env, 5005, manifests, (name) => here[name])).toEqual({
      PORT: '5005',
      EVENT_SUBSCRIBERS: 'http://127.0.0.1:5000,http://127.0.0.1:5002',
      BLOCKED_WORDS: 'orange',
    });
    expect(loopbackEnv({ BLOCKED_WORDS: 'orange' }, 5005, manifests, (name) => here[name])).toEqual({
      BLOCKED_WORDS: 'orange',
    });
  });
});
