/**
 * Fluent Bit's pipeline as infra/helm/fluent-bit/values.yaml configures it (classic mode: [INPUT], [FILTER] and
 * [OUTPUT] sections of `Key Value` lines), applied to log files as the container runtime writes them. Fluent Bit
 * itself cannot run here, so this is a reading of Fluent Bit 5.1.1 (its documentation and, where that is
 * silent, its source at the tag v5.1.1) for exactly the parts the values use: tail with the built-in `cri`
 * multiline parser, the modify filter's Remove, the kubernetes filter's tag → pod/namespace/container and its
 * Merge_Log, and the loki output's labels, structured metadata, removed keys and JSON line. A setting outside
 * those is refused rather than ignored, so that a change the model cannot follow fails the check.
 */

/** One section: its kind ([INPUT] ...), the plugin's name and its properties (keys lowercased, repeats kept). */
export interface Section {
  kind: string;
  name: string;
  properties: [key: string, value: string][];
}

/** Classic-mode configuration text → its sections, in order. */
export function parseClassicConfig(text: string): Section[] {
  const sections: Section[] = [];
  let current: Section | undefined;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([A-Z_]+)\]$/.exec(line);
    if (header) {
      current = { kind: header[1] ?? '', name: '', properties: [] };
      sections.push(current);
      continue;
    }
    const property = /^(\S+)\s+(.*)$/.exec(line);
    if (!current || !property)
      throw new Error(`line ${index + 1}: ${JSON.stringify(raw)} is not "Key Value" in a section`);
    const key = (property[1] ?? '').toLowerCase();
    const value = (property[2] ?? '').trim();
    if (key === 'name') current.name = value;
    else current.properties.push([key, value]);
  }
  for (const section of sections) if (section.name === '') throw new Error(`a [${section.kind}] section has no Name`);
  return sections;
}

const values = (section: Section, key: string) => section.properties.filter(([k]) => k === key).map(([, v]) => v);
const value = (section: Section, key: string) => values(section, key).at(-1);
const flag = (section: Section, key: string, fallback: boolean) => {
  const text = value(section, key);
  return text === undefined ? fallback : /^(on|true|yes|1)$/i.test(text);
};
/** Fluent Bit's CLIST: comma-separated, each item trimmed. */
const list = (text: string | undefined) =>
  text === undefined
    ? []
    : text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');

/** The properties the model applies, and those it knows change nothing in a record (buffers, retries, ...). */
const KNOWN_PROPERTIES: Record<string, readonly string[]> = {
  'INPUT tail': [
    'path',
    'exclude_path',
    'multiline.parser',
    'tag',
    'db',
    'mem_buf_limit',
    'skip_long_lines',
    'refresh_interval',
    'read_from_head',
  ],
  'FILTER modify': ['match', 'remove'],
  'FILTER kubernetes': [
    'match',
    'kube_tag_prefix',
    'merge_log',
    'merge_log_key',
    'merge_log_trim',
    'keep_log',
    'annotations',
    'labels',
    'k8s-logging.parser',
    'k8s-logging.exclude',
    'buffer_size',
  ],
  'OUTPUT loki': [
    'match',
    'host',
    'port',
    'uri',
    'labels',
    'label_keys',
    'structured_metadata',
    'remove_keys',
    'line_format',
    'retry_limit',
    'workers',
  ],
};

export function unmodelledSettings(sections: readonly Section[]): string[] {
  const problems: string[] = [];
  for (const section of sections) {
    const known = KNOWN_PROPERTIES[`${section.kind} ${section.name}`];
    if (!known) {
      problems.push(`[${section.kind}] ${section.name}: not a plugin this check models`);
      continue;
    }
    for (const [key] of section.properties)
      if (!known.includes(key)) problems.push(`[${section.kind}] ${section.name}: ${key} is not modelled`);
  }
  return problems;
}

/** A record as Fluent Bit holds it: an ordered list of key/value pairs, in which a key may repeat. */
export type Pairs = [key: string, value: unknown][];

export interface LogEvent {
  tag: string;
  /** Nanoseconds since the epoch; undefined when the line's time could not be read (Fluent Bit takes the time of reading). */
  time: bigint | undefined;
  record: Pairs;
}

/**
 * The built-in `cri` multiline parser (src/multiline/flb_ml_parser_cri.c at v5.1.1): this regex, the time key
 * `time` read with this format and kept in the record, the content key `log`, parts grouped by `stream`, a
 * part flagged by `_p` (P: partial, F: the last part).
 */
