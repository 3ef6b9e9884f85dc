/**
 * Logs in one place: Fluent Bit's settings (infra/helm/fluent-bit/values.yaml) applied, as Fluent Bit 5.1.1
 * defines them (src/log-pipeline/fluent-bit.ts), to the lines the built services really print. The pods run
 * with their environment as deployed with the tracing component, tracing towards the test kit's OTLP receiver;
 * a post and a comment go through them; what each printed is written as a CRI runtime writes it, read by the
 * pipeline, and every line must reach Loki with its pod, namespace, container, service and time, and the
 * trace_id/span_id it was printed with, each a trace the receiver got. Copies of the settings with one thing
 * wrong must fail.
 */
import { createHash } from 'node:crypto';
import { http, OtlpReceiver, waitFor } from '@blog/testkit';
import { parse } from 'yaml';
import { renderComponents } from '../src/environments';
import { containerLogPath, CRI_MAX_LINE, criLines, rfc3339Nano } from '../src/log-pipeline/cri';
import { runPipeline, type FluentBitConfig, type LogFile, type LokiEntry } from '../src/log-pipeline/fluent-bit';
import { workloads } from '../src/manifests';
import { readRepoFile } from '../src/repo';
import { podsOf, runPods, type Pod, type RunningPods } from './support/deployed';

const VALUES_FILE = 'infra/helm/fluent-bit/values.yaml';
const NAMESPACE = 'blog-staging';

function fluentBitConfig(valuesText: string = readRepoFile(VALUES_FILE)): FluentBitConfig {
  const { config } = parse(valuesText) as { config: FluentBitConfig };
  return config;
}

const { manifests } = renderComponents([
  'restricted-namespace',
  'network-policies',
  'gateway',
  'tracing',
  'dev-secrets',
]);
const pods = podsOf(manifests).filter((pod) => pod.image !== 'blog/client');

/** The name the pod of a workload gets: a Deployment's `<name>-<hash>-<suffix>`, a StatefulSet's `<name>-0`. */
function podName(pod: Pod): string {
  const kind = workloads(manifests).find((workload) => workload.name === pod.workload)?.kind;
  return kind === 'StatefulSet' ? `${pod.workload}-0` : `${pod.workload}-7c9d5b8f4d-x2kqp`;
}

/** What one pod printed, and the file the runtime wrote it to. */
interface Printed {
  pod: Pod;
  name: string;
  /** The service's name, as its log lines carry it. */
  service: string;
  stdout: string[];
  stderr: string[];
  /** When the runtime wrote each of them (stdout's, then stderr's), in nanoseconds. */
  times: bigint[];
  file: LogFile;
}

let receiver: OtlpReceiver;
let running: RunningPods | undefined;
let printed: Printed[] = [];

/** The line the test kit writes into a log file before each start of a service: not the service's output. */
const TESTKIT_MARKER = /^--- \S+ starting /;

/** What a container printed, in order: pino's JSON lines are stdout, anything else (Node's warnings) stderr. */
function capture(pod: Pod, output: string, start: bigint): Printed {
  const lines = output.split('\n').filter((line) => line !== '' && !TESTKIT_MARKER.test(line));
  const isJson = (line: string) => {
    try {
      return typeof JSON.parse(line) === 'object';
    } catch {
      return false;
    }
  };
  const stdout = lines.filter(isJson);
  const stderr = lines.filter((line) => !isJson(line));
  const name = podName(pod);
  const id = createHash('sha256').update(name).digest('hex');
  return {
    pod,
    name,
    service: pod.image.replace(/^blog\//, ''),
    stdout,
    stderr,
    // criLines writes a stream's lines 1 µs apart.
    times: [
      ...stdout.map((_, index) => start + BigInt(index) * 1000n),
      ...stderr.map((_, index) => start + 10n ** 9n + BigInt(index) * 1000n),
    ],
    file: {
      path: containerLogPath(name, NAMESPACE, pod.container.name, id),
      lines: [...criLines(stdout, 'stdout', start), ...criLines(stderr, 'stderr', start + 10n ** 9n)],
    },
  };
}

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  // The receiver reads OTLP/JSON; the component's endpoint and protocol otherwise.
  const traced = pods.map((pod) => ({
    ...pod,
    env: { ...pod.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
  }));
  running = await runPods(manifests, traced);
  const url = (image: string, path: string) => {
    const pod = traced.find((candidate) => candidate.image === image);
    return `${running?.url(pod?.workload ?? '') ?? ''}${path}`;
  };
  const post = await http(url('blog/posts', '/posts/create'), { body: { title: 'one place' } });
  const { id } = post.json as { id: string };
  const comment = await http(url('blog/comments', `/posts/${id}/comments`), { body: { content: 'logged' } });
  const commentId = (comment.json as { id: string }).id;
  await waitFor(
    async () => {
      const view = (await http(url('blog/query', '/posts'))).json as Record<string, { comments?: { id: string }[] }>;
      return view[id]?.comments?.some((seen) => seen.id === commentId) === true;
    },
    { what: 'query to show the post with its comment', timeoutMs: 20_000 },
  );
  await running.stop();
  const start = 1_765_000_000_123_456_789n;
  printed = traced.map((pod, index) =>
    capture(pod, running?.output(pod.workload) ?? '', start + BigInt(index) * 10n ** 10n),
  );
  running = undefined;
  const traceIds = new Set(printed.flatMap(({ stdout }) => stdout.map((line) => traceIdOf(line)).filter(Boolean)));
  await receiver.waitForSpans((spans) => [...traceIds].every((traceId) => spans.some((s) => s.traceId === traceId)));
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await receiver?.close();
});

