/// <reference lib="dom" />
// Captions, short answers and "Look" in the window end to end, in Chromium against a real engine process with the
// tiny fixture models (CLIP whose colour words are exactly solid pictures' embeddings; the LLaVA pair installed as
// Gemma 3 from the local fake hub, random weights: its words are nonsense, the machinery is real):
// - Library → Describe photos over the folder, with its progress seen (paused and resumed) to the end; a photo's
//   caption in the photo view, edited into "Your edit";
// - Ask each on a search result: a yes/no question answers exactly yes or no in every row, the answers kept as tags;
// - Look: an image set on the page, three labels typed, probabilities that sum to 1 in the order the engine
//   computed (checked against the engine's own `look`), and a caption.
// Screenshots go to test-output/e2e/.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelManager } from '../../electron/engine/models/model-manager.ts';
import { glancePaths } from '../../electron/engine/paths.ts';
import type { FakeHub } from '../fixtures/fake-hub.ts';
import * as img from '../fixtures/images.ts';
import { installTinyClip } from '../fixtures/installed-model.ts';
import { repoRoot } from '../fixtures/repo.ts';
import { type Bridge, startBridge } from './bridge.ts';
import { launchChromium } from './browser.ts';
import { E2E_CHAT_ID, startModelHub, writePhotos } from './fixtures.ts';
import { buildRenderer } from './renderer-build.ts';

const SHOTS = path.join(repoRoot, 'test-output', 'e2e');
const PHOTOS = 4; // writePhotos' red car, green field, blue sea and yellow sun
let tmp: string;
let hub: FakeHub;
let bridge: Bridge;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-e2e-captions-'));
  await mkdir(SHOTS, { recursive: true });
  const home = path.join(tmp, 'home');
  // the tiny CLIP in place of the reviewed build (library.test.ts shows the window refusing the hub's stand-in),
  // and the chat model downloaded as the Models view downloads it (chat.test.ts drives that view)
  await installTinyClip(home);
  hub = await startModelHub(path.join(tmp, 'hub'));
  process.env.GLANCE_HUB_ENDPOINT = hub.url;
  await new ModelManager(glancePaths(home)).download(E2E_CHAT_ID, { endpoint: hub.url });
  bridge = await startBridge({ home, rendererDir: await buildRenderer() });
  browser = await launchChromium();
  page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(bridge.url);
  await page.getByRole('navigation').getByRole('status').filter({ hasText: 'ready' }).waitFor();
  if (errors.length) throw new Error(`the page failed: ${errors.join('; ')}`);
  bridge.pickFolder.next = await writePhotos(path.join(tmp, 'photos'));
  await page.getByRole('button', { name: 'Add a photo folder…' }).click();
  // indexed (Playwright waits on the DOM: expect.poll is for tests only)
  await cells(page)
    .nth(PHOTOS - 1)
    .waitFor({ timeout: 60_000 });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  await hub?.close();
  delete process.env.GLANCE_HUB_ENDPOINT;
  await rm(tmp, { recursive: true, force: true });
});

const cells = (p: Page) => p.locator('[role="grid"] button[data-photo-id]');
const nav = (p: Page, name: string) =>
  p.getByRole('navigation', { name: 'Glance' }).getByRole('button', { name, exact: true });

