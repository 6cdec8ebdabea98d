// The IPC contract end to end, minus Electron: every channel through the real router and backend to a real engine
// process (tiny CLIP and LLaVA models), plus refusals (bad arguments, unknown channels, foreign senders) and a fuzz
// of every channel. Electron's ipcMain is replaced by a fake typed against electron.d.ts.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import sharp from 'sharp';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CaptionProgress } from '../../electron/engine/captions/caption-job.ts';
import { ModelManager } from '../../electron/engine/models/model-manager.ts';
import { glancePaths } from '../../electron/engine/paths.ts';
import { EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import { CHANNELS, type Channel, wire } from '../../electron/ipc/contract.ts';
import type { Result } from '../../electron/ipc/result.ts';
import { createBackend } from '../../electron/main/backend.ts';
import { type CaptureFlow, createCaptureFlow } from '../../electron/main/capture/flow.ts';
import { dispatch, type Handlers, registerRouter } from '../../electron/main/router.ts';
import { CHAT_CATALOG } from '../../native-models/catalog.ts';
import { type FakeHub, startFakeHub } from '../fixtures/fake-hub.ts';
import * as img from '../fixtures/images.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';
import { writeTinyLlava } from '../fixtures/tiny-llava.ts';

type Listener = (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown;
function fakeIpc() {
  const handlers = new Map<string, Listener>();
  const ipc: Pick<IpcMain, 'handle' | 'removeHandler'> = {
    handle: (channel, listener) => void handlers.set(channel, listener as Listener),
    removeHandler: (channel) => void handlers.delete(channel),
  };
  return { ipc, handlers };
}
const APP = 'app://glance';
const event = (url = APP) => ({ senderFrame: { url } }) as unknown as IpcMainInvokeEvent;
const trusted = (e: IpcMainInvokeEvent) => e.senderFrame?.url === APP;

/** A port nothing listens on now: the system's pick for a server opened and closed at once. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

let tmp: string;
let engine: EngineSupervisor;
let hub: FakeHub;
let call: <C extends Channel>(c: C, arg?: unknown, url?: string) => Promise<Result<unknown>>;
let capture: CaptureFlow;
const windows: string[] = [];
/** Resolves when the capture flow next opens its overlay (capture.start answers before the screen is grabbed). */
let overlayOpened: Promise<void> = new Promise(() => {});
let openedOverlay = () => {};
const expectOverlay = () => {
  overlayOpened = new Promise((resolve) => {
    openedOverlay = resolve;
  });
};
const shownChats: number[] = [];
let photos: string;
/** Every captions.progress event the engine sent, and a wait for the next one that passes a test. */
const captionEvents: CaptionProgress[] = [];
let captionWaiters: { test: (p: CaptionProgress) => boolean; resolve: (p: CaptionProgress) => void }[] = [];
const captionProgress = (test: (p: CaptionProgress) => boolean) =>
  new Promise<CaptionProgress>((resolve) => {
    const seen = captionEvents.find(test);
    if (seen) resolve(seen);
    else captionWaiters.push({ test, resolve });
  });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-ipc-'));
  const home = path.join(tmp, 'home');
  const paths = glancePaths(home);
  await writeTinyClip(path.join(paths.models, 'clip-vit-base-patch32'));
  // a chat model installed the way `models download` installs it: from the (fake) hub, with its manifest
  const tiny = await writeTinyLlava(path.join(tmp, 'llava'));
  const entry = CHAT_CATALOG.find((e) => e.id === 'gemma-3-4b')!;
  hub = await startFakeHub([
    { repo: entry.repo, file: entry.model.file, data: await readFile(tiny.model), lfs: true },
    { repo: entry.repo, file: entry.mmproj.file, data: await readFile(tiny.mmproj), lfs: true },
  ]);
  await new ModelManager(paths).download('gemma-3-4b', { endpoint: hub.url });
  photos = path.join(tmp, 'photos');
  await mkdir(photos);
  await img.writeSolid(path.join(photos, 'red.png'), [230, 10, 10], 60, 40);
  await img.writeSolid(path.join(photos, 'blue.png'), [10, 10, 230], 60, 40);
  process.env.GLANCE_HUB_ENDPOINT = hub.url; // inherited by the engine process
  engine = new EngineSupervisor({
    home,
    events: {
      captionsProgress: (p) => {
        captionEvents.push(p);
        const ready = captionWaiters.filter((w) => w.test(p));
        captionWaiters = captionWaiters.filter((w) => !w.test(p));
        for (const w of ready) w.resolve(p);
      },
    },
  });
  await engine.start();
  // screenshot-and-ask with a fake 400x300 display at scale 2: left half red, right half blue
  capture = createCaptureFlow({
    engine,
    platform: 'linux',
    grab: async () => {
      const display = {
        id: 7,
        bounds: { x: -400, y: 0, width: 400, height: 300 },
        workArea: { x: -400, y: 0, width: 400, height: 280 },
        scaleFactor: 2,
      };
      const png = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#0a0ae6' } })
        .composite([
          { input: { create: { width: 400, height: 600, channels: 3, background: '#e60a0a' } }, left: 0, top: 0 },
        ])
        .png()
        .toBuffer();
      return { png: new Uint8Array(png), width: 800, height: 600, display };
    },
    openOverlay: () => {
      windows.push('overlay');
      openedOverlay();
    },
    closeOverlay: () => void windows.push('-overlay'),
    openAskWindow: () => void windows.push('ask'),
    closeAskWindow: () => void windows.push('-ask'),
    showChat: (id) => void shownChats.push(id),
  });
  const backend = createBackend({ engine, pickFolder: async () => photos, capture, dataFolder: home });
  const { ipc, handlers } = fakeIpc();
  registerRouter(ipc, backend.handlers, trusted);
  expect([...handlers.keys()].sort()).toEqual(
    Object.keys(CHANNELS)
      .map((c) => wire(c as Channel))
      .sort(),
  );
  call = async (c, arg, url) => (await handlers.get(wire(c))!(event(url), arg)) as Result<unknown>;
});

