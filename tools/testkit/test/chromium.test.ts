import { findChromium, launchChromium, SYSTEM_BROWSERS } from '@blog/testkit/chromium';

const nothingInstalled = () => false;
const unpack = () => Promise.resolve('/tmp/chromium');

describe('finding the browser of the browser tests', () => {
  it('takes CHROMIUM_PATH first, and refuses one that does not exist', async () => {
    const found = await findChromium('any', {
      env: { CHROMIUM_PATH: '/opt/chrome/chrome' },
      exists: (file) => file === '/opt/chrome/chrome',
    });
    expect(found).toEqual({ executablePath: '/opt/chrome/chrome', source: 'CHROMIUM_PATH' });
    await expect(findChromium('any', { env: { CHROMIUM_PATH: '/nowhere' }, exists: nothingInstalled })).rejects.toThrow(
      'CHROMIUM_PATH=/nowhere: no such file',
    );
  });

  it("then the system's Chromium or Chrome, in order", async () => {
    const installed = new Set(['/usr/bin/google-chrome', '/usr/bin/chromium-browser']);
    const found = await findChromium('any', { env: {}, exists: (file) => installed.has(file), unpackPackaged: unpack });
    expect(found).toEqual({ executablePath: '/usr/bin/chromium-browser', source: 'system' });
  });

  it('then, on Linux x64, the browser packaged on npm', async () => {
    const found = await findChromium('any', {
      env: {},
      exists: nothingInstalled,
      platform: 'linux-x64',
      unpackPackaged: unpack,
    });
    expect(found).toEqual({ executablePath: '/tmp/chromium', source: '@sparticuz/chromium' });
    // Asked for the packaged one, it skips what the system has.
    expect(
      await findChromium('packaged', { env: {}, exists: () => true, platform: 'linux-x64', unpackPackaged: unpack }),
    ).toMatchObject({ source: '@sparticuz/chromium' });
  });

  it('elsewhere says what it looked for and what to do', async () => {
    const finding = findChromium('any', {
      env: {},
      exists: nothingInstalled,
      platform: 'darwin-arm64',
      unpackPackaged: unpack,
    });
    await expect(finding).rejects.toThrow(
      /no Chromium or Chrome found .*linux-x64 only, not darwin-arm64: install Chrome or Chromium, or set CHROMIUM_PATH/,
    );
    await expect(finding).rejects.toThrow(SYSTEM_BROWSERS.join(', '));
  });
});

const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64' ? describe : describe.skip;

onLinuxX64('the browser packaged on npm (what a machine without Chromium gets)', () => {
  it('unpacks, launches and runs a page', async () => {
    const browser = await launchChromium('packaged');
    try {
      const page = await browser.newPage();
      await page.setContent(
        '<p id="out">static</p><script>document.getElementById("out").textContent = "ran";</script>',
      );
      expect(await page.textContent('#out')).toBe('ran');
    } finally {
      await browser.close();
    }
  });
});