export const CRI_PARSER = {
  regex: /^(?<time>.+?) (?<stream>stdout|stderr) (?<_p>F|P) (?<log>.*)$/,
  timeFormat: '%Y-%m-%dT%H:%M:%S.%L%z',
} as const;

/**
 * Fluent Bit's time lookup for the directives `timeFormat` uses (%L: a fraction of a second, up to 9 digits),
 * not strict, as the cri parser is (src/flb_parser.c): reading stops at the first mismatch and keeps what it
 * read, no fraction counting as 0 and no zone as UTC. Undefined when not even the seconds were read.
 */
export function parseTime(text: string, format: string): bigint | undefined {
  const directives: Record<string, RegExp> = {
    '%Y': /^\d{4}/,
    '%m': /^\d{2}/,
    '%d': /^\d{2}/,
    '%H': /^\d{2}/,
    '%M': /^\d{2}/,
    '%S': /^\d{2}/,
    '%L': /^\d{1,9}/,
    '%z': /^(Z|[+-]\d{2}:?\d{2})/,
  };
  const read: Record<string, string> = {};
  let rest = text;
  for (const token of format.match(/%[a-zA-Z]|[^%]/g) ?? []) {
    const directive = directives[token];
    if (token.startsWith('%') && !directive) throw new Error(`time format directive ${token} is not modelled`);
    const found = directive ? directive.exec(rest)?.[0] : rest.startsWith(token) ? token : undefined;
    if (found === undefined) break;
    if (directive) read[token] = found;
    rest = rest.slice(found.length);
  }
  if (!['%Y', '%m', '%d', '%H', '%M', '%S'].every((key) => key in read)) return undefined;
  const number = (key: string) => Number(read[key]);
  const seconds =
    Date.UTC(number('%Y'), number('%m') - 1, number('%d'), number('%H'), number('%M'), number('%S')) / 1000;
  const zone = read['%z'] ?? 'Z';
  const offset =
    zone === 'Z'
      ? 0
      : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(-2)) * 60);
  const fraction = BigInt((read['%L'] ?? '0').padEnd(9, '0'));
  return BigInt(seconds - offset) * 1_000_000_000n + fraction;
}

