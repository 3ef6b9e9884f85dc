/**
 * The format rules the Kubernetes API server applies on top of the OpenAPI schemas, which say only
 * "string" for most of what they cover: names, label and annotation keys and values, port names,
 * environment variable names, ConfigMap and Secret keys, resource quantities, probe handlers, Ingress and
 * HTTPRoute paths and hosts. A manifest that breaks one passes the strict schema check and is refused by
 * `kubectl apply`. (Gateway API's own rules are CEL expressions in its CRDs, which the schema check does
 * not run either; the path and host rules below follow them.)
 */
import { isIP } from 'node:net';
import { label, ofKind, typedOf, workloads, type IContainer, type Manifest } from '../manifests';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const IANA_SERVICE_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
/** The rule every Kubernetes version applies; 1.34 relaxed it to any printable ASCII but "=", which older clusters refuse. */
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
/** What Exact and Prefix paths may not hold (the API server for Ingress; Gateway API's CEL rules for HTTPRoute, plus "#"). */
const BAD_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const BAD_PATH_SUFFIXES = ['/..', '/.'];

type Rule = (value: string) => string | undefined;

function withLength(max: number, pattern: RegExp, what: string): Rule {
  return (value) => (value.length > max ? `longer than ${max} characters` : pattern.test(value) ? undefined : what);
}

export const dns1123Label = withLength(
  63,
  DNS1123_LABEL,
  'not a DNS-1123 label (lower-case letters, digits and "-", starting and ending with a letter or digit)',
);
export const dns1123Subdomain = withLength(
  253,
  DNS1123_SUBDOMAIN,
  'not a DNS-1123 subdomain (lower-case letters, digits, "-" and ".", starting and ending with a letter or digit)',
);
export const dns1035Label = withLength(
  63,
  DNS1035_LABEL,
  'not a DNS-1035 label (lower-case letters, digits and "-", starting with a letter and ending with a letter or digit)',
);

/** A label or annotation key: an optional DNS-1123 subdomain prefix and "/", then a name of at most 63 characters. */
export function qualifiedName(value: string): string | undefined {
  const parts = value.split('/');
  if (parts.length > 2) return 'not a qualified name: it has more than one "/"';
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (prefix !== undefined) {
    const bad = dns1123Subdomain(prefix);
    if (bad) return `not a qualified name: its prefix "${prefix}" is ${bad}`;
  }
  return withLength(
    63,
    QUALIFIED_NAME,
    'not a qualified name (letters, digits, "-", "_" and ".", starting and ending with a letter or digit)',
  )(name ?? '');
}

export const labelValue = withLength(
  63,
  LABEL_VALUE,
  'not a label value (empty, or letters, digits, "-", "_" and ".", starting and ending with a letter or digit)',
);

/** A container port name, or a port referred to by name: an IANA service name. */
export function portName(value: string): string | undefined {
  if (value.length > 15) return 'longer than 15 characters';
  if (!IANA_SERVICE_NAME.test(value))
    return 'not an IANA service name (lower-case letters, digits and "-", starting and ending with a letter or digit)';
  if (value.includes('--')) return 'not an IANA service name: it has "--"';
  if (!/[a-z]/.test(value)) return 'not an IANA service name: it has no letter';
  return undefined;
}

export const envVarName = withLength(
  Infinity,
  ENV_VAR_NAME,
  'not an environment variable name (letters, digits, "_", "-" and ".", not starting with a digit)',
);

export function configKey(value: string): string | undefined {
  if (value === '.' || value === '..') return 'is "." or ".."';
  return withLength(253, CONFIG_KEY, 'not a ConfigMap or Secret key (letters, digits, "-", "_" and ".")')(value);
}

