/**
 * The Ingresses of infra/k8s (their paths are written by `npm run generate`, see generate.test.ts): the
 * conventions ingress-nginx needs, and the settings of the Ingress holding each route of PUBLIC_ROUTES.
 */
import { PUBLIC_ROUTES } from '@blog/common';
import {
  checkConnectionLimit,
  checkIngressConventions,
  checkRequestRateLimit,
  checkStreamingRoute,
  ingressHolding,
  LIMIT_BURST_MULTIPLIER,
  LIMIT_CONNECTIONS,
  LIMIT_RPS,
  LIMIT_ALLOWLIST,
  LIMIT_WHITELIST,
  PROXY_BUFFERING,
  PROXY_READ_TIMEOUT,
  USE_REGEX,
} from '../src/checks/ingress';
import { loadManifests, ofKind, typedOf, mutatedCopy, type Manifest } from '../src/manifests';

const { manifests } = loadManifests();
const INGRESS = 'ingress-srv';
const STREAM_INGRESS = 'ingress-stream';
const HOST = 'posts.com';
const STREAMS = PUBLIC_ROUTES.filter((route) => route.stream).map((route) => route.path);
const REQUESTS = PUBLIC_ROUTES.filter((route) => !route.stream).map((route) => route.path);
const holder = (path: string) => {
  const found = ingressHolding(manifests, HOST, path);
  return typeof found === 'string' ? found : found.ingress.name;
};

describe(`Ingress ${INGRESS}`, () => {
  it('is the nginx class, for host posts.com, with use-regex and ImplementationSpecific paths', () => {
    const ingress = typedOf(manifests, 'Ingress', INGRESS);
    expect(ingress.spec?.ingressClassName).toBe('nginx');
    expect(ingress.spec?.rules?.map((rule) => rule.host)).toEqual([HOST]);
    expect(ingress.metadata?.annotations?.[USE_REGEX]).toBe('true');
    expect(checkIngressConventions(manifests)).toEqual([]);
  });

  it('holds every route but the streams, and limits the request rate of each client address there, with a burst that takes a page load', () => {
    expect(REQUESTS.map(holder)).toEqual(REQUESTS.map(() => INGRESS));
    for (const path of REQUESTS) expect([path, checkRequestRateLimit(manifests, HOST, path)]).toEqual([path, []]);
  });

  it("is a host Vite's dev server (dev image) accepts", () => {
    const config = ofKind(manifests, 'ConfigMap').find((c) => c.name === 'blog-config');
    const allowed = (config?.typed.data?.DEV_ALLOWED_HOSTS ?? '').split(',').map((host) => host.trim());
    expect(allowed).toContain(HOST);
  });
});

describe(`Ingress ${STREAM_INGRESS} (GET /posts/stream, Server-Sent Events)`, () => {
  it('holds the streams', () => {
    expect(STREAMS.length).toBeGreaterThan(0);
    expect(STREAMS.map(holder)).toEqual(STREAMS.map(() => STREAM_INGRESS));
  });

  it.each(STREAMS)(
    'passes %s on unbuffered, with an hour-long read and send timeout, and holds nothing else',
    (path) => {
      expect(checkStreamingRoute(manifests, HOST, path)).toEqual([]);
    },
  );

  it.each(STREAMS)(
    'limits %s to a number of open streams per client address, enough for a browser full of tabs',
    (path) => {
      expect(checkConnectionLimit(manifests, HOST, path)).toEqual([]);
    },
  );

  it('is the nginx class with use-regex', () => {
    const ingress = typedOf(manifests, 'Ingress', STREAM_INGRESS);
    expect(ingress.spec?.ingressClassName).toBe('nginx');
    expect(ingress.metadata?.annotations?.[USE_REGEX]).toBe('true');
  });

  // ingress-nginx's global proxy-buffering default is off, so on a default install nothing is buffered;
  // the stream's own annotation guards it on a controller where an admin turned buffering on.
  it('keeps the streaming annotations on the stream only: the other API paths take the controller default', () => {
    expect(checkStreamingRoute(manifests, HOST, '/posts/?(.*)')).not.toEqual([]);
  });
});

