/**
 * The stack under test: the local production build started here (on free ports), or the base URLs of a
 * stack already running (another implementation of the same API). Only loopback addresses are accepted.
 */
import { rm } from 'node:fs/promises';
import { startStack, type ServiceName, type Stack, waitUntil } from '@blog/testkit';
import { isRecord } from '@blog/common/api';
import { JsonClient } from './http';

export interface TargetUrls {
  posts: string;
  comments: string;
  query: string;
  /** The event bus, when known: used to wait until everything is delivered between phases. */
  bus?: string;
}

export interface Target {
  kind: 'local' | 'external';
  urls: TargetUrls;
  /** The processes, for a local stack (RSS, catch-up). */
  stack?: Stack;
  close(): Promise<void>;
}

/** The services the bench starts: the client server is not on any measured path. */
export const BENCH_SERVICES: readonly ServiceName[] = ['event-bus', 'posts', 'comments', 'query', 'moderation'];

export async function startLocalTarget(logDir: string): Promise<Target> {
  const stack = await startStack({ logDir, logLevel: 'warn', services: BENCH_SERVICES });
  return {
    kind: 'local',
    urls: {
      posts: stack.url('posts'),
      comments: stack.url('comments'),
      query: stack.url('query'),
      bus: stack.url('event-bus'),
    },
    stack,
    close: () => stopAndForgetHistory(stack),
  };
}

/** Stops the stack and deletes its event log; the service logs stay. */
export async function stopAndForgetHistory(stack: Stack): Promise<void> {
  await stack.stopAll();
  await rm(stack.eventLogDir, { recursive: true, force: true });
}

export function externalTarget(urls: TargetUrls): Target {
  return { kind: 'external', urls, close: () => Promise.resolve() };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The URL without a trailing slash; throws unless it is http(s) on a loopback address. */
export function loopbackBaseUrl(raw: string, what: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${what}: "${raw}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${what}: "${raw}" is not an http(s) URL`);
  if (!LOOPBACK_HOSTS.has(url.hostname) && !/^127\.\d+\.\d+\.\d+$/.test(url.hostname)) {
    throw new Error(`${what}: "${raw}" is not on this machine; the bench only sends traffic to 127.0.0.1`);
  }
  if (url.search !== '' || url.hash !== '')
    throw new Error(`${what}: "${raw}" must be a base URL without query or fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Waits until the bus has delivered every event to every subscriber (lag 0 on two reads in a row), so that
 * one phase's backlog does not slow the next. Without a bus URL there is nothing to wait on.
 */
export async function waitForQuiet(target: Target, timeoutMs: number): Promise<{ quiet: boolean; waitedMs: number }> {
  const { bus } = target.urls;
  if (bus === undefined) return { quiet: true, waitedMs: 0 };
  const client = new JsonClient(bus, { connections: 1 });
  const started = performance.now();
  let quietReads = 0;
  try {
    const quiet = await waitUntil(
      async () => {
        const lags = await subscriberLags(client, target.stack?.eventHeaders() ?? {});
        quietReads = lags !== undefined && lags.every((lag) => lag === 0) ? quietReads + 1 : 0;
        return quietReads >= 2;
      },
      timeoutMs,
      100,
    );
    return { quiet, waitedMs: performance.now() - started };
  } finally {
    await client.close();
  }
}

/** Each subscriber's lag; `/subscribers` needs the events token when the bus has one. */
async function subscriberLags(bus: JsonClient, headers: Record<string, string>): Promise<number[] | undefined> {
  try {
    const { status, body } = await bus.get('/subscribers', headers);
    if (status !== 200 || !Array.isArray(body)) return undefined;
    return body.map((entry: unknown) => (isRecord(entry) && typeof entry.lag === 'number' ? entry.lag : Number.NaN));
  } catch {
    return undefined;
  }
}
