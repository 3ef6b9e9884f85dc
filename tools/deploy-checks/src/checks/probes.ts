/**
 * Probe paths against what the services really serve: the caller says, per image, whether the service the
 * image runs answers a GET on a path (anything but 404 counts: /readyz answers 503 while a service catches
 * up, which is exactly what a readiness probe wants to see).
 */
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { label, imageRepository, servingContainers, workloads, type Manifest } from '../manifests';

/** Does the service `image` runs serve GET `path`? undefined when the image is unknown to the caller. */
export type ServesPath = (image: string, path: string) => Promise<boolean | undefined>;

export async function checkProbePaths(manifests: readonly Manifest[], serves: ServesPath): Promise<string[]> {
  const problems: string[] = [];
  for (const workload of workloads(manifests)) {
    for (const container of servingContainers(workload)) {
      const image = imageRepository(container.image ?? '');
      const probes: [string, IProbe | undefined][] = [
        ['startupProbe', container.startupProbe],
        ['readinessProbe', container.readinessProbe],
        ['livenessProbe', container.livenessProbe],
      ];
      for (const [field, probe] of probes) {
        const path = probe?.httpGet?.path;
        if (path === undefined) continue;
        const served = await serves(image, path);
        const at = `${label(workload.manifest)} container ${container.name}: ${field}.httpGet.path ${path}`;
        if (served === undefined)
          problems.push(`${at}: no app is known for image ${image}, so the path cannot be checked`);
        else if (!served) problems.push(`${at}: the ${image} app does not serve it (404): the probe would always fail`);
      }
    }
  }
  return problems;
}
