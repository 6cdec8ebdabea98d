/// <reference lib="dom" />
// Every view of the window, the ask window and the capture overlay checked with axe-core in Chromium, in the light
// and the dark colour scheme: no serious or critical violation (nor any of the rules issue 10 fixed, see axe.ts).
// Then keyboard walks: switching views moves focus into the view, the date fields show their focus.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Library } from '../../electron/engine/library/library.ts';
import { glancePaths, modelDir } from '../../electron/engine/paths.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';
import { type AxeViolation, axeBothSchemes, describeViolations, failing } from './axe.ts';
import { type Bridge, startBridge } from './bridge.ts';
import { launchChromium } from './browser.ts';
import { writePhotos } from './fixtures.ts';
import { buildRenderer } from './renderer-build.ts';

let tmp: string;
let renderer: string;
let browser: BrowserContext;
/** Every violation found, per view and scheme (failing or not): the figures of the run. */
const found: Record<string, { light: AxeViolation[]; dark: AxeViolation[] }> = {};

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-e2e-a11y-'));
  renderer = await buildRenderer();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  const counts = Object.entries(found).map(
    ([view, r]) =>
      `${view}: ${r.light.length} light, ${r.dark.length} dark (${[...r.light, ...r.dark].map((v) => v.id).join(' ') || 'none'})`,
  );
  console.log(`axe violations by view:\n${counts.join('\n')}`);
  await rm(tmp, { recursive: true, force: true });
});

/** Runs axe in both schemes and expects nothing that fails. */
async function expectAccessible(page: Page, view: string): Promise<void> {
  const r = await axeBothSchemes(page);
  found[view] = r;
  expect({ light: describeViolations(failing(r.light)), dark: describeViolations(failing(r.dark)) }).toEqual({
    light: [],
    dark: [],
  });
}

async function open(bridge: Bridge, hash = ''): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(bridge.url + hash);
  return page;
}

const nav = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Glance' }).getByRole('button', { name, exact: true });
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return el ? `${el.tagName.toLowerCase()}:${el.textContent?.trim().slice(0, 40) ?? ''}` : null;
  });

describe('a new library (first run), and the views beside it', () => {
  let bridge: Bridge;
  let page: Page;
  beforeAll(async () => {
    bridge = await startBridge({ home: path.join(tmp, 'new'), rendererDir: renderer });
    page = await open(bridge);
    await page.getByRole('heading', { name: 'Welcome to Glance' }).waitFor();
    await page.getByRole('button', { name: 'Download the CLIP model' }).waitFor();
  });
  afterAll(async () => {
    await page?.close();
    await bridge?.close();
  });

  it('first run', async () => {
    await expectAccessible(page, 'first run');
  });

  it('models', async () => {
    await nav(page, 'Models').click();
    await page.getByRole('heading', { name: 'Chat', exact: true, level: 3 }).waitFor();
    await expectAccessible(page, 'models');
  });

  it('settings', async () => {
    await nav(page, 'Settings').click();
    await page.getByText('Nothing leaves it but the model downloads you start').waitFor();
    await expectAccessible(page, 'settings');
  });

  it('chat', async () => {
    await nav(page, 'Chat').click();
    await page.getByRole('log', { name: 'Messages' }).waitFor();
    await page.getByRole('heading', { name: 'Conversations' }).waitFor();
    await expectAccessible(page, 'chat');
  });

  it('switching views from the keyboard moves focus to the view heading', async () => {
    for (const [button, heading] of [
      ['Models', 'h2:Models'],
      ['Settings', 'h2:Settings'],
      ['Chat', 'h2:Chat'],
      ['Library', 'h2:Library'],
    ] as const) {
      await nav(page, button).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => focused(page)).toBe(heading);
    }
  });

  it('capture overlay', async () => {
    await bridge.capture.start();
    const overlay = await open(bridge, '#capture');
    try {
      await overlay.getByText('Drag to select · Enter to ask · Esc to cancel').waitFor();
      await expect
        .poll(() =>
          overlay.evaluate(() => (document.querySelector('.overlay img') as HTMLImageElement | null)?.complete),
        )
        .toBe(true);
      await expectAccessible(overlay, 'capture overlay');
    } finally {
      await overlay.close();
    }
  });

  it('ask window', async () => {
    await bridge.capture.select({ x: 100, y: 100, width: 400, height: 200 });
    const ask = await open(bridge, '#ask');
    try {
      await ask.getByRole('img', { name: /captured region/ }).waitFor();
      await expectAccessible(ask, 'ask window');
    } finally {
      await ask.close();
    }
  });
});

describe('a library with photos', () => {
  let bridge: Bridge;
  let page: Page;
  beforeAll(async () => {
    const home = path.join(tmp, 'photos');
    const models = modelDir(glancePaths(home));
    await writeTinyClip(models);
    const lib = Library.open({ home, modelDir: models });
    await lib.indexFolders([await writePhotos(path.join(tmp, 'pictures'))]);
    lib.close();
    bridge = await startBridge({ home, rendererDir: renderer });
    page = await open(bridge);
    await page.locator('[role="grid"] button[data-photo-id]').nth(3).waitFor();
  });
  afterAll(async () => {
    await page?.close();
    await bridge?.close();
  });

  it('library', async () => {
    await expectAccessible(page, 'library');
  });

  it('photo view', async () => {
    await page.locator('[role="grid"] button[data-photo-id]').first().click();
    await page.getByRole('dialog').getByRole('heading', { level: 2 }).waitFor();
    await page.getByRole('dialog').getByRole('heading', { name: 'Tags' }).waitFor();
    try {
      await expectAccessible(page, 'photo view');
    } finally {
      await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
    }
  });

  it('the date fields show a focus ring, and search is near the view heading', async () => {
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await nav(page, 'Settings').click();
    await nav(page, 'Library').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => focused(page)).toBe('h2:Library');
    const search = page.getByRole('searchbox', { name: 'Search photos' });
    let stops = 0;
    while (!(await search.evaluate((el) => el === document.activeElement))) {
      await page.keyboard.press('Tab');
      stops++;
      expect(stops).toBeLessThan(30);
    }
    console.log(`Tab stops from the Library heading to the search box: ${stops}`);
    const from = page.getByLabel('From');
    while (!(await from.evaluate((el) => el === document.activeElement))) {
      await page.keyboard.press('Tab');
      stops++;
      expect(stops).toBeLessThan(40);
    }
    // Chromium moves focus through the date's fields and then its calendar button, all inside the input
    const outline = () => from.evaluate((el) => getComputedStyle(el).outlineStyle);
    expect(await outline()).not.toBe('none');
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      if (!(await from.evaluate((el) => el === document.activeElement))) break;
      expect(await outline()).not.toBe('none');
    }
  });
});
