// The capture overlay (#capture) built and run in Chromium under its CSP, with a fake window.glance that serves a
// generated frame and records what the overlay answers: drags in either direction, a corner handle, Enter with
// and without a selection, Esc. A screenshot goes to test-output/e2e/capture-overlay.png.
import { mkdir, readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { OverlayRect } from '../../electron/ipc/contract.ts';
import { repoRoot } from '../fixtures/repo.ts';
import { launchChromium } from './browser.ts';
import { buildRenderer } from './renderer-build.ts';

const W = 800;
const H = 600;
const SHOTS = path.join(repoRoot, 'test-output', 'e2e');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

type Call = { channel: string; arg: unknown };

/** A recognisable "screen": a gradient with a few bright blocks. */
async function framePng(): Promise<string> {
  const px = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      const block = (Math.floor(x / 100) + Math.floor(y / 100)) % 2 === 0;
      px[i] = Math.round((x / W) * 255);
      px[i + 1] = block ? 200 : 80;
      px[i + 2] = Math.round((y / H) * 255);
    }
  }
  const png = await sharp(px, { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

function fakeGlanceScript(imageUrl: string): string {
  const frame = { imageUrl, width: 2 * W, height: 2 * H, scaleFactor: 2 };
  return `
(() => {
  const frame = ${JSON.stringify(frame)};
  window.__calls = [];
  const answers = { 'capture.frame': frame, 'capture.select': null, 'capture.cancel': null };
  window.glance = new Proxy({}, {
    get(_t, key) {
      if (key === 'on') return () => () => {};
      return async (arg) => {
        window.__calls.push({ channel: key, arg: arg === undefined ? null : arg });
        if (key in answers) return { ok: true, value: answers[key] };
        return { ok: false, error: { code: 'not-faked', message: key + ' is not faked' } };
      };
    },
  });
})();
`;
}

let server: http.Server;
let url: string;
let browser: BrowserContext;

beforeAll(async () => {
  const dir = await buildRenderer();
  const script = fakeGlanceScript(await framePng());
  server = http.createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    try {
      if (u.pathname === '/fake-glance.js') {
        res.writeHead(200, { 'content-type': TYPES['.js']! }).end(script);
        return;
      }
      const rel = u.pathname === '/' ? 'index.html' : decodeURIComponent(u.pathname).replace(/^\/+/, '');
      const file = path.resolve(dir, rel);
      if (!file.startsWith(path.resolve(dir) + path.sep) || !(await stat(file)).isFile()) throw new Error('not found');
      let body: Buffer | string = await readFile(file);
      if (rel === 'index.html')
        body = body.toString('utf8').replace('<head>', '<head><script src="/fake-glance.js"></script>');
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

/** The pages the running test opened, with the errors each reported; every test starts with none. */
let pages: { page: Page; errors: string[] }[] = [];
afterEach(async () => {
  const opened = pages;
  pages = [];
  await Promise.all(opened.map((p) => p.page.close()));
  // every page ran under the CSP without errors
  expect(opened.flatMap((p) => p.errors)).toEqual([]);
});

async function open(): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  pages.push({ page, errors });
  await page.setViewportSize({ width: W, height: H });
  await page.goto(`${url}#capture`);
  await page.getByText('Drag to select · Enter to ask · Esc to cancel').waitFor();
  await expect
    .poll(() => page.evaluate(() => (document.querySelector('.overlay img') as HTMLImageElement | null)?.complete))
    .toBe(true);
  expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('application');
  return page;
}

async function drag(page: Page, from: [number, number], to: [number, number]) {
  await page.mouse.move(...from);
  await page.mouse.down();
  await page.mouse.move(...to, { steps: 8 });
  await page.mouse.up();
}

const calls = (page: Page) => page.evaluate(() => (window as unknown as { __calls: Call[] }).__calls);

async function selected(page: Page): Promise<OverlayRect | null> {
  await page.keyboard.press('Enter');
  await expect.poll(async () => (await calls(page)).some((c) => c.channel === 'capture.select')).toBe(true);
  const c = (await calls(page)).find((x) => x.channel === 'capture.select')!;
  return (c.arg as { rect: OverlayRect | null }).rect;
}

it('selects a dragged region, shows its physical size and sends it on Enter', async () => {
  const page = await open();
  await drag(page, [100, 100], [300, 250]);
  await expect.poll(() => page.getByTestId('selection-size').textContent()).toBe('400 × 300');
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'capture-overlay.png') });
  expect(await selected(page)).toEqual({ x: 100, y: 100, width: 200, height: 150 });
});

it('normalises a drag from bottom-right to top-left', async () => {
  const page = await open();
  await drag(page, [300, 250], [100, 100]);
  expect(await selected(page)).toEqual({ x: 100, y: 100, width: 200, height: 150 });
});

it('adjusts the selection by its bottom-right corner handle', async () => {
  const page = await open();
  await drag(page, [100, 100], [300, 250]);
  await drag(page, [300, 250], [350, 300]);
  expect(await selected(page)).toEqual({ x: 100, y: 100, width: 250, height: 200 });
});

it('moves the selection by dragging it and nudges it with the keyboard', async () => {
  const page = await open();
  await drag(page, [100, 100], [300, 250]);
  await drag(page, [200, 200], [220, 190]);
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Shift+ArrowDown');
  expect(await selected(page)).toEqual({ x: 119, y: 90, width: 200, height: 151 });
});

it('sends the whole display (null) on Enter with nothing selected', async () => {
  const page = await open();
  expect(await selected(page)).toBeNull();
});

it('cancels on Esc', async () => {
  const page = await open();
  await drag(page, [100, 100], [300, 250]);
  await page.keyboard.press('Escape');
  await expect.poll(async () => (await calls(page)).map((c) => c.channel)).toContain('capture.cancel');
  expect((await calls(page)).some((c) => c.channel === 'capture.select')).toBe(false);
});

it('runs under the CSP without errors', async () => {
  const page = await open();
  await drag(page, [100, 100], [300, 250]);
  expect(await selected(page)).toEqual({ x: 100, y: 100, width: 200, height: 150 });
  expect(pages.flatMap((p) => p.errors)).toEqual([]);
});
