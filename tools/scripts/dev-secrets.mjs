#!/usr/bin/env node
// Writes the development credentials the dev overlays deploy (infra/components/dev-secrets): random tokens,
// an Ed25519 delivery key pair and the NATS passwords, in git-ignored env files that the component's
// secretGenerator reads. A file that exists is left as it is, so a cluster keeps its credentials across
// deploys; delete the files to get new ones. `npm install` runs this, and so does skaffold before it renders.
// Usage: node tools/scripts/dev-secrets.mjs [folder]   (default: infra/components/dev-secrets)
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const folder = path.resolve(process.argv[2] ?? path.join(here, '../../infra/components/dev-secrets'));

/** 32 random bytes as base64url: 43 printable characters, no spaces. */
const token = () => randomBytes(32).toString('base64url');

function deliveryKeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    DELIVERY_SIGNING_KEY: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    DELIVERY_PUBLIC_KEY: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

const files = {
  'blog-secrets.env': () => ({
    EVENTS_TOKEN: token(),
    POSTS_EVENTS_TOKEN: token(),
    COMMENTS_EVENTS_TOKEN: token(),
    MODERATION_EVENTS_TOKEN: token(),
    QUERY_EVENTS_TOKEN: token(),
    ...deliveryKeyPair(),
  }),
  'nats-credentials.env': () => ({ NATS_USER: 'blog-event-bus', NATS_PASSWORD: token() }),
  'nats-admin-credentials.env': () => ({ NATS_ADMIN_USER: 'blog-admin', NATS_ADMIN_PASSWORD: token() }),
  // The servers put it into their route URLs: base64url is URL-safe.
  'nats-route-credentials.env': () => ({ NATS_ROUTE_PASSWORD: token() }),
};

for (const [name, values] of Object.entries(files)) {
  const file = path.join(folder, name);
  if (existsSync(file)) continue;
  const lines = Object.entries(values()).map(([key, value]) => `${key}=${value}`);
  // 'wx': never overwrite a file another run wrote meanwhile; readable by its owner only.
  try {
    writeFileSync(file, `${lines.join('\n')}\n`, { flag: 'wx', mode: 0o600 });
    console.log(`dev-secrets: wrote ${path.relative(process.cwd(), file)}`);
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  }
}