const SUFFIX_FACTORS: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A resource quantity (`250m`, `256Mi`, `1e3`) as a number, or undefined when it is not one. */
export function quantityValue(value: string): number | undefined {
  const match = QUANTITY.exec(value);
  if (!match) return undefined;
  const suffix = match[3] ?? '';
  const number = Number(value.slice(0, value.length - suffix.length));
  if (/^[eE]/.test(suffix)) return number * 10 ** Number(suffix.slice(1));
  const factor = SUFFIX_FACTORS[suffix];
  return factor === undefined ? undefined : number * factor;
}

/** An Ingress host or HTTPRoute/listener hostname: a DNS-1123 subdomain, optionally `*.` first; not an IP address. */
export function hostName(value: string): string | undefined {
  if (isIP(value)) return 'an IP address, where a host name is expected';
  const bad = dns1123Subdomain(value.startsWith('*.') ? value.slice(2) : value);
  return bad && `${bad}, optionally after "*."`;
}

const NOT_ABSOLUTE = 'does not start with "/"';

/** A path an Exact or Prefix match compares as it is: absolute, and no sequence a client could use to walk around it. */
export function plainPath(value: string, extraBad: readonly string[] = []): string | undefined {
  if (!value.startsWith('/')) return NOT_ABSOLUTE;
  const sequence = [...BAD_PATH_SEQUENCES, ...extraBad].find((bad) => value.includes(bad));
  if (sequence) return `holds "${sequence}"`;
  const suffix = BAD_PATH_SUFFIXES.find((bad) => value.endsWith(bad));
  return suffix && `ends with "${suffix}"`;
}

function isStringMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkMapKeysAndValues(
  map: unknown,
  where: string,
  keyRule: Rule,
  valueRule: Rule | undefined,
  what: string,
  problems: string[],
): void {
  if (!isStringMap(map)) return;
  for (const [key, value] of Object.entries(map)) {
    const badKey = keyRule(key);
    if (badKey) problems.push(`${where}: ${what} key "${key}" is ${badKey}`);
    if (!valueRule || typeof value !== 'string') continue;
    const badValue = valueRule(value);
    if (badValue) problems.push(`${where}: ${what} "${key}" has the value "${value}", which is ${badValue}`);
  }
}

const LABEL_MAPS = new Set(['matchLabels', 'nodeSelector']);

/**
 * Every label map of an object, wherever it is: metadata.labels (the object's, a pod template's, a claim
 * template's), matchLabels and matchExpressions of any selector, a Service's selector, nodeSelector; and
 * every metadata.annotations.
 */
function checkLabelsAndAnnotations(object: unknown, where: string, path: string, problems: string[]): void {
  if (Array.isArray(object)) {
    object.forEach((item, index) => checkLabelsAndAnnotations(item, where, `${path}[${index}]`, problems));
    return;
  }
  if (!isStringMap(object)) return;
  for (const [key, value] of Object.entries(object)) {
    const at = path === '' ? key : `${path}.${key}`;
    if ((key === 'labels' && path.endsWith('metadata')) || LABEL_MAPS.has(key))
      checkMapKeysAndValues(value, `${where} ${at}`, qualifiedName, labelValue, 'label', problems);
    else if (key === 'annotations' && path.endsWith('metadata')) {
      checkMapKeysAndValues(value, `${where} ${at}`, qualifiedName, undefined, 'annotation', problems);
      if (isStringMap(value) && Buffer.byteLength(JSON.stringify(value)) > 256 * 1024)
        problems.push(`${where} ${at}: the annotations are larger than 256 KiB`);
    } else if (key === 'matchExpressions' && Array.isArray(value)) {
      value.forEach((expression: unknown, index) => {
        if (!isStringMap(expression)) return;
        const bad = typeof expression.key === 'string' ? qualifiedName(expression.key) : 'missing';
        if (bad) problems.push(`${where} ${at}[${index}]: key "${String(expression.key)}" is ${bad}`);
        for (const item of Array.isArray(expression.values) ? expression.values : []) {
          const badValue = typeof item === 'string' ? labelValue(item) : 'not a string';
          if (badValue) problems.push(`${where} ${at}[${index}]: value "${String(item)}" is ${badValue}`);
        }
      });
    } else checkLabelsAndAnnotations(value, where, at, problems);
  }
  if (
    path === 'spec' &&
    isStringMap(object.selector) &&
    Object.values(object.selector).every((v) => typeof v === 'string')
  ) {
    checkMapKeysAndValues(object.selector, `${where} spec.selector`, qualifiedName, labelValue, 'label', problems);
  }
}

