/// <reference lib="dom" />
// Chat in the window end to end: a chat model downloaded from the local fake hub in the Models view with visible
// progress, then a conversation about an attached image with tokens streaming in, stopped, and continued.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHAT_CATALOG } from '../../native-models/catalog.ts';
import type { FakeHub } from '../fixtures/fake-hub.ts';
import * as img from '../fixtures/images.ts';
import { repoRoot } from '../fixtures/repo.ts';
import { axeBothSchemes, describeViolations, failing } from './axe.ts';
import { type Bridge, startBridge } from './bridge.ts';
import { launchChromium } from './browser.ts';
import { E2E_CHAT_ID, startModelHub } from './fixtures.ts';
import { buildRenderer } from './renderer-build.ts';

const SHOTS = path.join(repoRoot, 'test-output', 'e2e');
const CHAT = CHAT_CATALOG.find((e) => e.id === E2E_CHAT_ID)!;
let tmp: string;
let hub: FakeHub;
let bridge: Bridge;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-e2e-chat-'));
  await mkdir(SHOTS, { recursive: true });
  hub = await startModelHub(path.join(tmp, 'hub'), { delayMs: 3, chunkSize: 64 * 1024 });
  process.env.GLANCE_HUB_ENDPOINT = hub.url;
  bridge = await startBridge({ home: path.join(tmp, 'home'), rendererDir: await buildRenderer() });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(bridge.url);
});

afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  await hub?.close();
  delete process.env.GLANCE_HUB_ENDPOINT;
  await rm(tmp, { recursive: true, force: true });
});

it('downloads a chat model from the hub with visible progress', async () => {
  await page.getByRole('button', { name: 'Models', exact: true }).click();
  await page.getByRole('button', { name: `Download ${CHAT.name}` }).click();
  await expect.poll(() => page.getByRole('progressbar').count(), { timeout: 10_000 }).toBeGreaterThan(0);
  await page.screenshot({ path: path.join(SHOTS, 'models-downloading.png') });
  await expect
    .poll(() => page.getByRole('button', { name: `Verify ${CHAT.name}` }).count(), { timeout: 60_000 })
    .toBe(1);
  await page.screenshot({ path: path.join(SHOTS, 'models.png') });
});

it('chats about an image: tokens stream in, Stop ends the answer, the conversation continues', async () => {
  await page.getByRole('button', { name: 'Chat', exact: true }).click();
  const photo = await img.writeSolid(path.join(tmp, 'sunset.png'), [250, 120, 40], 200, 150);
  await page.getByLabel('Image files').setInputFiles(photo);
  await page.getByRole('textbox', { name: 'Message' }).fill('What is in this picture?');
  // Watch the live bubble from inside the page: it resolves once its text has gone through three lengths.
  const grew = page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const lengths = new Set<number>();
        const obs = new MutationObserver(() => {
          const live = document.querySelector('[aria-label="Assistant, writing"]');
          if (live) lengths.add(live.textContent?.length ?? 0);
          if (lengths.size >= 3) {
            obs.disconnect();
            resolve(lengths.size);
          }
        });
        obs.observe(document.body, { subtree: true, childList: true, characterData: true });
      }),
  );
  // The tiny model answers faster than a click: freeze the engine after its third token event, so that the answer
  // is certainly still being written when Stop is clicked (it never emits end-of-text, so it would go on to its
  // token limit), and let it go on once the stop request is on its way.
  const pid = bridge.engine.pid!;
  let events = 0;
  const frozen = new Promise<void>((resolve) => {
    const onToken = () => {
      if (++events < 3) return;
      bridge.events.off('chat.token', onToken);
      process.kill(pid, 'SIGSTOP');
      resolve();
    };
    bridge.events.on('chat.token', onToken);
  });
  try {
    await page.getByRole('button', { name: 'Send' }).click();
    await frozen;
    expect(await grew).toBeGreaterThanOrEqual(3); // the answer grew in several steps, not all at once
    await page.screenshot({ path: path.join(SHOTS, 'chat-streaming.png') });
    // while it streams, the log is reachable from the keyboard to scroll it
    await page.getByRole('log', { name: 'Messages' }).focus();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('log');
    await page.getByRole('button', { name: 'Stop' }).click();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const answer = page.getByRole('article', { name: 'Assistant' });
  await expect.poll(() => answer.count()).toBe(1);
  await expect.poll(() => answer.locator('.stopped').textContent()).toBe('stopped');
  expect(await page.getByLabel('Assistant, writing').count()).toBe(0);
  await page.getByRole('textbox', { name: 'Message' }).fill('Tell me more.');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect.poll(() => answer.count()).toBe(2);
  expect(await page.getByRole('article', { name: 'You' }).count()).toBe(2);
  expect(await page.locator('[role="log"] img').count()).toBeGreaterThan(0); // the attachment, served by id
  await page.screenshot({ path: path.join(SHOTS, 'chat.png') });
  // a conversation with answers, in both colour schemes
  const found = await axeBothSchemes(page);
  expect({ light: describeViolations(failing(found.light)), dark: describeViolations(failing(found.dark)) }).toEqual({
    light: [],
    dark: [],
  });
});

it('shows the settings with the privacy statement', async () => {
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  await expect.poll(() => page.getByText('Nothing leaves it but the model downloads you start').count()).toBe(1);
  await page.screenshot({ path: path.join(SHOTS, 'settings.png') });
});
