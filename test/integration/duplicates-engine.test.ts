// Finding duplicates as the window does it: the real engine process (tiny CLIP) with a library of thousands of
// photos, through the RPC and through the real router and backend (Electron's ipcMain replaced by a fake typed
// against electron.d.ts). Progress comes as events, a cancel stops the search part way with code 'cancelled', and a
// newer search replaces the one running. Every wait is on an answer or an event, none on a clock.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clipOptions, DEFAULT_CLIP } from '../../electron/engine/clip-choice.ts';
import { openDatabase } from '../../electron/engine/db/database.ts';
import { modelIdFor } from '../../electron/engine/library/library.ts';
import { LibraryStore } from '../../electron/engine/library/store.ts';
import { glancePaths } from '../../electron/engine/paths.ts';
import { EngineError, EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import { type Channel, wire } from '../../electron/ipc/contract.ts';
import type { Result } from '../../electron/ipc/result.ts';
import { createBackend } from '../../electron/main/backend.ts';
import type { CaptureFlowApi } from '../../electron/main/capture/flow-api.ts';
import { registerRouter } from '../../electron/main/router.ts';
import * as img from '../fixtures/images.ts';
import { normalizeAt, seededFloats } from '../fixtures/random.ts';
import { putSyntheticPhoto } from '../fixtures/synthetic-photos.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

/** Photo rows added straight to the database (random vectors), on top of the three indexed files. */
const EXTRA = 20_000;
/** Of those, every PLANT-th row is an exact copy of the row before it: EXTRA / PLANT groups of two. */
const PLANT = 500;
const GROUPS = EXTRA / PLANT;
const CANCELLED = { code: 'cancelled', message: 'finding duplicates was cancelled' };

type Progress = { done: number; total: number };
let tmp: string;
let engine: EngineSupervisor;
let events: Progress[] = [];
let waiters: ((p: Progress) => void)[] = [];
let call: (c: Channel, arg?: unknown, url?: string) => Promise<Result<unknown>>;

/** Resolves at the next duplicates progress event: call it before the request that makes it. */
function nextProgress(): Promise<Progress> {
  return new Promise((resolve) => waiters.push(resolve));
}

const APP = 'app://glance';
type Listener = (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-dups-'));
  const home = path.join(tmp, 'home');
  const paths = glancePaths(home);
  await writeTinyClip(path.join(paths.models, 'clip-vit-base-patch32'));
  const photos = path.join(tmp, 'photos');
  await img.writeSolid(path.join(photos, 'red.png'), [230, 20, 20], 60, 40);
  await img.writeSolid(path.join(photos, 'green.png'), [20, 200, 30], 60, 40);
  await img.writeSolid(path.join(photos, 'blue.png'), [10, 20, 220], 60, 40);
  engine = new EngineSupervisor({
    home,
    events: {
      duplicatesProgress: (p) => {
        events.push(p);
        const ready = waiters;
        waiters = [];
        for (const w of ready) w(p);
      },
    },
  });
  await engine.start();
  await engine.call('libAddFolder', { path: photos });
  expect(await engine.call('libIndex')).toMatchObject({ phase: 'done', indexed: 3 });
  await engine.stop();

  // Thousands more rows, written while the engine is stopped: its vector index is rebuilt from SQLite at the next
  // start (the stamp's generation changed). Random unit vectors are far apart; the planted copies are not.
  const db = openDatabase(paths.db);
  try {
    const store = new LibraryStore(db);
    const clip = clipOptions(paths, DEFAULT_CLIP);
    const modelId = modelIdFor(clip.modelDir, clip.variant);
    const folder = store.folders()[0]!;
    const dim = store.embeddingDim(modelId)!;
    expect(dim).toBeGreaterThan(4);
    const { gauss } = seededFloats(11);
    let v: Float32Array = new Float32Array(dim);
    db.transaction(() => {
      for (let i = 0; i < EXTRA; i++) {
        if (i % PLANT !== PLANT - 1) v = normalizeAt(Float32Array.from({ length: dim }, gauss));
        putSyntheticPhoto(store, {
          dir: photos,
          folderId: folder.id,
          modelId,
          i,
          vector: v,
          mtimeMs: Date.UTC(2018, 0, 1) + i * 60_000,
        });
      }
    })();
  } finally {
    db.close();
  }
  await engine.start();

  // The window's path: the router (sender check, argument validation) and the backend, over a typed ipcMain fake.
  const handlers = new Map<string, Listener>();
  const ipc: Pick<IpcMain, 'handle' | 'removeHandler'> = {
    handle: (channel, listener) => void handlers.set(channel, listener as Listener),
    removeHandler: (channel) => void handlers.delete(channel),
  };
  const backend = createBackend({
    engine,
    pickFolder: async () => null,
    capture: {} as CaptureFlowApi, // no capture channel is called here
    dataFolder: home,
  });
  registerRouter(ipc, backend.handlers, (e) => e.senderFrame?.url === APP);
  call = async (c, arg, url = APP) =>
    (await handlers.get(wire(c))!({ senderFrame: { url } } as unknown as IpcMainInvokeEvent, arg)) as Result<unknown>;
}, 180_000);