/** Service names become DNS labels (`query-srv.namespace.svc`); most other objects need a subdomain. */
const NAME_RULES: Record<string, { rule: Rule; what: string }> = {
  Service: { rule: dns1035Label, what: 'DNS-1035 label' },
  Namespace: { rule: dns1123Label, what: 'DNS-1123 label' },
};

function checkName(manifest: Manifest, problems: string[]): void {
  const name = manifest.object.metadata?.name;
  if (typeof name !== 'string') return;
  const { rule } = NAME_RULES[String(manifest.object.kind)] ?? { rule: dns1123Subdomain };
  const bad = rule(name);
  if (bad) problems.push(`${label(manifest)}: metadata.name "${name}" is ${bad}`);
}

type Probe = NonNullable<IContainer['readinessProbe']>;
type Handler = NonNullable<NonNullable<IContainer['lifecycle']>['preStop']>;
const PROBE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'] as const;
const LIFECYCLE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'sleep'] as const;

function checkPort(
  port: number | string | undefined,
  where: string,
  named: ReadonlySet<string> | undefined,
  problems: string[],
): void {
  if (port === undefined) return;
  if (typeof port === 'number') {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      problems.push(`${where}: port ${port} is not between 1 and 65535`);
    return;
  }
  const bad = portName(port);
  if (bad) problems.push(`${where}: port name "${port}" is ${bad}`);
  else if (named && !named.has(port))
    problems.push(`${where}: port "${port}" is not a named port of the container (${[...named].join(', ') || 'none'})`);
}

function checkHandler(
  handler: Probe | Handler,
  kinds: readonly string[],
  where: string,
  named: ReadonlySet<string>,
  problems: string[],
): void {
  const set = kinds.filter((kind) => (handler as Record<string, unknown>)[kind] !== undefined);
  if (set.length !== 1)
    problems.push(
      `${where}: ${set.length === 0 ? 'no handler' : `${set.length} handlers (${set.join(', ')})`}, expected exactly one of ${kinds.join(', ')}`,
    );
  checkPort(handler.httpGet?.port, `${where} httpGet`, named, problems);
  checkPort(handler.tcpSocket?.port, `${where} tcpSocket`, named, problems);
}

type Quantities = NonNullable<NonNullable<IContainer['resources']>['limits']>;

function checkResources(container: IContainer, where: string, problems: string[]): void {
  const requests: Quantities = container.resources?.requests ?? {};
  const limits: Quantities = container.resources?.limits ?? {};
  for (const [kind, map] of [
    ['requests', requests],
    ['limits', limits],
  ] as const) {
    for (const [resource, quantity] of Object.entries(map)) {
      if (quantityValue(String(quantity)) === undefined)
        problems.push(
          `${where}: resources.${kind}.${resource} "${String(quantity)}" is not a quantity (e.g. 250m, 128Mi, 1Gi)`,
        );
    }
  }
  for (const [resource, request] of Object.entries(requests)) {
    const limit = limits[resource];
    const [r, l] = [quantityValue(String(request)), limit === undefined ? undefined : quantityValue(String(limit))];
    if (r !== undefined && l !== undefined && r > l)
      problems.push(
        `${where}: resources.requests.${resource} ${String(request)} is more than its limit ${String(limit)}`,
      );
  }
}

