/**
 * The development credentials (tools/scripts/dev-secrets.mjs, the dev-secrets component): what the script
 * writes, that it never overwrites them, and that the dev overlay's pods run with the credentials generated
 * for this checkout: a post created on posts reaches query through the bus's signed delivery.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { http, waitFor } from '@blog/testkit';
import { repoPath } from '../src/repo';
import { podsOf, runPods, type RunningPods } from './support/deployed';
import { overlayRender } from './support/renders';

const SCRIPT = repoPath('tools/scripts/dev-secrets.mjs');

function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe('tools/scripts/dev-secrets.mjs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'blog-dev-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the four env files the component reads, readable by their owner only, each credential different', () => {
    execFileSync(process.execPath, [SCRIPT, dir], { stdio: 'pipe' });
    expect(readdirSync(dir).sort()).toEqual([
      'blog-secrets.env',
      'nats-admin-credentials.env',
      'nats-credentials.env',
      'nats-route-credentials.env',
    ]);
    for (const name of readdirSync(dir))
      expect([name, statSync(path.join(dir, name)).mode & 0o777]).toEqual([name, 0o600]);
    const blog = readEnvFile(path.join(dir, 'blog-secrets.env'));
    const tokens = [
      'EVENTS_TOKEN',
      'POSTS_EVENTS_TOKEN',
      'COMMENTS_EVENTS_TOKEN',
      'MODERATION_EVENTS_TOKEN',
      'QUERY_EVENTS_TOKEN',
    ];
    const passwords = [
      readEnvFile(path.join(dir, 'nats-credentials.env')).NATS_PASSWORD,
      readEnvFile(path.join(dir, 'nats-admin-credentials.env')).NATS_ADMIN_PASSWORD,
      readEnvFile(path.join(dir, 'nats-route-credentials.env')).NATS_ROUTE_PASSWORD,
    ];
    const secrets = [...tokens.map((key) => blog[key]), ...passwords];
    expect(secrets.filter((value) => !/^[!-~]{16,}$/.test(value ?? ''))).toEqual([]);
    expect(new Set(secrets).size).toBe(secrets.length);
    // The servers put the route password into URLs.
    expect(readEnvFile(path.join(dir, 'nats-route-credentials.env')).NATS_ROUTE_PASSWORD).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('writes a delivery key pair whose halves match', () => {
    execFileSync(process.execPath, [SCRIPT, dir], { stdio: 'pipe' });
    const { DELIVERY_SIGNING_KEY: privateDer = '', DELIVERY_PUBLIC_KEY: publicDer = '' } = readEnvFile(
      path.join(dir, 'blog-secrets.env'),
    );
    const privateKey = createPrivateKey({ key: Buffer.from(privateDer, 'base64'), format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey({ key: Buffer.from(publicDer, 'base64'), format: 'der', type: 'spki' });
    const message = Buffer.from('a delivery');
    expect(verify(null, message, publicKey, sign(null, message, privateKey))).toBe(true);
  });

  it('leaves files that exist as they are', () => {
    execFileSync(process.execPath, [SCRIPT, dir], { stdio: 'pipe' });
    const before = readFileSync(path.join(dir, 'blog-secrets.env'), 'utf8');
    rmSync(path.join(dir, 'nats-credentials.env'));
    const output = execFileSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8' });
    expect(readFileSync(path.join(dir, 'blog-secrets.env'), 'utf8')).toBe(before);
    expect(output).toMatch(/wrote .*nats-credentials\.env/);
    expect(output).not.toMatch(/blog-secrets\.env/);
  });
});

describe('the dev overlay, run with the credentials of this checkout', () => {
  const { manifests } = overlayRender('dev');
  let running: RunningPods;
  beforeAll(async () => {
    running = await runPods(manifests, podsOf(manifests));
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('carries a post from posts to query: a signed delivery that query accepts', async () => {
    const title = `dev overlay ${Date.now()}`;
    const created = await http(`${running.url('posts-depl')}/posts/create`, { body: { title } });
    expect(created.status).toBe(201);
    const posts = await waitFor(
      async () => {
        const { json } = await http(`${running.url('query-depl')}/posts`);
        const titles = Object.values(json as Record<string, { title: string }>).map((post) => post.title);
        return titles.includes(title) && titles;
      },
      { what: 'query to hold the post' },
    );
    expect(posts).toContain(title);
  });
});