afterAll(async () => {
  await engine?.stop();
  await hub?.close();
  delete process.env.GLANCE_HUB_ENDPOINT;
  await rm(tmp, { recursive: true, force: true });
});

describe('every channel reaches the engine and returns its result', () => {
  // A whole session against a real engine (index, chat, downloads, capture): about a minute on a loaded 2-core
  // machine, so more than the default 60 s; every step waits on its answer or event, none on a clock.
  it('in the order a person would use them', { timeout: 240_000 }, async () => {
    const seen = new Set<Channel>();
    const okCall = async <T>(c: Channel, arg?: unknown): Promise<T> => {
      const r = await call(c, arg);
      expect(r, `${c} → ${JSON.stringify(r).slice(0, 300)}`).toMatchObject({ ok: true });
      seen.add(c);
      return (r as { value: T }).value;
    };
    expect(await okCall('engine.status')).toMatchObject({ state: 'ready' });
    expect(await okCall('library.folders')).toEqual([]);
    const folder = await okCall<{ id: number; path: string }>('library.addFolder');
    expect(folder.path).toBe(photos);
    expect(await okCall('library.index')).toMatchObject({ phase: 'done', indexed: 2 });
    const hits = await okCall<{ id: number; name: string; thumbnail: string }[]>('library.search', {
      text: 'a photo of something red',
      limit: 2,
    });
    expect(hits[0]).toMatchObject({ name: 'red.png', thumbnail: `glance://thumb/${hits[0]!.id}` });
    expect(JSON.stringify(hits)).not.toContain(photos); // no paths in search results
    const red = hits[0]!.id;
    expect(await okCall('library.search', { likePhotoId: red, folderId: folder.id })).toHaveLength(1);
    expect(await okCall('library.photo', { photoId: red })).toMatchObject({ name: 'red.png' });
    await okCall('tags.add', { photoId: red, tag: 'holiday' });
    await okCall('tags.remove', { photoId: red, tag: 'red' });
    expect(await okCall('tags.rename', { from: 'holiday', to: 'vacation' })).toBe(true);
    await okCall('tags.setThreshold', { value: 0.5 });
    expect(await okCall('tags.exportXmp', { folderId: folder.id })).toMatchObject({ photos: 2 });
    // the vocabulary: a tiny one of colours, re-tagged from stored embeddings, then back to the default
    const colours = {
      neutral: ['a photo.', 'a picture.'],
      categories: [
        {
          name: 'Colours',
          labels: [
            { name: 'red', prompts: ['a photo of something red.'] },
            { name: 'blue', prompts: ['a photo of something blue.', 'a blue picture.'], threshold: 0.2 },
          ],
        },
      ],
    };
    expect(await okCall('tags.setVocabulary', colours)).toEqual({ labels: 2, retagged: 2 });
    expect(await okCall('tags.vocabulary')).toEqual({ ...colours, custom: true });
    const reset = await okCall<{ labels: number; retagged: number }>('tags.resetVocabulary');
    expect(reset.retagged).toBe(2);
    expect(reset.labels).toBeGreaterThan(2);
    const shipped = await okCall<{ custom: boolean; categories: unknown[] }>('tags.vocabulary');
    expect(shipped.custom).toBe(false);
    expect(shipped.categories.length).toBeGreaterThan(1);
    expect(await okCall('library.errors')).toEqual([]);
    expect(await okCall('library.duplicates', { threshold: 0.99 })).toEqual([]);
    expect(await okCall('library.cancelDuplicates')).toBe(false); // none running (duplicates-engine.test.ts cancels one)
    await okCall('library.pause');
    await okCall('library.resume');
    await okCall('library.cancel');
    // captions: "Describe photos" over the folder with the installed chat model (the tiny pair, random weights: its
    // words are nonsense, the job, the storage and the channels are real), paused and resumed on the way
    expect(await okCall('captions.status')).toBeNull(); // none ran since the engine started
    const started = await okCall<{ state: string; total: number; model: string }>('captions.start', {
      folderIds: [folder.id],
    });
    expect(started).toMatchObject({ state: 'running', total: 2, model: 'gemma-3-4b' });
    expect(await okCall('captions.pause')).toBeNull();
    // The pause reaches the job while it loads the model or writes the first caption, unless the whole job ran in
    // the meantime: either way it never goes on by itself past a pause.
    const paused = await okCall<{ state: string; done: number; total: number }>('captions.status');
    expect(['paused', 'done']).toContain(paused.state);
    if (paused.state === 'paused') expect(paused.done).toBeLessThan(2);
    expect(await okCall('captions.resume')).toBeNull();
    const finished = await captionProgress((p) => p.state !== 'running' && p.state !== 'paused');
    expect(finished).toMatchObject({ state: 'done', done: 2, total: 2, failed: 0 });
    expect(await okCall('captions.status')).toMatchObject({ state: 'done', done: 2, current: null });
    expect(await okCall('captions.cancel')).toBeNull(); // nothing running: a no-op, not an error
    const described = await okCall<{ caption: { text: string; model: string; edited: boolean } | null }>(
      'library.photo',
      { photoId: red },
    );
    expect(described.caption).toMatchObject({ model: 'gemma-3-4b', edited: false });
    expect(described.caption!.text.length).toBeGreaterThan(0);
    // a person's edit wins, is searchable by its words, and '' gives the model's caption back
    expect(await okCall('captions.set', { photoId: red, text: '  A lighthouse at dusk  ' })).toMatchObject({
      text: 'A lighthouse at dusk',
      model: 'person',
      edited: true,
    });
    expect(await okCall('library.photo', { photoId: red })).toMatchObject({
      caption: { text: 'A lighthouse at dusk', edited: true },
    });
    const byCaption = await okCall<{ id: number }[]>('library.search', { text: 'lighthouses', limit: 2 });
    expect(byCaption[0]!.id).toBe(red); // porter stemming: "lighthouses" finds "lighthouse"
    expect(await okCall('captions.set', { photoId: red, text: '' })).toEqual(described.caption);
    // short answers, by library photo and by bytes: a yes/no question answers exactly yes or no, a count in digits
    const blueBytes = new Uint8Array(await readFile(path.join(photos, 'blue.png')));
    const yesNo = await okCall<{ answer: string; kind: string }>('ask.short', {
      image: { photoId: red },
      question: 'Is this photo red?',
    });
    expect(yesNo.kind).toBe('yes-no');
    expect(['yes', 'no']).toContain(yesNo.answer);
    const count = await okCall<{ answer: string; kind: string }>('ask.short', {
      image: { bytes: blueBytes },
      question: 'How many squares are there?',
    });
    expect(count.kind).toBe('number');
    expect(count.answer).toMatch(/^\d+$/);
    // Look: an image that is no library photo, its caption, and zero-shot probabilities over typed labels
    const looked = await okCall<{ text: string }>('look.caption', { image: { bytes: blueBytes } });
    expect(looked.text.trim().length).toBeGreaterThan(0);
    const labels = ['a photo of something red.', 'a photo of something blue.', 'a photo of something green.'];
    const classified = await okCall<{
      tags: { name: string; score: number; margin: number }[];
      labels: { label: string; probability: number }[];
    }>('look.classify', { image: { bytes: blueBytes }, labels });
    expect(classified.labels.map((l) => l.label)).toEqual(labels); // the order asked for
    expect(classified.labels.reduce((sum, l) => sum + l.probability, 0)).toBeCloseTo(1, 5);
    for (const l of classified.labels) expect(l.probability).toBeGreaterThanOrEqual(0);
    // the tiny CLIP's "blue" is exactly a blue picture's embedding: blue wins
    const top = [...classified.labels].sort((a, b) => b.probability - a.probability)[0]!;
    expect(top.label).toBe('a photo of something blue.');
    expect(classified.tags.length).toBeGreaterThan(0);
    for (const t of classified.tags) expect(Number.isFinite(t.margin)).toBe(true);
    // chat with the installed catalog model, an image by bytes and one from the library
    const conv = await okCall<{ id: number }>('chat.create', { systemPrompt: 'Be brief.' });
    const bytes = new Uint8Array(await readFile(path.join(photos, 'blue.png')));
    const m = await okCall<{ role: string; images: { url: string }[] }>('chat.send', {
      conversationId: conv.id,
      text: 'What is this?',
      images: [{ bytes }, { photoId: red }],
    });
    expect(m.role).toBe('assistant');
    const got = await okCall<{ messages: { images: { url: string }[] }[] }>('chat.get', { conversationId: conv.id });
    expect(got.messages[0]!.images.map((i) => i.url)).toEqual([
      expect.stringMatching(/^glance:\/\/attachment\/[0-9a-f]{64}$/),
      expect.stringMatching(/^glance:\/\/attachment\/[0-9a-f]{64}$/),
    ]);
    expect(await okCall('chat.stop', { conversationId: conv.id })).toBe(false);
    await okCall('chat.regenerate', { conversationId: conv.id });
    const first = (got.messages[0] as unknown as { id: number }).id;
    await okCall('chat.edit', { conversationId: conv.id, messageId: first, text: 'And now?' });
    expect(await okCall('chat.list')).toHaveLength(1);
    expect(await okCall('engine.runtime')).toMatchObject({
      backends: expect.arrayContaining(['cpu']),
      chat: { backend: 'cpu', gpuLayers: 0, chatTemplate: 'vicuna' },
    });
    await okCall('chat.delete', { conversationId: conv.id });
    // models
    const list = await okCall<{ id: string; kind: string; installed: boolean; languages: string[] }[]>('models.list');
    expect(list.find((x) => x.id === 'gemma-3-4b')).toMatchObject({ kind: 'chat', installed: true, languages: [] });
    // the multilingual text model is listed, not installed here, with the languages it reads
    expect(list.find((x) => x.id === 'clip-vit-b-32-multilingual')).toMatchObject({
      kind: 'text',
      installed: false,
      languages: expect.arrayContaining(['de', 'en', 'es', 'fr']),
    });
    expect(list.filter((x) => x.kind !== 'text').every((x) => x.languages.length === 0)).toBe(true);
    expect(await okCall('models.verify', { id: 'gemma-3-4b' })).toEqual([
      expect.objectContaining({ ok: true }),
      expect.objectContaining({ ok: true }),
    ]);
    expect(await okCall('models.cancel', { id: 'gemma-3-4b' })).toBe(false);
    await okCall('models.remove', { id: 'gemma-3-4b' });
    await okCall('models.download', { id: 'gemma-3-4b' });
    // settings and capture
    expect(await okCall('settings.get')).toMatchObject({ gpuLayers: 'auto', tagThreshold: 0.5 });
    expect(await okCall('settings.set', { threads: 2, chatModel: 'gemma-3-4b' })).toMatchObject({
      threads: 2,
      captionNewPhotos: false, // off by default: slow on a CPU
    });
    // with the setting on, a photo an index run adds is described after that run
    expect(await okCall('settings.set', { captionNewPhotos: true })).toMatchObject({
      threads: 2,
      chatModel: 'gemma-3-4b',
      captionNewPhotos: true,
    });
    expect(await okCall('settings.get')).toMatchObject({ captionNewPhotos: true });
    await img.writeSolid(path.join(photos, 'green.png'), [10, 230, 10], 60, 40);
    expect(await okCall('library.index')).toMatchObject({ phase: 'done', indexed: 1 });
    // only the new photo: red and blue have their captions by this model already
    const newOnes = await captionProgress((p) => p.total === 1 && p.state !== 'running' && p.state !== 'paused');
    expect(newOnes).toMatchObject({ state: 'done', done: 1, failed: 0, model: 'gemma-3-4b' });
    const [green] = await okCall<{ id: number; name: string }[]>('library.search', {
      text: 'a photo of something green',
      limit: 1,
    });
    expect(green!.name).toBe('green.png');
    expect(await okCall('library.photo', { photoId: green!.id })).toMatchObject({
      caption: { model: 'gemma-3-4b', edited: false, text: expect.stringMatching(/\S/) },
    });
    await okCall('settings.set', { captionNewPhotos: false });
    // the search language: automatic by default, saved and read back, a language code is not one of its values
    expect(await okCall('settings.get')).toMatchObject({ searchLanguage: 'auto' });
    expect(await okCall('settings.set', { searchLanguage: 'multi' })).toMatchObject({ searchLanguage: 'multi' });
    expect(await okCall('settings.get')).toMatchObject({ searchLanguage: 'multi', chatModel: 'gemma-3-4b' });
    expect(await call('settings.set', { searchLanguage: 'fr' })).toMatchObject({
      ok: false,
      error: { code: 'invalid-argument' },
    });
    expect(await okCall('settings.get')).toMatchObject({ searchLanguage: 'multi' });
    expect(await okCall('settings.set', { searchLanguage: 'auto' })).toMatchObject({ searchLanguage: 'auto' });
    // the local API: off by default; on, it runs on the port chosen with a token; off again, it stops
    expect(await okCall('settings.get')).toMatchObject({ localApi: false, localApiPort: 8421, localApiOrigins: [] });
    expect(await okCall('api.status')).toMatchObject({
      enabled: false,
      running: false,
      url: null,
      port: null,
      error: null,
      tokenFile: expect.any(String),
    });
    const apiPort = await freePort();
    expect(await okCall('settings.set', { localApi: true, localApiPort: apiPort })).toMatchObject({
      localApi: true,
      localApiPort: apiPort,
      localApiOrigins: [],
    });
    await expect
      .poll(async () => (await okCall<{ running: boolean; error: string | null }>('api.status')).running, {
        timeout: 30_000,
      })
      .toBe(true);
    const running = await okCall<{ url: string; port: number; token: string; error: string | null }>('api.status');
    expect(running).toMatchObject({ enabled: true, running: true, port: apiPort, error: null });
    expect(running.url).toBe(`http://127.0.0.1:${apiPort}/v1`);
    expect(running.token.length).toBeGreaterThanOrEqual(32);
    const models = await fetch(`${running.url}/models`, { headers: { Authorization: `Bearer ${running.token}` } });
    expect(models.status).toBe(200);
    expect(await models.json()).toMatchObject({ object: 'list' });
    expect((await fetch(`${running.url}/models`)).status).toBe(401); // no token, no answer
    expect(await okCall('settings.set', { localApi: false })).toMatchObject({ localApi: false });
    await expect
      .poll(async () => (await okCall<{ running: boolean }>('api.status')).running, { timeout: 30_000 })
      .toBe(false);
    expect(await okCall('api.status')).toMatchObject({ enabled: false, running: false, url: null });
    // screenshot-and-ask: the whole flow through the channels, the answer from the tiny model
    expectOverlay();
    await okCall('capture.start');
    await overlayOpened;
    expect(capture.phase).toBe('overlay');
    const frame = await okCall<{ imageUrl: string; width: number; scaleFactor: number } | null>('capture.frame');
    expect(frame).toMatchObject({
      width: 800,
      scaleFactor: 2,
      imageUrl: expect.stringMatching(/^glance:\/\/capture\/[0-9a-f]{32}$/),
    });
    await okCall('capture.select', { rect: { x: 10, y: 10, width: 100, height: 50 } });
    const ctx = await okCall<{ width: number; height: number; model: string | null; conversationId: number | null }>(
      'ask.context',
    );
    expect(ctx).toMatchObject({ width: 200, height: 100, model: 'gemma-3-4b', conversationId: null });
    const answer = await okCall<{ role: string }>('ask.send', { text: 'What colour is this?' });
    expect(answer.role).toBe('assistant');
    const moved = await okCall<{ conversationId: number }>('ask.continueInChat');
    expect(shownChats).toEqual([moved.conversationId]);
    const asked = await okCall<{ messages: { role: string; images: unknown[] }[] }>('chat.get', moved);
    expect(asked.messages.map((m) => [m.role, m.images.length])).toEqual([
      ['user', 1],
      ['assistant', 0],
    ]);
    expectOverlay();
    await okCall('capture.start');
    await overlayOpened;
    await okCall('capture.cancel');
    expect(await okCall('capture.frame')).toBeNull();
    expect(windows).toEqual(['overlay', '-overlay', 'ask', '-ask', 'overlay', '-overlay']);
    expect(await okCall('library.removeFolder', { folderId: folder.id })).toBe(3);
    expect([...seen].sort()).toEqual(Object.keys(CHANNELS).sort());
  });
});

