import './tracing';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  commonConfigSchema,
  createLogger,
  DEFAULT_PORTS,
  env,
  loadConfig,
  localUrl,
  type Logger,
  main,
  runService,
  sendError,
  sleep,
} from '@blog/common';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { createClientServerApp, staticClient, type ApiBackends } from './app';
import { routerLimitsConfigSchema, routerLimitsOf, serverTimeouts } from './limits';

const configSchema = z.object({
  ...commonConfigSchema,
  PORT: env.port(DEFAULT_PORTS.client),
  CLIENT_MODE: z.enum(['static', 'dev']).default('static'),
  PROXY_API: env.flag(true),
  POSTS_URL: env.urlList([localUrl('posts')]),
  COMMENTS_URL: env.urlList([localUrl('comments')]),
  QUERY_URL: env.urlList([localUrl('query')]),
  /** Extra host names Vite's dev server answers to (it refuses unknown Host headers), e.g. posts.com. */
  DEV_ALLOWED_HOSTS: env.wordList([]),
  ...routerLimitsConfigSchema,
});

/** client/, whether this runs compiled from dist-server/ or from server/ with tsx. */
const clientDir = path.resolve(__dirname, '..');

main(async () => {
  const config = loadConfig(configSchema);
  const logger = createLogger('client', config);
  const backends: ApiBackends | undefined = config.PROXY_API
    ? { posts: config.POSTS_URL, comments: config.COMMENTS_URL, query: config.QUERY_URL }
    : undefined;

  // In dev mode Vite's middleware needs the HTTP server for its HMR websocket, so it is plugged in once listening.
  let devClient: RequestHandler | undefined;
  const client: RequestHandler =
    config.CLIENT_MODE === 'static'
      ? staticClient(path.join(clientDir, 'dist'))
      : (req, res, next) =>
          devClient ? devClient(req, res, next) : sendError(res, 503, 'the dev server is starting', 'unavailable');

  let closeVite: (() => Promise<void>) | undefined;
  const limits = routerLimitsOf(config);
  await runService({
    name: 'client',
    app: createClientServerApp({ backends, client, logger, limits }),
    port: config.PORT,
    host: config.HOST,
    serverOptions: serverTimeouts(limits),
    logger,
    onListening: async (server) => {
      if (config.CLIENT_MODE === 'dev') {
        const vite = await startVite(server, config.DEV_ALLOWED_HOSTS);
        devClient = vite.middlewares;
        closeVite = () => vite.close();
      }
      if (backends) await announceWhenReady(backends, config.PORT, logger);
    },
    onShutdown: () => closeVite?.(),
  });
});

async function startVite(server: Server, allowedHosts: string[]) {
  const { createServer } = await import('vite');
  return createServer({
    root: clientDir,
    configFile: path.join(clientDir, 'vite.config.mts'),
    appType: 'spa',
    // Nothing under node_modules, which is read-only in the dev image: the config is loaded without
    // writing a bundled copy, and the dependency cache lives in the temp directory.
    configLoader: 'runner',
    cacheDir: path.join(os.tmpdir(), 'blog-vite-cache'),
    server: { middlewareMode: true, hmr: { server }, allowedHosts },
  });
}

/** Logs the URL to open once every public service reports ready. */
async function announceWhenReady(backends: ApiBackends, port: number, logger: Logger): Promise<void> {
  const isReady = async (url: string) => {
    try {
      return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) })).ok;
    } catch {
      return false;
    }
  };
  for (;;) {
    const ready = await Promise.all(Object.values(backends).flat().map(isReady));
    if (ready.every(Boolean)) break;
    await sleep(250);
  }
  logger.info(`The blog is ready: open http://localhost:${port}`);
}
