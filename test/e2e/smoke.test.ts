// The built window in a real browser against a real engine: it loads under its CSP and talks through the bridge.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Bridge, startBridge } from './bridge.ts';
import { launchChromium } from './browser.ts';
import { buildRenderer } from './renderer-build.ts';

let tmp: string;
let bridge: Bridge;
let browser: BrowserContext;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-e2e-smoke-'));
  bridge = await startBridge({ home: path.join(tmp, 'home'), rendererDir: await buildRenderer() });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  await rm(tmp, { recursive: true, force: true });
});

it('loads the window, reaches the engine and switches views from the keyboard', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(bridge.url);
  await expect.poll(() => page.getByRole('status').textContent(), { timeout: 15_000 }).toContain('ready');
  await page.getByRole('button', { name: 'Models' }).focus();
  await page.keyboard.press('Enter');
  await expect.poll(() => page.getByRole('button', { name: 'Models' }).getAttribute('aria-current')).toBe('page');
  expect(errors).toEqual([]);
});
