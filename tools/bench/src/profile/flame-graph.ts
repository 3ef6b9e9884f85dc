/**
 * A CPU profile as a flame graph picture: speedscope's "Left Heavy" view (every call stack merged, the
 * heaviest on the left, time across), opened in headless Chromium from speedscope's own release files
 * and saved as a PNG.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';

const SPEEDSCOPE = path.join(path.dirname(require.resolve('speedscope/package.json')), 'dist', 'release');
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};
const VIEWPORT = { width: 1600, height: 900 };

export async function renderFlameGraph(
  browser: Browser,
  profileFile: string,
  title: string,
  pngFile: string,
): Promise<void> {
  const server = await serve(profileFile);
  const page = await browser.newPage({ viewport: VIEWPORT });
  try {
    const address = server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const hash = new URLSearchParams({ profileURL: `${base}/profile.cpuprofile`, title, view: 'left-heavy' });
    await page.goto(`${base}/index.html#${hash.toString()}`);
    // speedscope names the page after the profile once it has imported it; the next frames draw it.
    await page.waitForFunction(`document.title.startsWith(${JSON.stringify(title)})`, undefined, { timeout: 60_000 });
    await page.waitForTimeout(1_000);
    await page.screenshot({ path: pngFile });
  } finally {
    await page.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** speedscope's files, and the profile at /profile.cpuprofile, on a port of 127.0.0.1. */
async function serve(profileFile: string): Promise<Server> {
  const server = createServer((req, res) => {
    const route = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file =
      route === '/profile.cpuprofile'
        ? profileFile
        : path.join(SPEEDSCOPE, path.normalize(route).replace(/^(\.\.[/\\])+/, ''));
    readFile(file).then(
      (body) =>
        res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
