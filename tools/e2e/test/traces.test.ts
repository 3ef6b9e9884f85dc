/**
 * Traces across the services on the local stack with its file log (see traces.ts): posts are created
 * through the router, as a browser does, and the bus pushes every event to the services.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts, OtlpReceiver, SERVICES, startStack, waitFor, type ServiceName, type Stack } from '@blog/testkit';
import { describeTraces } from './traces';

const LOGS = path.join(__dirname, '..', 'artifacts', 'logs', 'traces');

let stack: Stack | undefined;

describeTraces(
  'traces on the local stack (file log, pushed deliveries, OTLP/JSON)',
  {
    protocol: 'http/json',
    start: async (receiver, tracing) => {
      const env: Partial<Record<ServiceName, Record<string, string>>> = {};
      for (const name of SERVICES) env[name] = tracing;
      const started = await startStack({ logDir: LOGS, env });
      stack = started;
      return {
        receiver,
        postsUrl: started.url('client'),
        commentsUrl: started.url('comments'),
        queryUrl: started.url('query'),
        logLines: (service) =>
          readFileSync(started.logFile(service as ServiceName), 'utf8')
            .split('\n')
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as Record<string, unknown>),
        busPushes: true,
        routed: true,
        whileQueryDown: async (work) => {
          await started.stop('query');
          await work();
          await started.start('query');
        },
      };
    },
    stop: async () => {
      await stack?.stopAll();
    },
  },
  () => OtlpReceiver.start(),
);

const POSTS_ENTRY = path.join(__dirname, '..', '..', '..', 'posts', 'dist', 'index.js');

it('logs, on its own JSON lines, that it cannot export when nothing answers at the OTLP endpoint', async () => {
  const [port, nowhere, noBus] = await freePorts(3);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'blog-otlp-nowhere-'));
  const posts = spawn(process.execPath, [POSTS_ENTRY], {
    env: {
      ...process.env,
      PORT: String(port),
      STATE_DIR: stateDir,
      EVENT_BUS_URL: `http://127.0.0.1:${noBus}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${nowhere}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      // The exporter retries a refused connection with backoff until this timeout.
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  posts.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const diagnostics = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.component === 'opentelemetry');
  try {
    // Without a bus posts keeps asking it for a snapshot: those requests are traced, their spans sent nowhere.
    await waitFor(() => diagnostics().length > 0, { what: "the SDK's diagnostics" });
    expect(diagnostics()[0]).toMatchObject({
      service: 'posts',
      level: 50,
      msg: expect.stringMatching(/^OpenTelemetry: .*ECONNREFUSED/),
      err: expect.objectContaining({ message: expect.stringMatching(/ECONNREFUSED/) }),
    });
  } finally {
    posts.kill('SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

it('stops a service whose tracing setting is wrong, naming the variable', () => {
  const entry = POSTS_ENTRY;
  const run = spawnSync(process.execPath, [entry], {
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml',
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr).toMatch(/OTEL_EXPORTER_OTLP_PROTOCOL="http\/xml": must be http\/protobuf, http\/json or grpc/);
});