afterAll(async () => {
  await engine?.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** Runs `fn` and returns what it answered (or threw) with the progress events that came meanwhile. */
async function withEvents<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; events: Progress[] }> {
  events = [];
  try {
    const value = await fn();
    return { value, events };
  } catch (error) {
    return { error, events };
  } finally {
    events = [];
  }
}

describe('duplicates in the engine process', () => {
  it('reports progress up to done === total and finds the planted copies', { timeout: 120_000 }, async () => {
    const r = await withEvents(() => engine.call('libDuplicates', { threshold: 0.99 }));
    expect(r.error).toBeUndefined();
    expect(r.value).toHaveLength(GROUPS);
    for (const g of r.value!) {
      expect(g.photos.map((p) => path.basename(p.path))).toHaveLength(2);
      expect(g.similarity).toBeGreaterThan(0.999);
    }
    // several events (throttled), never going back, the last one the end (the total may grow as the search widens)
    expect(r.events.length).toBeGreaterThan(1);
    expect(r.events[0]!.total).toBeGreaterThanOrEqual(EXTRA);
    expect(r.events[0]!.done).toBeLessThan(r.events[0]!.total);
    for (let i = 0; i < r.events.length; i++) {
      expect(r.events[i]!.done).toBeLessThanOrEqual(r.events[i]!.total);
      if (i > 0) expect(r.events[i]!.done).toBeGreaterThanOrEqual(r.events[i - 1]!.done);
    }
    const last = r.events.at(-1)!;
    expect(last.done).toBe(last.total);
    expect(await engine.call('libDuplicatesCancel')).toBe(false); // nothing runs now
  });

  it('a cancel stops the search part way: the call fails with code cancelled', { timeout: 120_000 }, async () => {
    const first = nextProgress();
    const r = withEvents(() => engine.call('libDuplicates', { threshold: 0.99 }));
    const seen = await first;
    expect(seen.done).toBeLessThan(seen.total);
    expect(await engine.call('libDuplicatesCancel')).toBe(true);
    const { value, error, events: during } = await r;
    expect(value).toBeUndefined();
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject(CANCELLED);
    expect(during.every((p) => p.done < p.total)).toBe(true); // it stopped before the end
    expect(await engine.call('libDuplicatesCancel')).toBe(false);
    // the engine goes on serving, and the next search runs to the end
    expect(await engine.call('libDuplicates', { threshold: 0.99 })).toHaveLength(GROUPS);
  });

  it('a newer search replaces the one running, which ends as cancelled', { timeout: 120_000 }, async () => {
    const first = nextProgress();
    const older = engine.call('libDuplicates', { threshold: 0.99 }).then(
      () => 'finished',
      (err: unknown) => err,
    );
    await first;
    const newer = await engine.call('libDuplicates', { threshold: 0.99 });
    expect(await older).toMatchObject(CANCELLED);
    expect(newer).toHaveLength(GROUPS);
  });
});

describe('duplicates through the router and backend', () => {
  it('the window can cancel a search; the call answers code cancelled', { timeout: 120_000 }, async () => {
    const first = nextProgress();
    const pending = call('library.duplicates', { threshold: 0.99 });
    await first;
    expect(await call('library.cancelDuplicates')).toEqual({ ok: true, value: true });
    expect(await pending).toEqual({ ok: false, error: CANCELLED });
    expect(await call('library.cancelDuplicates')).toEqual({ ok: true, value: false });
    const done = (await call('library.duplicates', { threshold: 0.99 })) as Result<{ photos: { name: string }[] }[]>;
    expect(done.ok && done.value).toHaveLength(GROUPS);
    expect(JSON.stringify(done)).not.toContain(tmp); // names and ids only, no paths
  });

  it('validates the arguments and the sender of both channels', async () => {
    for (const bad of [{ threshold: 2 }, { threshold: '0.9' }, { threshold: 0.9, path: '/etc' }, undefined]) {
      expect(await call('library.duplicates', bad)).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    }
    for (const bad of [{ all: true }, 1, 'x']) {
      expect(await call('library.cancelDuplicates', bad)).toMatchObject({
        ok: false,
        error: { code: 'invalid-argument' },
      });
    }
    for (const c of ['library.duplicates', 'library.cancelDuplicates'] as const) {
      expect(
        await call(c, c === 'library.duplicates' ? { threshold: 0.9 } : undefined, 'https://evil.example/'),
      ).toEqual({ ok: false, error: { code: 'forbidden', message: 'this window may not call Glance' } });
    }
  });
});