describe('the Ingress checks catch', () => {
  it('a missing use-regex annotation, another class, a Prefix path, a bad regex, a rewrite-target', () => {
    const broken = mutatedCopy(manifests, (copy) => {
      const ingress = typedOf(copy, 'Ingress', INGRESS);
      if (ingress.metadata) ingress.metadata.annotations = { 'nginx.ingress.kubernetes.io/rewrite-target': '/$1' };
      if (ingress.spec) ingress.spec.ingressClassName = 'traefik';
      const paths = ingress.spec?.rules?.[0]?.http?.paths ?? [];
      if (paths[0]) paths[0].pathType = 'Prefix';
      if (paths[1]) paths[1].path = '/posts/(.*/comments';
    });
    expect(checkIngressConventions(broken)).toEqual([
      expect.stringMatching(/spec.ingressClassName is "traefik", expected "nginx"/),
      expect.stringMatching(/annotation nginx.ingress.kubernetes.io\/use-regex is undefined, expected "true"/),
      expect.stringMatching(/rewrite-target is set/),
      expect.stringMatching(/paths\[0\] \(\/posts\/create\): pathType Prefix/),
      expect.stringMatching(/paths\[1\] \(\/posts\/\(\.\*\/comments\): not a valid regular expression/),
    ]);
  });

  it('a stream Ingress that buffers, times out after a minute, or holds other paths; a stream no Ingress holds', () => {
    const buffered = mutatedCopy(manifests, (copy) => {
      const annotations = typedOf(copy, 'Ingress', STREAM_INGRESS).metadata?.annotations ?? {};
      delete annotations[PROXY_BUFFERING];
      annotations[PROXY_READ_TIMEOUT] = '60';
      typedOf(copy, 'Ingress', STREAM_INGRESS).spec?.rules?.[0]?.http?.paths.push({
        path: '/posts/live',
        pathType: 'ImplementationSpecific',
        backend: { service: { name: 'query-srv', port: { number: 4002 } } },
      });
    });
    expect(checkStreamingRoute(buffered, HOST, '/posts/stream')).toEqual([
      expect.stringMatching(/proxy-buffering is undefined, expected "off"/),
      expect.stringMatching(/proxy-read-timeout is "60", expected at least "3600"/),
      expect.stringMatching(/also holds \/posts\/live/),
    ]);

    const noStreamIngress = mutatedCopy(manifests, (copy) => {
      const paths = typedOf(copy, 'Ingress', STREAM_INGRESS).spec?.rules?.[0]?.http?.paths ?? [];
      paths.splice(0);
    });
    expect(checkStreamingRoute(noStreamIngress, HOST, '/posts/stream')).toEqual([
      expect.stringMatching(/path \/posts\/stream: no Ingress of host posts.com holds it/),
    ]);
  });

  describe('a missing or useless rate limit', () => {
    /** The manifests with one annotation of an Ingress set to `value`, or removed when it is undefined. */
    function withAnnotation(ingressName: string, key: string, value: string | undefined): Manifest[] {
      return mutatedCopy(manifests, (copy) => {
        const metadata = typedOf(copy, 'Ingress', ingressName).metadata ?? {};
        const annotations = { ...metadata.annotations };
        if (value === undefined) delete annotations[key];
        else annotations[key] = value;
        metadata.annotations = annotations;
      });
    }

    it.each([
      ['limit-rps missing', LIMIT_RPS, undefined, /limit-rps is undefined, expected a whole number above 0/],
      ['limit-rps ten', LIMIT_RPS, 'ten', /limit-rps is "ten", expected a whole number above 0/],
      ['limit-rps 0', LIMIT_RPS, '0', /limit-rps is "0", expected a whole number above 0/],
      ['limit-rps -10', LIMIT_RPS, '-10', /limit-rps is "-10"/],
      ['limit-rps 2.5', LIMIT_RPS, '2.5', /limit-rps is "2.5"/],
      ['limit-rps (empty)', LIMIT_RPS, '', /limit-rps is ""/],
      [
        'limit-burst-multiplier missing',
        LIMIT_BURST_MULTIPLIER,
        undefined,
        /limit-burst-multiplier is undefined, expected a whole number above 0/,
      ],
      ['limit-burst-multiplier 0', LIMIT_BURST_MULTIPLIER, '0', /limit-burst-multiplier is "0"/],
      ['limit-rps 1 (a burst of 5)', LIMIT_RPS, '1', /a burst of 5 \(.*\), expected at least 30, one page load/],
      [
        'limit-whitelist 10.0.0.0/8, 0.0.0.0/0',
        LIMIT_WHITELIST,
        '10.0.0.0/8, 0.0.0.0/0',
        /limit-whitelist exempts every address \(0.0.0.0\/0\)/,
      ],
      [
        'limit-allowlist 0.0.0.0/0 (the current name)',
        LIMIT_ALLOWLIST,
        '0.0.0.0/0',
        /limit-allowlist exempts every address \(0.0.0.0\/0\)/,
      ],
    ])(`on ${INGRESS}: %s`, (_case, key, value, problem) => {
      const broken = withAnnotation(INGRESS, key, value);
      for (const path of REQUESTS)
        expect(checkRequestRateLimit(broken, HOST, path)).toEqual([expect.stringMatching(problem)]);
      // The other Ingress keeps its own limit.
      expect(checkConnectionLimit(broken, HOST, '/posts/stream')).toEqual([]);
    });

    it.each([
      [
        'limit-connections missing',
        LIMIT_CONNECTIONS,
        undefined,
        /limit-connections is undefined, expected a whole number above 0/,
      ],
      [
        'limit-connections many',
        LIMIT_CONNECTIONS,
        'many',
        /limit-connections is "many", expected a whole number above 0/,
      ],
      ['limit-connections 0', LIMIT_CONNECTIONS, '0', /limit-connections is "0"/],
      [
        'limit-connections 1',
        LIMIT_CONNECTIONS,
        '1',
        /limit-connections is 1, expected at least 6, one browser's tabs/,
      ],
      ['limit-whitelist ::/0', LIMIT_WHITELIST, '::/0', /limit-whitelist exempts every address \(::\/0\)/],
      ['limit-allowlist ::/0', LIMIT_ALLOWLIST, '::/0', /limit-allowlist exempts every address \(::\/0\)/],
    ])(`on ${STREAM_INGRESS}: %s`, (_case, key, value, problem) => {
      const broken = withAnnotation(STREAM_INGRESS, key, value);
      expect(checkConnectionLimit(broken, HOST, '/posts/stream')).toEqual([expect.stringMatching(problem)]);
      expect(checkRequestRateLimit(broken, HOST, '/posts/?(.*)')).toEqual([]);
    });

    it('a stream limited by its request rate only (the limit sits on the wrong Ingress)', () => {
      const moved = mutatedCopy(manifests, (copy) => {
        const stream = typedOf(copy, 'Ingress', STREAM_INGRESS).metadata?.annotations ?? {};
        const requests = typedOf(copy, 'Ingress', INGRESS).metadata?.annotations ?? {};
        delete stream[LIMIT_CONNECTIONS];
        stream[LIMIT_RPS] = '10';
        stream[LIMIT_BURST_MULTIPLIER] = '5';
        requests[LIMIT_CONNECTIONS] = '10';
      });
      expect(checkConnectionLimit(moved, HOST, '/posts/stream')).toEqual([
        expect.stringMatching(/\(Ingress ingress-stream\): .*limit-connections is undefined/),
      ]);
    });
  });
});