function checkContainer(container: IContainer, where: string, problems: string[]): void {
  const badName = dns1123Label(container.name);
  if (badName) problems.push(`${where}: name "${container.name}" is ${badName}`);
  const named = new Set<string>();
  for (const port of container.ports ?? []) {
    checkPort(port.containerPort, `${where} ports`, undefined, problems);
    if (port.name === undefined) continue;
    const bad = portName(port.name);
    if (bad) problems.push(`${where}: port name "${port.name}" is ${bad}`);
    if (named.has(port.name)) problems.push(`${where}: port name "${port.name}" is used twice`);
    named.add(port.name);
  }
  for (const variable of container.env ?? []) {
    const bad = envVarName(variable.name);
    if (bad) problems.push(`${where}: env "${variable.name}" is ${bad}`);
  }
  for (const source of container.envFrom ?? []) {
    const bad = source.prefix ? envVarName(source.prefix) : undefined;
    if (bad) problems.push(`${where}: envFrom prefix "${source.prefix}" is ${bad}`);
  }
  for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
    const probe = container[kind];
    if (probe) checkHandler(probe, PROBE_HANDLERS, `${where} ${kind}`, named, problems);
  }
  for (const hook of ['postStart', 'preStop'] as const) {
    const handler = container.lifecycle?.[hook];
    if (handler) checkHandler(handler, LIFECYCLE_HANDLERS, `${where} lifecycle.${hook}`, named, problems);
  }
  checkResources(container, where, problems);
}

function checkWorkloads(manifests: readonly Manifest[], problems: string[]): void {
  for (const workload of workloads(manifests)) {
    const where = label(workload.manifest);
    for (const container of workload.containers)
      checkContainer(container, `${where} container ${container.name}`, problems);
    for (const volume of workload.pod.volumes ?? []) {
      const bad = dns1123Label(volume.name);
      if (bad) problems.push(`${where}: volume name "${volume.name}" is ${bad}`);
      const size = volume.emptyDir?.sizeLimit;
      if (size !== undefined && quantityValue(String(size)) === undefined)
        problems.push(`${where}: volume ${volume.name}: emptyDir.sizeLimit "${String(size)}" is not a quantity`);
    }
    const claims =
      workload.kind === 'StatefulSet'
        ? (typedOf([workload.manifest], 'StatefulSet', workload.name).spec?.volumeClaimTemplates ?? [])
        : [];
    for (const claim of claims) {
      const storage = claim.spec?.resources?.requests?.storage;
      if (storage !== undefined && quantityValue(String(storage)) === undefined)
        problems.push(
          `${where}: volumeClaimTemplate ${claim.metadata?.name ?? ''}: storage "${String(storage)}" is not a quantity`,
        );
    }
  }
}

function checkServicePorts(manifests: readonly Manifest[], problems: string[]): void {
  for (const service of ofKind(manifests, 'Service')) {
    const ports = service.typed.spec?.ports ?? [];
    const names = new Set<string>();
    for (const [index, port] of ports.entries()) {
      const where = `${label(service)} spec.ports[${index}]`;
      if (port.name === undefined) {
        if (ports.length > 1) problems.push(`${where}: no name, which a Service with several ports needs on each`);
      } else {
        const bad = dns1123Label(port.name);
        if (bad) problems.push(`${where}: name "${port.name}" is ${bad}`);
        if (names.has(port.name)) problems.push(`${where}: name "${port.name}" is used twice`);
        names.add(port.name);
      }
      checkPort(port.port, where, undefined, problems);
      checkPort(port.targetPort, `${where} targetPort`, undefined, problems);
    }
  }
}

function checkConfigKeys(manifests: readonly Manifest[], problems: string[]): void {
  const maps = [
    ...ofKind(manifests, 'ConfigMap').map((m) => ({
      m,
      fields: { data: m.typed.data, binaryData: m.typed.binaryData },
    })),
    ...ofKind(manifests, 'Secret').map((m) => ({ m, fields: { data: m.typed.data, stringData: m.typed.stringData } })),
  ];
  for (const { m, fields } of maps) {
    for (const [field, map] of Object.entries(fields)) {
      for (const key of Object.keys(map ?? {})) {
        const bad = configKey(key);
        if (bad) problems.push(`${label(m)}: ${field} key "${key}" is ${bad}`);
      }
    }
  }
}

