// Failures that used to be swallowed (read as "nothing there" or "no GPU") and are now said, with what to do: damaged
// saved settings, a damaged model manifest, a GPU whose free memory cannot be read. Real SQLite and real files.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../electron/engine/db/database.ts';
import { LibraryStore } from '../../electron/engine/library/store.ts';
import { MANIFEST, ModelManager } from '../../electron/engine/models/model-manager.ts';
import { type GlancePaths, glancePaths, modelDir } from '../../electron/engine/paths.ts';
import {
  chatLoadOptions,
  DEFAULT_SETTINGS,
  readSettings,
  SETTINGS_COPY_KEY,
  SETTINGS_KEY,
} from '../../electron/engine/settings.ts';
import { CHAT_CATALOG, DEFAULT_CHAT_ID } from '../../native-models/catalog.ts';
import { gpuFreeBytes } from '../../native-models/llava/llama-node.ts';

let tmp: string;
let paths: GlancePaths;

beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-swallowed-'));
  paths = glancePaths(tmp);
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('saved settings', () => {
  function store(raw?: string) {
    const db = openDatabase(paths.db);
    const s = new LibraryStore(db);
    if (raw !== undefined) s.setSetting(SETTINGS_KEY, raw);
    return { s, db };
  }

  it('none saved: the defaults, and nothing to say', () => {
    const { s, db } = store();
    expect(readSettings(s, paths.db)).toEqual({ settings: DEFAULT_SETTINGS });
    db.close();
  });

  it('not valid JSON: the defaults, a copy kept, and a notice naming the database and the line', () => {
    const raw = '{\n  "threads": 4,\n  "gpuLayers": 12,,\n}';
    const { s, db } = store(raw);
    const r = readSettings(s, paths.db);
    expect(r.settings).toEqual(DEFAULT_SETTINGS);
    expect(r.notice).toBe(
      `the saved settings (app_settings in ${paths.db}) are not valid JSON (line 3): Glance is using the defaults ` +
        'and kept a copy as app_settings.bad; saving settings replaces them',
    );
    expect(s.setting(SETTINGS_COPY_KEY)).toBe(raw);
    expect(s.setting(SETTINGS_KEY)).toBe(raw); // nothing overwritten until the person saves
    db.close();
  });

  it('values of the wrong kind: those fall back to the defaults, the others are kept', () => {
    const { s, db } = store(JSON.stringify({ threads: 'eight', gpuLayers: 10, hotkey: 'Alt+G', chatModel: 3 }));
    const r = readSettings(s, paths.db);
    expect(r.settings).toEqual({ ...DEFAULT_SETTINGS, gpuLayers: 10, hotkey: 'Alt+G' });
    expect(r.notice).toMatch(/values Glance cannot use: threads \("eight"\), chatModel \(3\)/);
    expect(s.setting(SETTINGS_COPY_KEY)).toContain('eight');
    db.close();
  });

  it('not an object: the defaults, and a notice', () => {
    const { s, db } = store('[1, 2]');
    const r = readSettings(s, paths.db);
    expect(r.settings).toEqual(DEFAULT_SETTINGS);
    expect(r.notice).toMatch(/not a JSON object/);
    db.close();
  });

  it('threads and GPU layers go into the load options of the chosen catalog model', async () => {
    const entry = CHAT_CATALOG.find((e) => e.id === DEFAULT_CHAT_ID)!;
    const dir = modelDir(paths, entry.id);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, entry.model.file), '');
    await writeFile(path.join(dir, entry.mmproj.file), '');
    const auto = chatLoadOptions(paths, DEFAULT_SETTINGS);
    expect(auto).not.toHaveProperty('threads');
    expect(auto).not.toHaveProperty('gpuLayers');
    const set = chatLoadOptions(paths, { ...DEFAULT_SETTINGS, threads: 3, gpuLayers: 7 });
    expect(set).toMatchObject({ model: path.join(dir, entry.model.file), threads: 3, gpuLayers: 7 });
  });
});

describe('model manifests', () => {
  const id = DEFAULT_CHAT_ID;
  const manifestFile = () => path.join(modelDir(paths, id), MANIFEST);

  it('a corrupt manifest is reported as damaged with what to do, not as "not installed"', async () => {
    await mkdir(modelDir(paths, id), { recursive: true });
    await writeFile(manifestFile(), '{"id": "llava-1.5-7b", "files": [');
    const models = new ModelManager(paths);
    const status = (await models.list()).find((m) => m.entry.id === id)!;
    expect(status.installed).toBe(false);
    expect(status.damaged).toMatch(new RegExp(`${id} is damaged: its manifest .*${MANIFEST} cannot be read`));
    expect(status.damaged).toMatch(/not valid JSON/);
    expect(status.damaged).toContain(`glance models remove ${id}, then glance models download ${id}`);
    await expect(models.verify(id)).rejects.toMatchObject({ code: 'damaged' });
    expect(await models.remove(id)).toBe(true); // it was there, and now it is gone
    expect((await models.list()).find((m) => m.entry.id === id)).not.toHaveProperty('damaged');
  });

  it('a manifest without its file list is damaged too', async () => {
    await mkdir(modelDir(paths, id), { recursive: true });
    await writeFile(manifestFile(), JSON.stringify({ id, files: [{ file: 'x.gguf' }] }));
    await expect(new ModelManager(paths).manifest(id)).rejects.toMatchObject({
      code: 'damaged',
      message: expect.stringMatching(/does not list the files/),
    });
  });

  it('no manifest: not installed, nothing damaged', async () => {
    const status = (await new ModelManager(paths).list()).find((m) => m.entry.id === id)!;
    expect(status).toMatchObject({ installed: false });
    expect(status).not.toHaveProperty('damaged');
  });
});

describe("the GPU's free memory", () => {
  const ctx = (getBackendDevicesInfo: () => { type: string; maxMemorySize: number }[]) => ({
    ctx: { getBackendDevicesInfo },
  });

  it('is the largest GPU device', () => {
    const notes: string[] = [];
    const free = gpuFreeBytes(
      ctx(() => [
        { type: 'cpu', maxMemorySize: 64e9 },
        { type: 'gpu', maxMemorySize: 8e9 },
        { type: 'gpu', maxMemorySize: 12e9 },
      ]),
      notes,
    );
    expect(free).toBe(12e9);
    expect(notes).toEqual([]);
  });

  it('a failed query is a note with the reason, not "no memory" (which moved every layer off the GPU)', () => {
    const notes: string[] = [];
    const free = gpuFreeBytes(
      ctx(() => {
        throw new Error('vkEnumeratePhysicalDevices failed');
      }),
      notes,
    );
    expect(free).toBeNull();
    expect(notes).toEqual([
      "the GPU's free memory could not be read (vkEnumeratePhysicalDevices failed): all layers were put on the GPU; " +
        'if it runs out of memory, set GPU layers in Settings',
    ]);
  });
});
