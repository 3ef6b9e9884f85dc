/**
 * Traces across the services on the local stack with its file log (see traces.ts): posts are created
 * through the router, as a browser does, and the bus pushes every event to the services.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OtlpReceiver, SERVICES, startStack, type ServiceName, type Stack } from '@blog/testkit';
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

it('stops a service whose tracing setting is wrong, naming the variable', () => {
  const entry = path.join(__dirname, '..', '..', '..', 'posts', 'dist', 'index.js');
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
