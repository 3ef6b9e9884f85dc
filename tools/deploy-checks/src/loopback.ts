/**
 * The pods of the manifests on one machine: what their environment becomes when every container listens
 * on this machine's loopback instead of a pod IP (the container step and the checks that run the built
 * services both run them so).
 */
import { serviceNameOfHost, targetContainerPort, workloadsOfService } from './checks/references';
import { ofKind, workloads, type Manifest } from './manifests';

/**
 * Rewrites the cluster URLs in an env value to loopback: a URL whose host is a Service of the manifests
 * and whose port is one of its ports goes to 127.0.0.1 and the port the selected container listens on
 * here. Other values are left alone.
 */
export function localizeValue(
  value: string,
  manifests: readonly Manifest[],
  hostPortOf: (containerName: string) => number | undefined,
): string {
  const all = workloads(manifests);
  return value.replace(/\bhttps?:\/\/([a-z0-9.-]+):(\d+)/gi, (url: string, host: string, port: string) => {
    const serviceName = serviceNameOfHost(host.toLowerCase());
    const service = ofKind(manifests, 'Service').find((candidate) => candidate.name === serviceName);
    const servicePort = service?.typed.spec?.ports?.find((candidate) => candidate.port === Number(port));
    if (!service || !servicePort) return url;
    const [workload] = workloadsOfService(service.typed, all);
    const target = workload ? targetContainerPort(servicePort, workload) : undefined;
    const local = target ? hostPortOf(target.container.name) : undefined;
    return local === undefined ? url : `${url.slice(0, url.indexOf('//') + 2)}127.0.0.1:${local}`;
  });
}

/** A container's environment on loopback: its cluster URLs rewritten (localizeValue), and PORT, where it is set, the port it listens on here. */
export function loopbackEnv(
  env: Readonly<Record<string, string>>,
  port: number,
  manifests: readonly Manifest[],
  hostPortOf: (containerName: string) => number | undefined,
): Record<string, string> {
  const local: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) local[key] = localizeValue(value, manifests, hostPortOf);
  if (local.PORT !== undefined) local.PORT = String(port);
  return local;
}
