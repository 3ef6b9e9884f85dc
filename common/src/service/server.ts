import { createServer, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { ConfigError } from './config';
import { stopTracing } from '../tracing/lifecycle';
import type { Logger } from './logger';

/**
 * Starts listening; resolves with the server and the port actually bound (useful with port 0). Without a
 * host, Node listens on every interface: services pass the one their HOST names.
 */
export function listen(
  app: Express,
  port: number,
  host?: string,
  options: ServerOptions = {},
): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer(options, app);
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as AddressInfo).port });
    };
    if (host === undefined) server.listen(port, onListening);
    else server.listen(port, host, onListening);
  });
}

export interface ServiceRun {
  name: string;
  app: Express;
  port: number;
  /** The address to listen on (HOST). */
  host: string;
  /** Options of the HTTP server, e.g. its timeouts. */
  serverOptions?: ServerOptions;
  logger: Logger;
  /** Starts background work (catch-up, delivery) once the server listens. */
  onListening?: (server: Server) => Promise<void> | void;
  /** Runs when a shutdown begins, before in-flight requests drain: e.g. to end long-lived streams. */
  onDraining?: () => void;
  /**
   * Work that still needs the port open once draining began, awaited before the server stops accepting
   * connections: the bus's deliveries in flight, whose subscribers may publish back in reaction.
   */
  beforeClose?: () => Promise<void>;
  /** Stops background work; runs after the server stopped accepting and before the process exits. */
  onShutdown?: () => Promise<void> | void;
  /** Upper bound for draining in-flight requests on SIGTERM (DEFAULT_DRAIN_TIMEOUT_MS). */
  drainTimeoutMs?: number;
}

/** How long a service lets in-flight requests finish on SIGTERM: a pod's grace period must outlast it. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;

/**
 * Runs a service: listen, start background work, and on SIGTERM/SIGINT stop accepting, let in-flight
 * requests finish (bounded), stop background work and exit 0.
 */
export async function runService({
  name,
  app,
  port,
  host,
  serverOptions,
  logger,
  onListening,
  onDraining,
  beforeClose,
  onShutdown,
  drainTimeoutMs = DEFAULT_DRAIN_TIMEOUT_MS,
}: ServiceRun): Promise<void> {
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  const { server, port: bound } = await listen(app, port, host, serverOptions);
  logger.info({ host, port: bound }, `${name} listening on http://${host.includes(':') ? `[${host}]` : host}:${bound}`);

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, `${name} shutting down`);
    onDraining?.();
    try {
      // The server still takes connections meanwhile, as before the stop; bounded by the drain time too.
      await Promise.race([beforeClose?.(), new Promise((resolve) => setTimeout(resolve, drainTimeoutMs).unref())]);
    } catch (err) {
      logger.error({ err }, 'error while draining');
    }
    // Keep-alive clients would go on sending on their open connections during the drain: answer each of
    // those with `Connection: close`, and close connections as soon as they fall idle. The requests under
    // way (a subscriber's publish in reaction to a delivery among them) get the whole drain time.
    server.on('request', (_req, res: ServerResponse) => res.setHeader('connection', 'close'));
    const closeIdle = setInterval(() => server.closeIdleConnections(), 100);
    const forceExit = setTimeout(() => {
      logger.warn('drain timed out, closing remaining connections');
      server.closeAllConnections();
    }, drainTimeoutMs);
    forceExit.unref();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearInterval(closeIdle);
    clearTimeout(forceExit);
    try {
      await onShutdown?.();
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
    }
    try {
      await stopTracing();
    } catch (err) {
      logger.error({ err }, 'error while exporting the last spans');
    }
    logger.info(`${name} stopped`);
    logger.flush();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  void Promise.resolve()
    .then(() => onListening?.(server))
    .catch((err: unknown) => logger.error({ err }, 'background start failed'));
}

/** Entry point wrapper: a configuration error stops the process with its message, naming the variable. */
export function main(start: () => Promise<void>): void {
  start().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(err.message);
    } else {
      console.error(err);
    }
    process.exit(1);
  });
}
