/**
 * The browser of the browser tests, found without a manual step and never downloaded at test time:
 *
 * 1. `CHROMIUM_PATH`, when set (it must exist);
 * 2. a Chromium or Chrome installed on the system;
 * 3. on Linux x64, the Chromium that the npm package @sparticuz/chromium carries inside its tarball
 *    (installed with the other dev dependencies, unpacked into the temp folder on first use).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const SYSTEM_BROWSERS: readonly string[] = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

/** Headless, without the sandbox (root in CI) and without any network of its own beyond the pages. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface FoundBrowser {
  executablePath: string;
  /** Where it came from, for messages: "CHROMIUM_PATH", "system" or "@sparticuz/chromium". */
  source: string;
}

export type BrowserSource = 'any' | 'packaged';

export interface FindOptions {
  env?: NodeJS.ProcessEnv;
  exists?: (file: string) => boolean;
  platform?: string;
  /** Unpacks the packaged browser and returns its path (the default loads @sparticuz/chromium). */
  unpackPackaged?: () => Promise<string>;
}

/** Where the browser is, in the order above; throws a message saying what was tried and what to do. */
export async function findChromium(source: BrowserSource = 'any', options: FindOptions = {}): Promise<FoundBrowser> {
  const {
    env = process.env,
    exists = existsSync,
    platform = `${process.platform}-${process.arch}`,
    unpackPackaged = unpackSparticuz,
  } = options;
  if (source === 'any') {
    const override = env.CHROMIUM_PATH?.trim();
    if (override) {
      if (!exists(override)) throw new Error(`CHROMIUM_PATH=${override}: no such file`);
      return { executablePath: override, source: 'CHROMIUM_PATH' };
    }
    const system = SYSTEM_BROWSERS.find((candidate) => exists(candidate));
    if (system) return { executablePath: system, source: 'system' };
  }
  if (platform !== 'linux-x64') {
    throw new Error(
      `no Chromium or Chrome found (looked for ${SYSTEM_BROWSERS.join(', ')}), and the packaged one runs on linux-x64 only, not ${platform}: ` +
        'install Chrome or Chromium, or set CHROMIUM_PATH to its executable',
    );
  }
  return { executablePath: await unpackPackaged(), source: '@sparticuz/chromium' };
}

async function unpackSparticuz(): Promise<string> {
  // Loaded only when needed: its module unpacks a browser of about 60 MB into the temp folder.
  // Its CommonJS build exports the class itself; its types describe an ES default export.
  type Packaged = { executablePath: () => Promise<string> };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazily, its CommonJS build: import() would load its ES build, which jest's CommonJS runtime cannot
  const loaded = require('@sparticuz/chromium') as Packaged & { default?: Packaged };
  return (loaded.default ?? loaded).executablePath();
}

/** Launches the browser `findChromium` finds (or the packaged one when asked). */
export async function launchChromium(source: BrowserSource = 'any'): Promise<Browser> {
  const { executablePath } = await findChromium(source);
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}
