import { createPublicKey, KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { localUrl } from '../contracts/api';
import { parsePublicKey, parseSigningKey } from '../messaging/delivery-signature';

/** A bad environment variable; the message names it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads configuration once from the environment, validated by a zod object schema whose keys are the
 * variable names. Throws a ConfigError naming every wrong variable.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty variable counts as unset, so `PORT= npm start` falls back to the default.
    input[key] = value === undefined || value.trim() === '' ? undefined : value.trim();
  }
  const parsed = schema.safeParse(input);
  const problems = parsed.success
    ? developmentCredentialProblems(input, parsed.data)
    : parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]);
        return `${name}=${shown(name, input[name])}: ${issue.message}`;
      });
  if (!parsed.success || problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return parsed.data;
}

/**
 * The credentials committed in infra/k8s for a local cluster: every token and password there begins with
 * this, and its delivery key pair has this public half. Everyone can read them, so a process takes them
 * only where BLOG_ENV says this is a development deploy.
 */
export const DEVELOPMENT_CREDENTIAL_PREFIX = 'local-development';
export const DEVELOPMENT_DELIVERY_PUBLIC_KEY = 'MCowBQYDK2VwAyEAQr2aMLF1rO2T6delyhzx7EJlSU68dsMTQVf3FeDnyKw=';

/** Checked in every configuration: a secret variable holding a committed development credential, outside development. */
function developmentCredentialProblems(
  input: Record<string, string | undefined>,
  config: Record<string, unknown>,
): string[] {
  if (config.BLOG_ENV === 'development') return [];
  const committed = Object.keys(input).filter(
    (name) =>
      SECRET_NAME.test(name) &&
      (input[name]?.startsWith(DEVELOPMENT_CREDENTIAL_PREFIX) || isDevelopmentKey(config[name])),
  );
  if (committed.length === 0) return [];
  return [
    `${committed.join(', ')} ${committed.length === 1 ? 'is a development credential' : 'are development credentials'} committed in infra/k8s, accepted only with BLOG_ENV=development ` +
      `(BLOG_ENV=${JSON.stringify(config.BLOG_ENV ?? '')}): give the blog credentials of your own (e.g. openssl rand -base64 32; docs/operations.md#security)`,
  ];
}

function isDevelopmentKey(value: unknown): boolean {
  if (!(value instanceof KeyObject)) return false;
  const publicKey = value.type === 'private' ? createPublicKey(value) : value;
  return publicKey.export({ format: 'der', type: 'spki' }).toString('base64') === DEVELOPMENT_DELIVERY_PUBLIC_KEY;
}

/** A variable's value as an error message may show it: never a secret's. */
function shown(name: string, value: string | undefined): string {
  if (SECRET_NAME.test(name) && value !== undefined) return `(${value.length} characters, hidden)`;
  return JSON.stringify(value ?? '');
}

// Every key too: a private key pasted where a public one belongs must not be shown either.
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|KEY/;

const withoutTrailingSlashes = (value: string) => value.replace(/\/+$/, '');

/**
 * A comma-separated list: each item trimmed and normalised, empty ones dropped; `problem` says what is
 * wrong with an item, if anything.
 */
function commaList(
  fallback: string[],
  normalise: (item: string) => string,
  problem: (item: string) => string | undefined = () => undefined,
) {
  return z
    .string()
    .default(fallback.join(','))
    .transform((value, ctx) => {
      const items = value
        .split(',')
        .map((item) => normalise(item.trim()))
        .filter((item) => item !== '');
      for (const item of items) {
        const message = problem(item);
        if (message !== undefined) ctx.addIssue({ code: 'custom', message });
      }
      return items;
    });
}

/** Reusable env variable schemas. */
export const env = {
  port: (fallback: number) => {
    const error = 'must be a port number from 0 to 65535';
    return z.coerce.number({ error }).int({ error }).min(0, { error }).max(65535, { error }).default(fallback);
  },
  url: (fallback: string) =>
    z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .default(fallback)
      .transform(withoutTrailingSlashes),
  urlList: (fallback: string[]) =>
    commaList(fallback, withoutTrailingSlashes, (url) =>
      z.url({ protocol: /^https?$/ }).safeParse(url).success ? undefined : `"${url}" is not an http(s) URL`,
    ),
  flag: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1' || value === 'yes'),
  /** A shared secret sent in an HTTP header: long enough not to be guessed, no spaces or control characters. */
  token: () =>
    z
      .string()
      .min(16, { error: 'must be at least 16 characters' })
      .regex(/^[\x21-\x7e]+$/, { error: 'must be printable ASCII without spaces' })
      .optional(),
  /** Browser origins (scheme, host and port, no path), e.g. http://localhost:3000. */
  originList: (fallback: string[]) =>
    commaList(fallback, withoutTrailingSlashes, (origin) => {
      const parsed = URL.canParse(origin) ? new URL(origin) : undefined;
      const isOrigin = parsed !== undefined && /^https?:$/.test(parsed.protocol) && parsed.origin === origin;
      return isOrigin ? undefined : `"${origin}" is not an origin such as http://localhost:3000`;
    }),
  /** A duration in whole milliseconds, at least 1. */
  milliseconds: (fallback: number) => {
    const error = 'must be a whole number of milliseconds, at least 1';
    return z.coerce.number({ error }).int({ error }).min(1, { error }).default(fallback);
  },
  /** NATS servers (nats:// or tls:// URLs with a host and port), e.g. nats://nats:4222. */
  natsServerList: (fallback: string[]) =>
    commaList(
      fallback,
      (item) => item,
      (server) => {
        const parsed = URL.canParse(server) ? new URL(server) : undefined;
        const isServer =
          parsed !== undefined &&
          /^(nats|tls):$/.test(parsed.protocol) &&
          parsed.hostname !== '' &&
          parsed.pathname === '';
        return isServer ? undefined : `"${server}" is not a NATS server URL such as nats://nats:4222`;
      },
    ),
  /** The bus's Ed25519 key that signs its deliveries: PEM, or base64 of the PKCS#8 DER form. */
  signingKey: () => z.string().transform(keyParser(parseSigningKey)).optional(),
  /** The Ed25519 public key deliveries must be signed with: PEM, or base64 of the SPKI DER form. */
  publicKey: () => z.string().transform(keyParser(parsePublicKey)).optional(),
  /** An address to listen on: an IP address (127.0.0.1, 0.0.0.0, ::) or a host name. */
  host: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .refine((value) => isIP(value) !== 0 || HOST_NAME.test(value), {
        error: 'must be an IP address to listen on, such as 127.0.0.1 or 0.0.0.0, or a host name',
      }),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  wordList: (fallback: string[]) => commaList(fallback, (item) => item.toLowerCase()),
};

/** A transform of a key's text into the key, or an issue saying why it is not one (never showing the key). */
function keyParser(parse: (text: string) => KeyObject) {
  return (text: string, ctx: z.RefinementCtx): KeyObject => {
    try {
      return parse(text);
    } catch (err) {
      // Node's own messages may quote the input: only ours, which never do, are shown.
      const reason =
        err instanceof Error && err.message.startsWith('is a ')
          ? err.message
          : 'is not a key in PEM or base64 DER form';
      ctx.addIssue({ code: 'custom', message: reason });
      return z.NEVER;
    }
  };
}
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Settings every service shares. */
export const commonConfigSchema = {
  /**
   * The address the process listens on: the loopback by default, so that nothing else on the network
   * reaches it; 0.0.0.0 in a container (its images and manifests set it), where the loopback is the
   * container's own.
   */
  HOST: env.host('127.0.0.1'),
  LOG_LEVEL: env.logLevel(),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
};

/** Settings of the bus and of every service that takes events: the token event requests must carry. */
export const eventsConfigSchema = {
  EVENTS_TOKEN: env.token(),
  /** `development` on a local cluster (infra/k8s), where the committed EVENTS_TOKEN is accepted; `production` anywhere else. */
  BLOG_ENV: z.enum(['development', 'production'], { error: 'must be development or production' }).default('production'),
};

/** Settings of a service that publishes to and reads from the bus. */
export const busServiceConfigSchema = {
  ...commonConfigSchema,
  /**
   * This service's own token for the bus (what it may publish, the bus decides by it). Without
   * DELIVERY_PUBLIC_KEY it is also the token deliveries to this service must carry (the older shared setup).
   */
  ...eventsConfigSchema,
  /** The bus's public key: set, the service applies only deliveries the bus signed (no token needed on them). */
  DELIVERY_PUBLIC_KEY: env.publicKey(),
  /** The bus's base URL; several (comma-separated) when each bus replica is reached on its own. */
  EVENT_BUS_URL: env
    .urlList([localUrl('event-bus')])
    .refine((urls) => urls.length > 0, { error: 'must name the event bus' }),
  /**
   * How long a publish whose answer was lost is sent again (same id) before the service says the outcome
   * is unknown: longer than the bus's own retries (NATS_PUBLISH_TIMEOUT_MS) on a replicated log.
   */
  EVENT_BUS_CONFIRM_MS: env.milliseconds(5_000),
  /** Read new events from the bus (long polls) rather than wait for its pushes: set on scaled-out replicas. */
  EVENTS_FOLLOW: env.flag(false),
};

export type BusServiceConfig = z.infer<z.ZodObject<typeof busServiceConfigSchema>>;

/** Settings of a service that browsers call: the pages (origins) allowed to call it from elsewhere. */
export const browserApiConfigSchema = {
  CORS_ORIGINS: env.originList(['http://localhost:3000', 'http://posts.com']),
};
