import pino from 'pino';

export type Logger = pino.Logger;

export interface LoggerSettings {
  LOG_LEVEL: string;
  /** `pretty` needs the pino-pretty package (a dev dependency): for the local stack, not for images. */
  LOG_FORMAT: 'json' | 'pretty';
}

export function createLogger(
  service: string,
  { LOG_LEVEL, LOG_FORMAT }: LoggerSettings = { LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
): Logger {
  const transport =
    LOG_FORMAT === 'pretty'
      ? {
          target: 'pino-pretty',
          options: { ignore: 'pid,hostname,service,name', translateTime: 'HH:MM:ss.l', singleLine: true },
        }
      : undefined;
  return pino({ name: service, level: LOG_LEVEL, base: { service }, ...(transport ? { transport } : {}) });
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
