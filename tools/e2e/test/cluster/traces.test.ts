/**
 * Traces across the services scaled out on a 3-node NATS JetStream cluster (see ../traces.ts): the trace
 * context travels in the NATS messages' headers, and every replica reads the events from the stream.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  OtlpReceiver,
  startNatsCluster,
  startReplicatedStack,
  type NatsCluster,
  type ReplicatedService,
  type ReplicatedStack,
} from '@blog/testkit';
import { describeTraces } from '../traces';

let dir: string | undefined;
let nats: NatsCluster | undefined;
let stack: ReplicatedStack | undefined;

function logLines(blog: ReplicatedStack, service: ReplicatedService): Record<string, unknown>[] {
  return Array.from({ length: blog.replicas }, (_, replica) => blog.logFile(service, replica))
    .filter((file) => existsSync(file))
    .flatMap((file) => readFileSync(file, 'utf8').split('\n'))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describeTraces(
  'traces on two replicas of every service and of the bus, on NATS JetStream (OTLP/protobuf)',
  {
    protocol: 'http/protobuf',
    start: async (receiver, env) => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'blog-traces-nats-'));
      nats = await startNatsCluster({ dir: path.join(dir, 'nats') });
      const started = await startReplicatedStack({
        nats,
        logDir: path.join(dir, 'logs'),
        busEnv: env,
        serviceEnv: { posts: env, comments: env, moderation: env, query: env },
      });
      stack = started;
      return {
        receiver,
        postsUrl: started.url('posts', 0),
        commentsUrl: started.url('comments', 1),
        queryUrl: started.url('query', 0),
        logLines: (service) => logLines(started, service as ReplicatedService),
        busPushes: false,
        routed: false,
        whileQueryDown: async (work) => {
          await started.kill('query', 1);
          await work();
          await started.start('query', 1);
        },
      };
    },
    stop: async () => {
      await stack?.stopAll();
      await nats?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  },
  () => OtlpReceiver.start(),
);