/** A shell-style pattern of Fluent Bit (Path, Match): `*` any run of characters (in a path, within a folder). */
function globRegex(pattern: string, inPath: boolean): RegExp {
  const body = pattern
    .split('')
    .map((char) => (char === '*' ? (inPath ? '[^/]*' : '.*') : char.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

/** A log file as the runtime writes it: its path on the node and its lines. */
export interface LogFile {
  path: string;
  lines: readonly string[];
}

/** tail with the `cri` multiline parser: one event per complete line (partial parts joined), tagged by path. */
function tail(input: Section, files: readonly LogFile[]): LogEvent[] {
  const parsers = list(value(input, 'multiline.parser'));
  if (parsers.join() !== 'cri')
    throw new Error(`tail: multiline.parser ${parsers.join(', ')} is not modelled (cri is)`);
  const paths = list(value(input, 'path')).map((pattern) => globRegex(pattern, true));
  const excluded = list(value(input, 'exclude_path')).map((pattern) => globRegex(pattern, true));
  const tag = value(input, 'tag') ?? 'tail.0';
  const events: LogEvent[] = [];
  for (const file of files) {
    if (!paths.some((re) => re.test(file.path)) || excluded.some((re) => re.test(file.path))) continue;
    // The tag's `*` is the file's path; then each '/', '\\' and ':' becomes a dot (a leading one goes), no dot doubled.
    const fileTag = tag
      .replace('*', file.path)
      .replace(/^[/\\:]+/, '')
      .replace(/[/\\:]/g, '.')
      .replace(/\.{2,}/g, '.');
    const pending = new Map<string, { first: Pairs; time: bigint | undefined; parts: string[] }>();
    for (const line of file.lines) {
      const groups = CRI_PARSER.regex.exec(line)?.groups;
      if (!groups) {
        events.push({ tag: fileTag, time: undefined, record: [['log', line]] });
        continue;
      }
      const stream = groups.stream ?? '';
      const started = pending.get(stream) ?? {
        first: [
          ['time', groups.time],
          ['stream', stream],
          ['_p', groups._p],
        ] as Pairs,
        time: parseTime(groups.time ?? '', CRI_PARSER.timeFormat),
        parts: [],
      };
      started.parts.push(groups.log ?? '');
      if (groups._p === 'P') {
        pending.set(stream, started);
        continue;
      }
      pending.delete(stream);
      events.push({ tag: fileTag, time: started.time, record: [...started.first, ['log', started.parts.join('')]] });
    }
  }
  return events;
}

const matches = (section: Section, tag: string) => globRegex(value(section, 'match') ?? '*', false).test(tag);

/** The modify filter's Remove: every pair with that key goes. */
function modify(filter: Section, event: LogEvent): LogEvent {
  const removed = values(filter, 'remove');
  return { ...event, record: event.record.filter(([key]) => !removed.includes(key)) };
}

/**
 * The kubernetes filter's default Regex_Parser for a tag (plugins/filter_kubernetes/kube_regex.h at v5.1.1),
 * applied to the tag after Kube_Tag_Prefix: the file name the kubelet gives a container's log.
 */
export const KUBE_TAG_REGEX =
  /(?<pod_name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)_(?<namespace_name>[^_]+)_(?<container_name>.+)-(?<docker_id>[a-z0-9]{64})\.log$/;

/**
 * The kubernetes filter: the record's metadata from its tag (pod, namespace, container, container id; the rest
 * — labels, host, image — comes from the API server and is not modelled), and with Merge_Log a `log` string
 * holding a JSON object merged into the record (at the top, or under Merge_Log_Key), its string values
 * trimmed of a line end; Keep_Log Off drops the merged `log`. A tag the regex does not match passes unchanged.
 */
function kubernetes(filter: Section, event: LogEvent): LogEvent {
  const prefix = value(filter, 'kube_tag_prefix') ?? 'kube.var.log.containers.';
  if (!event.tag.startsWith(prefix)) return event;
  const meta = KUBE_TAG_REGEX.exec(event.tag.slice(prefix.length))?.groups;
  if (!meta) return event;
  const record: Pairs = [];
  let merged: Pairs | undefined;
  const logIndex = flag(filter, 'merge_log', false) ? event.record.findIndex(([key]) => key === 'log') : -1;
  const log = event.record[logIndex]?.[1];
  if (typeof log === 'string') {
    try {
      const parsed: unknown = JSON.parse(log);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        const trim = flag(filter, 'merge_log_trim', true);
        merged = Object.entries(parsed).map(([key, item]) => [
          key,
          trim && typeof item === 'string' ? item.replace(/[\r\n]+$/, '') : item,
        ]);
      }
    } catch {
      merged = undefined;
    }
  }
  const keepLog = flag(filter, 'keep_log', true);
  for (const [index, pair] of event.record.entries())
    if (index !== logIndex || merged === undefined || keepLog) record.push(pair);
  const mergeKey = value(filter, 'merge_log_key');
  if (merged) record.push(...(mergeKey ? ([[mergeKey, Object.fromEntries(merged)]] as Pairs) : merged));
  const { pod_name, namespace_name, container_name, docker_id } = meta;
  record.push(['kubernetes', { pod_name, namespace_name, container_name, docker_id }]);
  return { ...event, record };
}

/** A record accessor ($key['sub']...) → its path of keys. */
export function accessorPath(pattern: string): string[] {
  const match = /^\$([^[\s]+)((?:\['[^']*'\])*)$/.exec(pattern);
  if (!match) throw new Error(`${pattern} is not a record accessor`);
  return [match[1] ?? '', ...[...(match[2] ?? '').matchAll(/\['([^']*)'\]/g)].map((m) => m[1] ?? '')];
}

/** The value a path reaches in a record (the last pair with the key, as a map lookup finds it). */
function lookup(record: Pairs, path: readonly string[]): unknown {
  let current: unknown = Object.fromEntries(record);
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The record without the value at `path` (a top-level key: every pair with it). */
function without(record: Pairs, path: readonly string[]): Pairs {
  const [head, ...rest] = path;
  if (rest.length === 0) return record.filter(([key]) => key !== head);
  return record.map(([key, item]): [string, unknown] => {
    if (key !== head || typeof item !== 'object' || item === null || Array.isArray(item)) return [key, item];
    return [key, Object.fromEntries(without(Object.entries(item), rest))];
  });
}

/** A value as a record accessor translates it to text: a scalar as written, a map or list as JSON, nothing as nothing. */
function valueText(found: unknown): string | undefined {
  if (typeof found === 'string') return found;
  if (typeof found === 'number' || typeof found === 'boolean') return String(found);
  if (typeof found === 'object' && found !== null) return JSON.stringify(found);
  return undefined;
}

/** What the loki output sends for one record. */
export interface LokiEntry {
  time: bigint | undefined;
  labels: Record<string, string>;
  structuredMetadata: Record<string, string>;
  /** The log line: the record left, as JSON (Line_Format json); a repeated key appears twice, as Fluent Bit writes it. */
  line: string;
  /** The record accessors the output names that this record does not have (Loki gets no such label). */
  missing: string[];
  /** Keys the record holds more than once. */
  repeatedKeys: string[];
}

interface KeyValue {
  key: string;
  accessor?: string[];
  literal?: string;
}

/** `key=value` items (a value of $... is a record accessor) and bare `$accessor` items, named by their path. */
function keyValues(items: readonly string[]): KeyValue[] {
  return items.map((item) => {
    const [key = '', literal] = item.split('=').map((part) => part.trim());
    if (literal === undefined) {
      const accessor = accessorPath(key);
      return { key: accessor.join('_').replace(/[^A-Za-z0-9_]/g, '_'), accessor };
    }
    return literal.startsWith('$') ? { key, accessor: accessorPath(literal) } : { key, literal };
  });
}

/** JSON of a record's pairs in order, repeated keys included. */
function pairsJson(record: Pairs): string {
  return `{${record.map(([key, item]) => `${JSON.stringify(key)}:${JSON.stringify(item)}`).join(',')}}`;
}

/**
 * The loki output (plugins/out_loki/loki.c at v5.1.1): Labels and Label_Keys give the stream's labels, and
 * Structured_Metadata the entry's, each record accessor translated on the record (a missing or empty value
 * gives no label); every key an accessor names there, and those of Remove_Keys, leave the line.
 */
function loki(output: Section, event: LogEvent): LokiEntry {
  const lineFormat = value(output, 'line_format') ?? 'json';
  if (lineFormat !== 'json') throw new Error(`loki: line_format ${lineFormat} is not modelled`);
  const labelItems = keyValues([...list(value(output, 'labels')), ...list(value(output, 'label_keys'))]);
  const metadataItems = keyValues(list(value(output, 'structured_metadata')));
  const missing: string[] = [];
  const translate = (items: readonly KeyValue[]) => {
    const result: Record<string, string> = {};
    for (const item of items) {
      if (item.literal !== undefined) {
        result[item.key] = item.literal;
        continue;
      }
      const text = valueText(lookup(event.record, item.accessor ?? []));
      if (text === undefined || text === '') missing.push(`$${(item.accessor ?? []).join('.')}`);
      else result[item.key] = text;
    }
    return result;
  };
  const labels = translate(labelItems);
  const structuredMetadata = translate(metadataItems);
  const removed = [
    ...[...labelItems, ...metadataItems].flatMap((item) => (item.accessor ? [item.accessor] : [])),
    ...list(value(output, 'remove_keys')).map((key) => (key.startsWith('$') ? accessorPath(key) : [key])),
  ];
  const line = removed.reduce(without, event.record);
  const keys = event.record.map(([key]) => key);
  const repeatedKeys = [...new Set(keys.filter((key, index) => keys.indexOf(key) !== index))];
  return { time: event.time, labels, structuredMetadata, line: pairsJson(line), missing, repeatedKeys };
}

export interface FluentBitConfig {
  inputs: string;
  filters: string;
  outputs: string;
}

/** What the pipeline sends to Loki for these files, and the sections it cannot model. */
export function runPipeline(config: FluentBitConfig, files: readonly LogFile[]): LokiEntry[] {
  const inputs = parseClassicConfig(config.inputs);
  const filters = parseClassicConfig(config.filters);
  const outputs = parseClassicConfig(config.outputs);
  const problems = unmodelledSettings([...inputs, ...filters, ...outputs]);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const entries: LokiEntry[] = [];
  for (const input of inputs) {
    for (let event of tail(input, files)) {
      for (const filter of filters) {
        if (!matches(filter, event.tag)) continue;
        event = filter.name === 'modify' ? modify(filter, event) : kubernetes(filter, event);
      }
      for (const output of outputs) if (matches(output, event.tag)) entries.push(loki(output, event));
    }
  }
  return entries;
}
