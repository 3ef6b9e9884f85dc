/**
 * The paths the manifests point at — probes, Prometheus' scrape path, the event subscribers — against what
 * the services as deployed serve (support/deployed.ts): each pod's service runs with its pod's environment
 * and is asked over HTTP.
 */
import { http } from '@blog/testkit';
import { checkProbePaths } from '../src/checks/probes';
import { workloadsOfService } from '../src/checks/references';
import {
  copyManifests,
  imageRepository,
  loadManifests,
  ofKind,
  typedOf,
  workloads,
  type Manifest,
} from '../src/manifests';
import { podsOf, runPods, type RunningPods } from './support/deployed';

const { manifests } = loadManifests();
const pods = podsOf(manifests);

let running: RunningPods;

beforeAll(async () => {
  running = await runPods(manifests, pods);
});

afterAll(async () => {
  await running?.stop();
});

/**
 * Does the pod running `image` answer `method path` with anything but 404? undefined when no pod runs it.
 * Asked for JSON, so that the client's page fallback (which answers any request for HTML) cannot hide a
 * path its server lacks.
 */
async function serves(image: string, path: string, method: 'GET' | 'POST' = 'GET'): Promise<boolean | undefined> {
  const pod = pods.find((candidate) => candidate.image === image);
  if (!pod) return undefined;
  const answer = await http(`${running.url(pod.workload)}${path}`, {
    method,
    headers: { accept: 'application/json' },
    ...(method === 'POST' ? { body: {} } : {}),
  });
  return answer.status !== 404;
}

const servesGet = (image: string, path: string) => serves(image, path);

describe('probes', () => {
  it("every probe's path is a route the service as deployed serves", async () => {
    expect(await checkProbePaths(manifests, servesGet)).toEqual([]);
  });

  it('runs a pod for every image the manifests run (else the probe check could not look)', () => {
    const images = workloads(manifests).flatMap((w) => w.containers.map((c) => imageRepository(c.image ?? '')));
    expect(pods.map((pod) => pod.image).sort()).toEqual(images.sort());
  });

  it('fails for a probe pointed at a path the service does not serve (/health), or an unknown image', async () => {
    for (const pod of pods) expect([pod.image, await serves(pod.image, '/health')]).toEqual([pod.image, false]);

    const copy: Manifest[] = copyManifests(manifests);
    const container = typedOf(copy, 'Deployment', 'query-depl').spec?.template.spec?.containers[0];
    if (!container?.livenessProbe?.httpGet || !container.readinessProbe?.httpGet)
      throw new Error('query-depl has no httpGet probes');
    container.livenessProbe.httpGet.path = '/health';
    const client = typedOf(copy, 'Deployment', 'client-depl').spec?.template.spec?.containers[0];
    if (!client?.readinessProbe?.httpGet) throw new Error('client-depl has no readinessProbe');
    client.readinessProbe.httpGet.path = '/ready';
    expect(await checkProbePaths(copy, servesGet)).toEqual([
      expect.stringMatching(
        /client-depl container client: readinessProbe.httpGet.path \/ready: the blog\/client app does not serve it \(404\)/,
      ),
      expect.stringMatching(
        /query-depl container query: livenessProbe.httpGet.path \/health: the blog\/query app does not serve it \(404\)/,
      ),
    ]);

    expect(await checkProbePaths(manifests, () => Promise.resolve(undefined))).toContainEqual(
      expect.stringMatching(/no app is known for image blog\/posts/),
    );
  });
});

describe('event plumbing', () => {
  /** The images behind the Services that EVENT_SUBSCRIBERS lists. */
  function subscriberImages(): string[] {
    const config = ofKind(manifests, 'ConfigMap').find((c) => c.name === 'blog-config');
    const urls = (config?.typed.data?.EVENT_SUBSCRIBERS ?? '').split(',').map((item) => new URL(item.trim()));
    return urls
      .flatMap((url) => {
        const service = ofKind(manifests, 'Service').find((s) => s.name === url.hostname);
        return service ? workloadsOfService(service.typed, workloads(manifests)) : [];
      })
      .flatMap((w) => w.containers.map((c) => imageRepository(c.image ?? '')))
      .sort();
  }

  it('EVENT_SUBSCRIBERS lists exactly the services that take events (POST /events), the bus excepted', async () => {
    const intakes: string[] = [];
    for (const pod of pods)
      if (pod.image !== 'blog/event-bus' && (await serves(pod.image, '/events', 'POST'))) intakes.push(pod.image);
    expect(subscriberImages()).toEqual(intakes.sort());
  });

  it('the client as deployed (PROXY_API=false) proxies nothing and has no event intake: the paths the Ingress sends it stay with it', async () => {
    const config = ofKind(manifests, 'ConfigMap').find((c) => c.name === 'blog-config');
    expect(config?.typed.data?.PROXY_API).toBe('false');
    expect(await serves('blog/client', '/events', 'POST')).toBe(false);
  });
});

describe('metrics scraping', () => {
  const services = workloads(manifests).filter((w) => w.name !== 'client-depl');

  it('every service pod is annotated for Prometheus with its own port and a path its service serves', async () => {
    expect(services.map((w) => w.name).sort()).toEqual([
      'comments-depl',
      'event-bus',
      'moderation-depl',
      'posts-depl',
      'query-depl',
    ]);
    for (const workload of services) {
      const annotations = workload.template.metadata?.annotations ?? {};
      const container = workload.pod.containers[0];
      const image = imageRepository(container?.image ?? '');
      expect([workload.name, annotations['prometheus.io/scrape']]).toEqual([workload.name, 'true']);
      expect([workload.name, annotations['prometheus.io/port']]).toEqual([
        workload.name,
        String(container?.ports?.[0]?.containerPort),
      ]);
      expect([workload.name, await serves(image, annotations['prometheus.io/path'] ?? '')]).toEqual([
        workload.name,
        true,
      ]);
    }
  });
});
