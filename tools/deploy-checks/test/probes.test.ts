import { checkProbePaths } from '../src/checks/probes';
import { workloadsOfService } from '../src/checks/references';
import { APP_OF_IMAGE, serves } from './support/apps';
import { copyManifests, imageRepository, loadManifests, ofKind, typedOf, workloads, type Manifest } from '../src/manifests';

const { manifests } = loadManifests();
const servesGet = (image: string, path: string) => serves(image, path);

describe('probes', () => {
  it("every probe's path is a route the service's own app serves", async () => {
    expect(await checkProbePaths(manifests, servesGet)).toEqual([]);
  });

  it('an app is known for every image the manifests run (else the probe check could not look)', () => {
    const images = workloads(manifests).flatMap((w) => w.containers.map((c) => imageRepository(c.image ?? '')));
    expect(images.filter((image) => !APP_OF_IMAGE[image])).toEqual([]);
  });

  it('fails for a probe pointed at a path the app does not serve (/health), or an unknown image', async () => {
    for (const image of Object.keys(APP_OF_IMAGE)) expect(await serves(image, '/health')).toBe(false);

    const copy: Manifest[] = copyManifests(manifests);
    const container = typedOf(copy, 'Deployment', 'query-depl').spec?.template.spec?.containers[0];
    if (!container?.livenessProbe?.httpGet || !container.readinessProbe?.httpGet) throw new Error('query-depl has no httpGet probes');
    container.livenessProbe.httpGet.path = '/health';
    const client = typedOf(copy, 'Deployment', 'client-depl').spec?.template.spec?.containers[0];
    if (!client?.readinessProbe?.httpGet) throw new Error('client-depl has no readinessProbe');
    client.readinessProbe.httpGet.path = '/ready';
    expect(await checkProbePaths(copy, servesGet)).toEqual([
      expect.stringMatching(/client-depl container client: readinessProbe.httpGet.path \/ready: the blog\/client app does not serve it \(404\)/),
      expect.stringMatching(/query-depl container query: livenessProbe.httpGet.path \/health: the blog\/query app does not serve it \(404\)/),
    ]);

    expect(await checkProbePaths(manifests, async () => undefined)).toContainEqual(expect.stringMatching(/no app is known for image blog\/posts/));
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
    for (const image of Object.keys(APP_OF_IMAGE)) if (image !== 'blog/event-bus' && (await serves(image, '/events', 'POST'))) intakes.push(image);
    expect(subscriberImages()).toEqual(intakes.sort());
  });
});

describe('metrics scraping', () => {
  const services = workloads(manifests).filter((w) => w.name !== 'client-depl');

  it('every service pod is annotated for Prometheus with its own port and a path its app serves', async () => {
    expect(services.map((w) => w.name).sort()).toEqual(['comments-depl', 'event-bus', 'moderation-depl', 'posts-depl', 'query-depl']);
    for (const workload of services) {
      const annotations = workload.template.metadata?.annotations ?? {};
      const container = workload.pod.containers[0];
      const image = imageRepository(container?.image ?? '');
      expect([workload.name, annotations['prometheus.io/scrape']]).toEqual([workload.name, 'true']);
      expect([workload.name, annotations['prometheus.io/port']]).toEqual([workload.name, String(container?.ports?.[0]?.containerPort)]);
      expect([workload.name, await serves(image, annotations['prometheus.io/path'] ?? '')]).toEqual([workload.name, true]);
    }
  });
});