describe('Library → Describe photos', () => {
  it('describes every photo of the folder with visible progress, paused and resumed on the way', {
    timeout: 180_000,
  }, async () => {
    expect(await cells(page).count()).toBe(PHOTOS);
    const describe = page.getByRole('region', { name: 'Describe photos' });
    const progress = describe.getByRole('group', { name: 'Describing photos' });
    // The tiny model captions a photo faster than a screenshot: freeze the engine once the job has written its
    // first caption (long after its reply to the start), so that the running job is certainly on screen, and ask for
    // a pause while it is frozen; the engine reads the pause as soon as it goes on, before it can finish the folder.
    const pid = bridge.engine.pid!;
    const frozen = new Promise<{ photoId: number; caption?: string }>((resolve) => {
      const first = (e: { photoId: number; caption?: string }) => {
        bridge.events.off('captions.photo', first);
        process.kill(pid, 'SIGSTOP');
        resolve(e);
      };
      bridge.events.on('captions.photo', first);
    });
    try {
      await describe.getByRole('button', { name: 'Describe photos' }).click();
      expect((await frozen).caption?.length).toBeGreaterThan(0);
      await expect.poll(() => progress.getByRole('status').textContent()).toBe('Describing photos');
      await expect.poll(() => progress.textContent()).toMatch(new RegExp(`[0-3] of ${PHOTOS} photos`));
      expect(await progress.textContent()).toContain(`Model: ${E2E_CHAT_ID}`);
      expect(await progress.getByRole('progressbar', { name: 'Describing progress' }).getAttribute('max')).toBe(
        String(PHOTOS),
      );
      await page.screenshot({ path: path.join(SHOTS, 'captions-running.png') });
      // enabled once the page has the start's reply, which the engine sent before its first caption
      await progress.getByRole('button', { name: 'Pause' }).click();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await expect.poll(() => progress.getByRole('status').textContent(), { timeout: 60_000 }).toBe('Paused');
    const paused = await bridge.engine.call('captionsStatus');
    expect(paused).toMatchObject({ state: 'paused', total: PHOTOS });
    expect(paused!.done).toBeLessThan(PHOTOS); // it stopped part way, and stays stopped
    await page.screenshot({ path: path.join(SHOTS, 'captions-paused.png') });
    await progress.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => progress.getByRole('status').textContent(), { timeout: 120_000 }).toBe('Done');
    expect(await progress.textContent()).toContain(`${PHOTOS} of ${PHOTOS} photos`);
    expect(await progress.textContent()).not.toContain('could not be described');
    // the job is over: the form to start another is back
    await describe.getByRole('button', { name: 'Describe photos' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'captions-done.png') });
  });

  it("shows a photo's caption with its model, and keeps a person's edit as theirs", async () => {
    const id = Number(await cells(page).first().getAttribute('data-photo-id'));
    await cells(page).first().click();
    const dialog = page.getByRole('dialog');
    try {
      const caption = dialog.getByRole('region', { name: 'Caption' });
      await expect.poll(() => caption.locator('.by').textContent()).toMatch(new RegExp(`^By ${E2E_CHAT_ID} · `));
      // the caption the engine stored for this photo, shown as it is
      const stored = await bridge.engine.call('libPhoto', { photoId: id });
      expect(path.basename(stored.row.path)).toBe(await dialog.getByRole('heading').first().textContent());
      expect(stored.caption).toMatchObject({ model: E2E_CHAT_ID, edited: false });
      expect(await caption.locator('.text').textContent()).toBe(stored.caption!.text);
      await page.screenshot({ path: path.join(SHOTS, 'caption-photo.png') });

      await caption.getByRole('button', { name: 'Edit caption' }).click();
      await caption.getByRole('textbox', { name: 'Caption' }).fill('A red car parked by the harbour');
      await caption.getByRole('button', { name: 'Save caption' }).click();
      await expect.poll(() => caption.locator('.by').textContent()).toMatch(/^Your edit · /);
      expect(await caption.locator('.text').textContent()).toBe('A red car parked by the harbour');
      expect((await bridge.engine.call('libPhoto', { photoId: id })).caption).toMatchObject({
        text: 'A red car parked by the harbour',
        model: 'person',
        edited: true,
      });
      await page.screenshot({ path: path.join(SHOTS, 'caption-edited.png') });
    } finally {
      await dialog.getByRole('button', { name: 'Close' }).click();
      await dialog.waitFor({ state: 'detached' });
    }
  });
});

describe('Library → Ask each', () => {
  it('answers a yes/no question for every photo of a search result with exactly yes or no, kept as tags', {
    timeout: 180_000,
  }, async () => {
    await page.getByRole('group', { name: 'Show' }).getByRole('button', { name: 'Ask each' }).click();
    const box = page.getByRole('searchbox', { name: 'Search photos' });
    await box.fill('a photo of something red');
    await box.press('Enter');
    const ask = page.getByRole('region', { name: 'Ask each photo' });
    const rows = ask.locator('tbody tr');
    // The rows follow the search result, in the engine's fused order: the photo whose caption (the person's edit
    // above, "A red car parked by the harbour") holds the query's words first, then the one CLIP finds red.
    const hits = await bridge.engine.call('libSearch', { text: 'a photo of something red', limit: PHOTOS });
    const names = hits.map((h) => path.basename(h.path));
    expect((await bridge.engine.call('libPhoto', { photoId: hits[0]!.id })).caption).toMatchObject({ edited: true });
    expect(names[1]).toBe('red-car.jpg');
    await expect
      .poll(async () => (await rows.getByRole('rowheader').allTextContents()).map((t) => t.trim()), {
        timeout: 20_000,
      })
      .toEqual(names);
    expect(await rows.count()).toBe(PHOTOS);
    await ask.getByRole('textbox', { name: 'Question' }).fill('Is this a red car?');
    await ask.getByRole('button', { name: 'Ask each' }).click();
    await expect.poll(() => ask.locator('tbody tr[data-status="answered"]').count(), { timeout: 120_000 }).toBe(PHOTOS);
    const answers = await ask.locator('tbody td.answer').allTextContents();
    expect(answers).toHaveLength(PHOTOS);
    for (const a of answers) expect(['yes', 'no']).toContain(a.trim());
    expect(await ask.getByRole('status').textContent()).toBe(`${PHOTOS} of ${PHOTOS} answered`);
    await page.screenshot({ path: path.join(SHOTS, 'ask-each.png') });

    // kept as tags, under the name the question proposes
    const keep = ask.getByRole('form', { name: 'Keep the answers as tags' });
    expect(await keep.getByRole('textbox', { name: 'Keep as tag' }).inputValue()).toBe('red car');
    await keep.getByRole('button', { name: 'Tag every answer' }).click();
    await expect.poll(() => ask.getByText(`Tagged ${PHOTOS} photos.`).count()).toBe(1);
    const first = `red car: ${answers[0]!.trim()}`;
    expect(await rows.first().locator('td.answer').textContent()).toContain(`tagged “${first}”`);
    await page.screenshot({ path: path.join(SHOTS, 'ask-each-tagged.png') });
    // the tag is the photo's own now: the photo view lists it
    await rows.first().getByRole('button').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: `Remove tag ${first}` }).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
  });
});