describe('refusals', () => {
  it('an invalid argument, on every channel, is refused with what is wrong', async () => {
    for (const c of Object.keys(CHANNELS) as Channel[]) {
      const r = await call(c, { definitelyNotAField: '../../etc/passwd' });
      expect(r, c).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
      expect((r as { error: { message: string } }).error.message).toContain(c);
    }
  });

  it('a local API port or web origin the engine could not use is refused by the contract', async () => {
    const before = await call('settings.get');
    for (const arg of [
      { localApiPort: 80 },
      { localApiPort: 65536 },
      { localApiPort: 8421.5 },
      { localApi: 'yes' },
      { localApiOrigins: ['http://localhost:3000/app'] },
      { localApiOrigins: ['localhost:3000'] },
      { localApiOrigins: ['ftp://example.com'] },
      { localApiOrigins: Array.from({ length: 21 }, (_, i) => `http://localhost:${3000 + i}`) },
      { searchLanguage: 'fr' },
      { searchLanguage: null },
    ]) {
      const r = await call('settings.set', arg);
      expect(r, JSON.stringify(arg)).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    }
    expect(await call('settings.get')).toEqual(before); // nothing reached the engine
  });

  it('a foreign sender is refused on every channel', async () => {
    for (const c of Object.keys(CHANNELS) as Channel[]) {
      expect(await call(c, undefined, 'https://evil.example/')).toMatchObject({
        ok: false,
        error: { code: 'forbidden' },
      });
    }
  });

  it('an unknown channel is refused, and reaches no handler even when one goes by that name', async () => {
    // every name, contract or not, has a handler here: only the router's own check can stop the call
    const spy = vi.fn(() => 'reached');
    const everything = new Proxy({}, { get: () => spy }) as Handlers;
    const r = await dispatch(everything, 'fs.readFile', { path: '/etc/passwd' });
    expect(r).toEqual({ ok: false, error: { code: 'unknown-channel', message: 'there is no channel "fs.readFile"' } });
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(await dispatch(everything, name, {}), name).toMatchObject({
        ok: false,
        error: { code: 'unknown-channel' },
      });
    }
    expect(spy).not.toHaveBeenCalled();
    // the spy is wired: a contract channel does reach it
    expect(await dispatch(everything, 'engine.status', undefined)).toEqual({ ok: true, value: 'reached' });
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('errors from the engine come back as results with their code, not stack traces', async () => {
    const r = await call('library.photo', { photoId: 999999 });
    expect(r).toEqual({
      ok: false,
      error: { code: 'photo-not-indexed', message: 'no photo with id 999999 in the library' },
    });
  });
});

describe('fuzz', () => {
  it('random payloads on every channel never crash and never reach a handler unvalidated', async () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const atoms = [
      () => '../../../../etc/passwd',
      () => '/etc/shadow',
      () => 'file:///etc/hosts',
      () => Math.floor(rand() * 1e6),
      () => -1,
      () => Number.NaN,
      () => 1e308,
      () => null,
      () => undefined,
      () => true,
      () => new Uint8Array(Math.floor(rand() * 8)),
      () => 'x'.repeat(Math.floor(rand() * 40000)),
      () => ({ __proto__: { polluted: true } }),
    ];
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 2 || r < 0.5) return atoms[Math.floor(rand() * atoms.length)]!();
      if (r < 0.75) return Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1));
      const keys = [
        'id',
        'photoId',
        'folderId',
        'conversationId',
        'text',
        'path',
        'tag',
        'images',
        'bytes',
        'value',
        'threshold',
        'model',
        'from',
        'to',
      ];
      return Object.fromEntries(
        Array.from({ length: Math.floor(rand() * 4) }, () => [
          keys[Math.floor(rand() * keys.length)]!,
          value(depth + 1),
        ]),
      );
    };
    const calls: { channel: Channel; arg: unknown }[] = [];
    const spies = Object.fromEntries(
      (Object.keys(CHANNELS) as Channel[]).map((c) => [
        c,
        (arg: unknown) => {
          calls.push({ channel: c, arg });
          return null;
        },
      ]),
    ) as unknown as Handlers;
    for (const c of Object.keys(CHANNELS) as Channel[]) {
      for (let i = 0; i < 60; i++) {
        const arg = value(0);
        const r = await dispatch(spies, c, arg);
        expect(typeof r.ok).toBe('boolean');
        if (r.ok) expect(v.safeParse(CHANNELS[c].schema, arg).success).toBe(true);
      }
    }
    // the loop below proves something only if some payloads got through
    expect(new Set(calls.map((c) => c.channel)).size).toBeGreaterThan(1);
    for (const { channel, arg } of calls) {
      expect(v.safeParse(CHANNELS[channel].schema, arg).success).toBe(true);
      // the contract has no path field: whatever got through, no handler was handed a path to open
      expect(JSON.stringify(arg ?? null)).not.toMatch(/"path"/);
    }
  });
});
