/**
 * The Ingress as a route table, read the way ingress-nginx reads it with use-regex, in the terms of
 * common/src/routes.ts (PUBLIC_ROUTES, resolvePublicRoute), so both can be compared.
 */
import { resolvePublicRoute, type PublicBackend, type PublicRoute } from '@blog/common';
import { label, imageRepository, ofKind, workloads, type IIngress, type Manifest } from '../support/manifests';
import { workloadsOfService } from './references';

export const USE_REGEX = 'nginx.ingress.kubernetes.io/use-regex';
const PUBLIC_BACKENDS: readonly PublicBackend[] = ['posts', 'comments', 'query', 'client'];

/** The public backend a Service leads to: the name of the image its pods run (blog/posts → posts). */
export function backendOfService(manifests: readonly Manifest[], serviceName: string): PublicBackend | string {
  const service = ofKind(manifests, 'Service').find((s) => s.name === serviceName);
  if (!service) return `Service ${serviceName} does not exist`;
  const [workload, ...more] = workloadsOfService(service.typed, workloads(manifests));
  if (!workload || more.length > 0) return `Service ${serviceName} does not select exactly one workload`;
  const images = (workload.pod.containers ?? []).map((container) => imageRepository(container.image ?? ''));
  const names = images.map((image) => image.split('/').at(-1) ?? image);
  const backend = PUBLIC_BACKENDS.find((candidate) => names.includes(candidate));
  return backend ?? `Service ${serviceName} runs ${images.join(', ')}, which is not a public backend (${PUBLIC_BACKENDS.join(', ')})`;
}

export interface IngressTable {
  host: string | undefined;
  routes: PublicRoute[];
  problems: string[];
}

/** The paths of an Ingress's rule for `host`, with the public backend each leads to. */
export function ingressRouteTable(manifests: readonly Manifest[], ingressName: string, host: string): IngressTable {
  const ingress = ofKind(manifests, 'Ingress').find((i) => i.name === ingressName);
  if (!ingress) return { host: undefined, routes: [], problems: [`no Ingress ${ingressName}`] };
  const rules = (ingress.typed.spec?.rules ?? []).filter((rule) => rule.host === host);
  if (rules.length !== 1) return { host: undefined, routes: [], problems: [`${label(ingress)}: ${rules.length} rules for host ${host}, expected 1`] };
  const problems: string[] = [];
  const routes: PublicRoute[] = [];
  for (const path of rules[0]?.http?.paths ?? []) {
    const serviceName = path.backend.service?.name;
    const backend = serviceName === undefined ? 'the backend is not a Service' : backendOfService(manifests, serviceName);
    if (path.path === undefined) problems.push(`${label(ingress)}: a path of host ${host} has no path`);
    else if (PUBLIC_BACKENDS.includes(backend as PublicBackend)) routes.push({ path: path.path, backend: backend as PublicBackend });
    else problems.push(`${label(ingress)}: path ${path.path}: ${backend}`);
  }
  return { host, routes, problems };
}

/** Where ingress-nginx (use-regex) sends a request URL: the path without the query string. */
export function routeRequest(routes: readonly PublicRoute[], requestUrl: string): PublicBackend | undefined {
  return resolvePublicRoute(new URL(requestUrl, 'http://ingress.invalid').pathname, routes);
}

/**
 * The conventions the route table depends on: the nginx class, use-regex on (else ingress-nginx reads
 * the paths as prefixes), ImplementationSpecific paths (the only pathType that may hold a regex), every
 * regex compiles, and no rewrite-target (which would change the path the services see).
 */
export function checkIngressConventions(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const ingress of ofKind(manifests, 'Ingress')) {
    const where = label(ingress);
    const spec: IIngress['spec'] = ingress.typed.spec;
    const annotations = ingress.typed.metadata?.annotations ?? {};
    if (spec?.ingressClassName !== 'nginx') problems.push(`${where}: spec.ingressClassName is ${JSON.stringify(spec?.ingressClassName)}, expected "nginx"`);
    if (annotations['kubernetes.io/ingress.class'] !== undefined) problems.push(`${where}: the deprecated kubernetes.io/ingress.class annotation is set; use spec.ingressClassName`);
    if (annotations[USE_REGEX] !== 'true') problems.push(`${where}: annotation ${USE_REGEX} is ${JSON.stringify(annotations[USE_REGEX])}, expected "true"`);
    if (annotations['nginx.ingress.kubernetes.io/rewrite-target'] !== undefined) problems.push(`${where}: rewrite-target is set: the services would not see the request path`);
    (spec?.rules ?? []).forEach((rule, r) => {
      if (!rule.host) problems.push(`${where}: spec.rules[${r}] has no host`);
      (rule.http?.paths ?? []).forEach((path, p) => {
        const at = `${where}: spec.rules[${r}].http.paths[${p}] (${path.path ?? ''})`;
        if (path.pathType !== 'ImplementationSpecific') problems.push(`${at}: pathType ${path.pathType} — with use-regex every path is a regex, which only ImplementationSpecific allows`);
        try {
          new RegExp(`^${path.path ?? ''}`, 'i');
        } catch {
          problems.push(`${at}: not a valid regular expression`);
        }
        if (!path.path?.startsWith('/')) problems.push(`${at}: does not start with /`);
      });
    });
  }
  return problems;
}