function traceIdOf(line: string): string | undefined {
  return (JSON.parse(line) as { trace_id?: string }).trace_id;
}

/** Everything wrong with what Loki gets for the printed lines. */
function problems(entries: readonly LokiEntry[]): string[] {
  const found: string[] = [];
  const lines = printed.reduce((sum, { stdout, stderr }) => sum + stdout.length + stderr.length, 0);
  if (entries.length !== lines) found.push(`${entries.length} entries for ${lines} lines printed`);
  let at = 0;
  for (const { name, service, pod, stdout, stderr, times } of printed) {
    for (const [index, line] of [...stdout, ...stderr].entries()) {
      const entry = entries[at++];
      if (!entry) return found;
      const where = `${name} line ${index + 1}`;
      const want: Record<string, string> = {
        job: 'fluent-bit',
        namespace: NAMESPACE,
        pod: name,
        container: pod.container.name,
        ...(index < stdout.length ? { service } : {}),
      };
      if (JSON.stringify(entry.labels) !== JSON.stringify(want))
        found.push(`${where}: labels ${JSON.stringify(entry.labels)}, expected ${JSON.stringify(want)}`);
      if (entry.time !== times[index])
        found.push(`${where}: time ${String(entry.time)}, not the runtime's ${String(times[index])}`);
      if (entry.repeatedKeys.length > 0)
        found.push(`${where}: the record holds ${entry.repeatedKeys.join(', ')} twice`);
      if (index >= stdout.length) continue;
      const own = JSON.parse(line) as { trace_id?: string; span_id?: string; msg?: string };
      const ids = own.trace_id === undefined ? {} : { trace_id: own.trace_id, span_id: own.span_id };
      if (JSON.stringify(entry.structuredMetadata) !== JSON.stringify(ids))
        found.push(
          `${where}: structured metadata ${JSON.stringify(entry.structuredMetadata)}, expected ${JSON.stringify(ids)}`,
        );
      const unexpectedMissing = entry.missing.filter(
        (field) => own.trace_id !== undefined || !/^\$(trace|span)_id$/.test(field),
      );
      if (unexpectedMissing.length > 0)
        found.push(`${where}: the output names ${unexpectedMissing.join(', ')}, which it lacks`);
      let kept: Record<string, unknown> = {};
      try {
        kept = JSON.parse(entry.line) as Record<string, unknown>;
      } catch {
        found.push(`${where}: the line is not JSON: ${entry.line}`);
      }
      if (kept.msg !== own.msg) found.push(`${where}: the line lost its msg`);
    }
  }
  return found;
}

describe(`Fluent Bit's settings (${VALUES_FILE}) on the lines the services print`, () => {
  it('read a line from every service, most in a trace', () => {
    expect(printed.map(({ service }) => service).sort()).toEqual([
      'comments',
      'event-bus',
      'moderation',
      'posts',
      'query',
    ]);
    for (const { service, stdout } of printed) {
      expect([service, stdout.length > 0]).toEqual([service, true]);
      expect([service, stdout.some((line) => traceIdOf(line) !== undefined)]).toEqual([service, true]);
    }
  });

  it('give Loki every line once, labelled with its namespace, pod, container and service, at the time the runtime wrote, trace_id and span_id as structured metadata', () => {
    expect(
      problems(
        runPipeline(
          fluentBitConfig(),
          printed.map(({ file }) => file),
        ),
      ),
    ).toEqual([]);
  });

  it("find the lines of one post's trace, and of its comment's, across the services that handled them, by trace_id", () => {
    const entries = runPipeline(
      fluentBitConfig(),
      printed.map(({ file }) => file),
    );
    const msg = (entry: LokiEntry) => (JSON.parse(entry.line) as { msg?: string }).msg ?? '';
    const servicesOfTrace = (request: RegExp) => {
      const traceId = entries.find((entry) => request.test(msg(entry)))?.structuredMetadata.trace_id;
      const lines = entries.filter((entry) => traceId !== undefined && entry.structuredMetadata.trace_id === traceId);
      return [...new Set(lines.map((entry) => entry.labels.service))].sort();
    };
    expect(servicesOfTrace(/^POST \/posts\/create 201/)).toEqual(
      expect.arrayContaining(['comments', 'event-bus', 'posts', 'query']),
    );
    expect(servicesOfTrace(/^POST \/posts\/[^/]+\/comments 201/)).toEqual(
      expect.arrayContaining(['comments', 'event-bus', 'moderation', 'query']),
    );
    const received = new Set(receiver.spans.map((span) => span.traceId));
    const logged = new Set(entries.flatMap((entry) => entry.structuredMetadata.trace_id ?? []));
    expect(logged.size).toBeGreaterThan(0);
    expect([...logged].filter((traceId) => !received.has(traceId))).toEqual([]);
  });
});