function checkIngresses(manifests: readonly Manifest[], problems: string[]): void {
  for (const ingress of ofKind(manifests, 'Ingress')) {
    (ingress.typed.spec?.rules ?? []).forEach((rule, r) => {
      const where = `${label(ingress)} spec.rules[${r}]`;
      const badHost = rule.host === undefined ? undefined : hostName(rule.host);
      if (badHost) problems.push(`${where}: host "${rule.host ?? ''}" is ${badHost}`);
      (rule.http?.paths ?? []).forEach((path, p) => {
        const value = path.path ?? '';
        const at = `${where}.http.paths[${p}] (${path.pathType} ${value})`;
        if (!['Exact', 'Prefix', 'ImplementationSpecific'].includes(path.pathType))
          problems.push(`${at}: pathType is not Exact, Prefix or ImplementationSpecific`);
        // Only ImplementationSpecific leaves the path's meaning to the controller (e.g. a regex for ingress-nginx).
        const bad =
          path.pathType === 'ImplementationSpecific'
            ? value === '' || value.startsWith('/')
              ? undefined
              : NOT_ABSOLUTE
            : plainPath(value);
        if (bad) problems.push(`${at}: the path ${bad}`);
        const service = path.backend.service;
        const badService = service ? dns1035Label(service.name) : undefined;
        if (badService) problems.push(`${at}: backend service name "${service?.name ?? ''}" is ${badService}`);
        checkPort(service?.port?.name ?? service?.port?.number, `${at} backend`, undefined, problems);
      });
    });
  }
}

function checkHttpRoutes(manifests: readonly Manifest[], problems: string[]): void {
  for (const route of ofKind(manifests, 'HTTPRoute')) {
    for (const host of route.typed.spec?.hostnames ?? []) {
      const bad = hostName(host);
      if (bad) problems.push(`${label(route)}: hostname "${host}" is ${bad}`);
    }
    (route.typed.spec?.rules ?? []).forEach((rule, r) => {
      (rule.matches ?? []).forEach((match, m) => {
        const { type = 'PathPrefix', value = '/' } = match.path ?? {};
        const at = `${label(route)} spec.rules[${r}].matches[${m}].path (${type} ${value})`;
        const bad =
          type === 'RegularExpression' ? (value.startsWith('/') ? undefined : NOT_ABSOLUTE) : plainPath(value, ['#']);
        if (bad) problems.push(`${at}: the path ${bad}`);
      });
      (rule.backendRefs ?? []).forEach((ref, b) => {
        const bad = (ref.kind ?? 'Service') === 'Service' ? dns1035Label(ref.name) : undefined;
        if (bad)
          problems.push(`${label(route)} spec.rules[${r}].backendRefs[${b}]: Service name "${ref.name}" is ${bad}`);
      });
    });
  }
  for (const gateway of ofKind(manifests, 'Gateway')) {
    for (const listener of gateway.typed.spec?.listeners ?? []) {
      const bad = listener.hostname === undefined ? undefined : hostName(listener.hostname);
      if (bad)
        problems.push(`${label(gateway)}: listener ${listener.name}: hostname "${listener.hostname ?? ''}" is ${bad}`);
    }
  }
}

/** Every rule above, on every object; one problem per broken rule, naming the object and the field. */
export function checkApiServerRules(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const manifest of manifests) {
    checkName(manifest, problems);
    checkLabelsAndAnnotations(manifest.object, label(manifest), '', problems);
  }
  checkWorkloads(manifests, problems);
  checkServicePorts(manifests, problems);
  checkConfigKeys(manifests, problems);
  checkIngresses(manifests, problems);
  checkHttpRoutes(manifests, problems);
  return problems;
}