describe('Look', () => {
  it('gives probabilities over three typed labels that sum to 1, in the order the engine computed, and a caption', {
    timeout: 180_000,
  }, async () => {
    await nav(page, 'Look').click();
    const view = page.getByRole('region', { name: 'Look' });
    const picture = await img.writeSolid(path.join(tmp, 'dropped', 'sea.png'), [10, 20, 220], 120, 90);
    await view.getByLabel('Image file').setInputFiles(picture);
    await view.getByRole('img', { name: 'sea.png' }).waitFor();
    const labels = ['a photo of something red', 'a photo of something blue', 'a photo of something green'];
    for (const l of labels) {
      await view.getByRole('textbox', { name: 'Add labels' }).fill(l);
      await view.getByRole('button', { name: 'Add', exact: true }).click();
    }
    expect(await view.getByRole('list', { name: 'Your labels' }).locator('li > span').allTextContents()).toEqual(
      labels,
    );
    const chart = view.getByRole('list', { name: 'Label probabilities, most probable first' });
    await expect.poll(() => chart.getByRole('listitem').count(), { timeout: 30_000 }).toBe(3);
    await expect.poll(() => chart.getAttribute('aria-busy')).not.toBe('true');
    const shown = await chart.getByRole('listitem').evaluateAll((items) =>
      items.map((li) => ({
        label: li.querySelector('.label')?.textContent ?? '',
        percent: Number((li.querySelector('.value')?.textContent ?? '').replace('%', '')),
      })),
    );
    // the page's numbers (percent, one decimal): they sum to 100, each off by at most half a tenth
    expect(Math.abs(shown.reduce((s, r) => s + r.percent, 0) - 100)).toBeLessThanOrEqual(0.05 * shown.length);
    // the engine's own answer for the same bytes and labels: the chart is its order, most probable first
    const engine = await bridge.engine.call('look', { image: new Uint8Array(await readFile(picture)), labels });
    expect(engine.labels.map((l) => l.label)).toEqual(labels);
    expect(engine.labels.reduce((s, l) => s + l.probability, 0)).toBeCloseTo(1, 6);
    const ranked = engine.labels
      .map((l, i) => ({ ...l, i }))
      .sort((a, b) => b.probability - a.probability || a.i - b.i);
    expect(shown.map((r) => r.label)).toEqual(ranked.map((l) => l.label));
    expect(shown.map((r) => r.percent)).toEqual(ranked.map((l) => Number((l.probability * 100).toFixed(1))));
    // a blue picture: the tiny CLIP's "blue" is exactly its embedding
    expect(shown[0]!.label).toBe('a photo of something blue');
    await page.screenshot({ path: path.join(SHOTS, 'look.png') });

    const caption = view.getByRole('region', { name: 'Caption' });
    await caption.getByRole('button', { name: 'Describe this image' }).click();
    await expect.poll(() => caption.locator('.caption').count(), { timeout: 60_000 }).toBe(1);
    expect((await caption.locator('.caption').textContent())!.trim().length).toBeGreaterThan(0);
    // a short answer too: a yes/no question answers exactly yes or no
    const questions = view.getByRole('region', { name: 'Questions' });
    await questions.getByRole('textbox', { name: 'Question about the image' }).fill('Is it blue?');
    await questions.getByRole('button', { name: 'Ask' }).click();
    await expect.poll(() => questions.locator('strong.a').count(), { timeout: 60_000 }).toBe(1);
    expect(['yes', 'no']).toContain(await questions.locator('strong.a').textContent());
    // nothing of it went into the library
    expect(await bridge.engine.call('libSearch', { limit: 100 })).toHaveLength(PHOTOS);
    await page.screenshot({ path: path.join(SHOTS, 'look-caption.png') });
  });
});