describe('the log pipeline check fails for a copy of the settings with', () => {
  const run = (edit: (text: string) => string) => {
    const original = readRepoFile(VALUES_FILE);
    const text = edit(original);
    expect(text).not.toBe(original);
    return problems(
      runPipeline(
        fluentBitConfig(text),
        printed.map(({ file }) => file),
      ),
    );
  };
  const anyProblem = (list: readonly string[], pattern: RegExp) => list.some((problem) => pattern.test(problem));

  it('Merge_Log off: the service and the trace stay inside the unparsed line', () => {
    const found = run((text) => text.replace(/Merge_Log( +)On/, 'Merge_Log$1Off'));
    expect(anyProblem(found, /names \$service/)).toBe(true);
    expect(anyProblem(found, /structured metadata \{\}, expected \{"trace_id"/)).toBe(true);
  });

  it("the runtime's time kept: the record holds `time` twice once the service's JSON is merged", () => {
    expect(
      anyProblem(
        run((text) => text.replace(/\n +Remove +time/, '')),
        /holds time twice/,
      ),
    ).toBe(true);
  });

  it('another tag prefix than the tail input makes: no pod, no namespace', () => {
    const found = run((text) =>
      text.replace('Kube_Tag_Prefix      kube.var.log.containers.', 'Kube_Tag_Prefix      kube.var.log.pods.'),
    );
    expect(anyProblem(found, /names \$kubernetes\.namespace_name/)).toBe(true);
  });

  it('a label from a field the kubernetes filter does not set', () => {
    const found = run((text) => text.replace("pod=$kubernetes['pod_name']", "pod=$kubernetes['pod']"));
    expect(anyProblem(found, /names \$kubernetes\.pod,/)).toBe(true);
  });

  it("a path that misses the blog's namespaces: nothing reaches Loki", () => {
    const found = run((text) =>
      text.replace('/var/log/containers/*_blog-*_*.log', '/var/log/containers/*_default_*.log'),
    );
    expect(found[0]).toMatch(/^0 entries for \d+ lines printed$/);
  });

  it('a parser or setting the check does not model, rather than ignoring it', () => {
    expect(() => run((text) => text.replace('multiline.parser  cri', 'multiline.parser  docker, cri'))).toThrow(
      /multiline\.parser docker, cri is not modelled/,
    );
    expect(() =>
      run((text) =>
        text.replace('Keep_Log             Off', 'Keep_Log             Off\n        Merge_Parser         json'),
      ),
    ).toThrow(/merge_parser is not modelled/);
  });
});

describe('the pipeline on lines made for the purpose', () => {
  const file = (lines: string[]): LogFile => ({
    path: containerLogPath('posts-depl-7c9d5b8f4d-x2kqp', NAMESPACE, 'posts', 'a'.repeat(64)),
    lines,
  });

  it("joins a line the runtime split into partial parts before merging the service's JSON", () => {
    const long = JSON.stringify({ level: 30, service: 'posts', msg: 'x'.repeat(2 * CRI_MAX_LINE) });
    const lines = criLines([long], 'stdout', 1_765_000_000_000_000_000n);
    expect(lines.map((line) => line.split(' ')[2])).toEqual(['P', 'P', 'F']);
    const [entry] = runPipeline(fluentBitConfig(), [file(lines)]);
    expect(entry?.labels.service).toBe('posts');
    expect((JSON.parse(entry?.line ?? '{}') as { msg?: string }).msg).toHaveLength(2 * CRI_MAX_LINE);
  });

  it('reads the runtime time to the nanosecond, and one without a fraction (Go drops a zero one) to the second', () => {
    expect(rfc3339Nano(1_765_000_000_000_000_000n)).toBe('2025-12-06T05:46:40Z');
    expect(rfc3339Nano(1_765_000_000_120_000_000n)).toBe('2025-12-06T05:46:40.12Z');
    const entries = runPipeline(fluentBitConfig(), [
      file([`2025-12-06T05:46:40.12Z stdout F {"msg":"a"}`, `2025-12-06T05:46:40Z stdout F {"msg":"b"}`]),
    ]);
    expect(entries.map((entry) => entry.time)).toEqual([1_765_000_000_120_000_000n, 1_765_000_000_000_000_000n]);
  });
});
