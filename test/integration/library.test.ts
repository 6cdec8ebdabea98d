// The photo library end to end on real parts: a real SQLite file, the tiny CLIP model through ONNX Runtime, real
// image files. The tiny model sees colours, so a red photo must be found by "something red".

import { existsSync } from 'node:fs';
import { copyFile, cp, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexProgress } from '../../electron/engine/library/indexer.ts';
import { Library, LibraryError } from '../../electron/engine/library/library.ts';
import { colourVocabulary } from '../fixtures/colour-vocabulary.ts';
import * as img from '../fixtures/images.ts';
import { solidRgb, writeFakeRaw, writeHeic } from '../fixtures/raw-and-heic.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

let tmp: string;
let modelDir: string;
let photos: string;
let lib: Library;
/** The model the library uses since the model change below. */
let otherModelDir: string;

const open = (opts: Partial<Parameters<typeof Library.open>[0]> = {}) =>
  Library.open({ home: path.join(tmp, 'home'), modelDir, vocabulary: colourVocabulary(), batchSize: 4, ...opts });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-lib-'));
  modelDir = (await writeTinyClip(path.join(tmp, 'models', 'tiny-clip'))).dir;
  photos = path.join(tmp, 'photos');
  await img.writeSolid(path.join(photos, 'red.jpg'), [230, 20, 20], 120, 90);
  await img.writeSolid(path.join(photos, 'green.png'), [20, 200, 30], 90, 120);
  await img.writeSolid(path.join(photos, 'trip', 'blue.webp'), [10, 20, 220], 100, 100);
  await img.writeSolid(path.join(photos, 'trip', 'deep', 'yellow.tiff'), [240, 230, 20], 64, 48);
  await img.writeSolid(path.join(photos, '.hidden', 'secret-red.png'), [255, 0, 0], 40, 40);
  await img.writeSolid(path.join(photos, '@eaDir', 'nas-thumb.jpg'), [255, 0, 0], 40, 40);
  await writeHeic(path.join(photos, 'phone', 'IMG_0001.HEIC'), solidRgb(64, 48, [5, 5, 5]), 64, 48);
  await writeFakeRaw(path.join(photos, 'camera', 'DSC_0001.NEF'), {
    width: 480,
    height: 320,
    rgb: solidRgb(480, 320, [0, 0, 0]),
  });
  await img.writeTruncatedJpeg(path.join(photos, 'broken.jpg'));
  await img.writeZeroByte(path.join(photos, 'empty.png'));
  await writeFile(path.join(photos, 'notes.txt'), 'not a photo');
  // a portrait stored sideways with an EXIF orientation, with a capture date
  const w = 40;
  const h = 60;
  const px = new Uint8Array(w * h * 3).fill(0);
  for (let i = 0; i < px.length; i += 3) px.set([250, 250, 250], i);
  const stored = img.orientStored(px, w, h, 6);
  await sharp(stored.pixels, { raw: { width: stored.width, height: stored.height, channels: 3 } })
    .withMetadata({ orientation: 6 })
    .withExif({ IFD2: { DateTimeOriginal: '2021:07:04 12:30:00' } })
    .jpeg({ quality: 95 })
    .toFile(path.join(photos, 'white-portrait.jpg'));
  lib = open();
  // The tiny model's colours are not orthogonal (yellow is a little green): a threshold for its scale.
  lib.setThreshold(0.5);
});

afterAll(async () => {
  lib?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('indexing', () => {
  it('indexes every photo format found recursively, skipping hidden and system folders, recording bad files', async () => {
    const events: string[] = [];
    const p = await lib.indexFolders([photos], (e) => events.push(e.phase));
    expect(p.phase).toBe('done');
    expect(p.indexed).toBe(7);
    expect(p.errors).toBe(2);
    expect(events).toContain('scanning');
    expect(events).toContain('indexing');
    const errors = lib.errors();
    expect(errors.map((e) => [path.basename(e.path), e.code])).toEqual([
      ['broken.jpg', 'image-truncated'],
      ['empty.png', 'image-empty'],
    ]);
    expect(lib.folders()).toEqual([{ id: expect.any(Number), path: photos, photos: 7 }]);
    // with the space the cache takes: 7 thumbnails and 7 embeddings of the tiny model's 4-byte floats
    const thumbnails = (lib.db.prepare('SELECT sum(bytes) AS n FROM thumbnails').get() as { n: number }).n;
    const embedding = 4 * lib.store.embeddingDim(lib.modelId)!;
    expect(thumbnails).toBeGreaterThan(7 * 20);
    expect(lib.folderUsage()).toEqual([
      { id: expect.any(Number), path: photos, photos: 7, cacheBytes: thumbnails + 7 * embedding },
    ]);
    expect(lib.cacheBytes()).toBe(thumbnails + 7 * embedding);
    expect(lib.tags(path.join(photos, 'camera', 'DSC_0001.NEF')).tags.map((t) => t.name)).toContain('black');
    expect(lib.tags(path.join(photos, 'phone', 'IMG_0001.HEIC')).tags.map((t) => t.name)).toContain('black');
  });

  it('makes upright WebP thumbnails of about 256 px from the same decode', async () => {
    const [hit] = await lib.search({ text: 'a photo of something white', limit: 1 });
    expect(path.basename(hit!.path)).toBe('white-portrait.jpg');
    const meta = await sharp(hit!.thumbnail).metadata();
    expect(meta.format).toBe('webp');
    expect(meta.height!).toBeGreaterThan(meta.width!); // portrait after EXIF rotation
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(256);
  });

  it('reads the EXIF capture time', async () => {
    const [hit] = await lib.search({ text: 'white', limit: 1 });
    expect(new Date(hit!.takenAt!).getFullYear()).toBe(2021);
  });

  it('a second run opens no unchanged file and retries no known-bad file', async () => {
    const p = await lib.indexFolders(undefined);
    expect(p).toMatchObject({ unchanged: 7, indexed: 0, moved: 0, removed: 0, total: 0 });
  });
});

describe('search', () => {
  it('finds by text, best first, with scores', async () => {
    const hits = await lib.search({ text: 'a photo of something red', limit: 3 });
    expect(path.basename(hits[0]!.path)).toBe('red.jpg');
    expect(hits[0]!.score!).toBeGreaterThan(hits[1]!.score!);
    expect(hits.map((h) => path.basename(h.path))).not.toContain('secret-red.png');
  });

  it('filters by folder, by tag and by date', async () => {
    const inTrip = await lib.search({ text: 'red', folder: path.join(photos, 'trip') });
    expect(inTrip.map((h) => path.basename(h.path)).sort()).toEqual(['blue.webp', 'yellow.tiff']);
    const tagged = await lib.search({ tags: ['green'] });
    expect(tagged.map((h) => path.basename(h.path))).toEqual(['green.png']);
    const old = await lib.search({ from: Date.UTC(2021, 0, 1), to: Date.UTC(2021, 11, 31) });
    expect(old.map((h) => path.basename(h.path))).toEqual(['white-portrait.jpg']);
    const none = await lib.search({ text: 'red', tags: ['blue'], folder: path.join(photos, 'trip', 'deep') });
    expect(none).toEqual([]);
  });

  it('more like this: by an indexed photo (excluding itself) and by any image file', async () => {
    const like = await lib.search({ like: { path: path.join(photos, 'red.jpg') }, limit: 2 });
    expect(like.map((h) => path.basename(h.path))).not.toContain('red.jpg');
    const outside = path.join(tmp, 'outside-blue.png');
    await img.writeSolid(outside, [0, 10, 240], 30, 30);
    const [first] = await lib.search({ like: { path: outside }, limit: 1 });
    expect(path.basename(first!.path)).toBe('blue.webp');
  });

  it('rejects empty queries with a clear error', async () => {
    await expect(lib.search({ text: '  ' })).rejects.toThrow(LibraryError);
  });
});

describe('tags', () => {
  it('auto tags follow the picture', () => {
    expect(lib.tags(path.join(photos, 'red.jpg')).tags.map((t) => t.name)).toContain('red');
    expect(lib.tags(path.join(photos, 'red.jpg')).tags.map((t) => t.name)).not.toContain('blue');
  });

  it("a person's additions and removals survive re-tagging and re-indexing", async () => {
    const red = path.join(photos, 'red.jpg');
    lib.addTag(red, 'holiday');
    lib.removeTag(red, 'red');
    const names = () => lib.tags(red).tags.map((t) => t.name);
    expect(names()).toContain('holiday');
    expect(names()).not.toContain('red');
    // content changes: the file is re-embedded and auto-tagged again, the person's choices stay
    await img.writeSolid(red, [235, 15, 25], 121, 90);
    const p = await lib.indexFolders(undefined);
    expect(p.indexed).toBe(1);
    expect(names()).toContain('holiday');
    expect(names()).not.toContain('red');
  });

  it('a threshold change re-tags without re-indexing', () => {
    const green = path.join(photos, 'green.png');
    expect(lib.tags(green).tags.map((t) => t.name)).toContain('green');
    lib.setThreshold(0.999);
    expect(lib.tags(green).tags.filter((t) => t.source === 'auto')).toEqual([]);
    expect(lib.tags(green).candidates.map((t) => t.name)).toContain('green');
    lib.setThreshold(0.5);
    expect(lib.tags(green).tags.map((t) => t.name)).toContain('green');
  });

  it('renames tags, merging into an existing one', async () => {
    const red = path.join(photos, 'red.jpg');
    expect(lib.renameTag('holiday', 'vacation')).toBe(true);
    expect(lib.tags(red).tags.map((t) => t.name)).toContain('vacation');
    lib.addTag(path.join(photos, 'green.png'), 'trip');
    lib.renameTag('vacation', 'trip');
    expect((await lib.search({ tags: ['trip'] })).map((h) => path.basename(h.path)).sort()).toEqual([
      'green.png',
      'red.jpg',
    ]);
  });

  it('a new vocabulary re-tags from stored embeddings, decoding nothing', async () => {
    lib.close();
    lib = open({ vocabulary: colourVocabulary(['black', 'yellow', 'white', 'blue']) });
    const p = await lib.indexFolders(undefined);
    expect(p.indexed).toBe(0);
    expect(lib.tags(path.join(photos, 'trip', 'deep', 'yellow.tiff')).tags.map((t) => t.name)).toContain('yellow');
    expect(lib.tags(path.join(photos, 'trip', 'blue.webp')).tags.map((t) => t.name)).toEqual(['blue']);
  });

  it('refuses bad tags and unknown photos', () => {
    expect(() => lib.addTag(path.join(photos, 'red.jpg'), '   ')).toThrow(/cannot be empty/);
    expect(() => lib.tags(path.join(photos, 'nope.jpg'))).toThrow(/not in the library/);
  });
});

describe('the folder changes', () => {
  it('a moved and renamed file keeps its row and tags, without decoding', async () => {
    const from = path.join(photos, 'green.png');
    const before = (await lib.search({ tags: ['trip'] })).find((h) => h.path === from)!;
    const to = path.join(photos, 'trip', 'renamed-green.png');
    await rename(from, to);
    const p = await lib.indexFolders(undefined);
    expect(p).toMatchObject({ moved: 1, indexed: 0, removed: 0 });
    const after = (await lib.search({ tags: ['trip'] })).find((h) => h.path === to);
    expect(after?.id).toBe(before.id);
  });

  it('a deleted file leaves the index and the search', async () => {
    await rm(path.join(photos, 'trip', 'deep', 'yellow.tiff'));
    const p = await lib.indexFolders(undefined);
    expect(p.removed).toBe(1);
    const hits = await lib.search({ text: 'yellow', limit: 10 });
    expect(hits.map((h) => path.basename(h.path))).not.toContain('yellow.tiff');
  });

  it('a copy of a known photo is a new photo that needs no decoding', async () => {
    await copyFile(path.join(photos, 'trip', 'blue.webp'), path.join(photos, 'blue-copy.webp'));
    const p = await lib.indexFolders(undefined);
    expect(p.indexed).toBe(1);
    const groups = await lib.duplicates(0.99);
    const names = groups.map((g) => g.photos.map((x) => path.basename(x.path)).sort());
    expect(names).toContainEqual(['blue-copy.webp', 'blue.webp']);
  });

  it('identical new files indexed together are all indexed (one thumbnail, written safely)', async () => {
    const twins = path.join(photos, 'twins');
    for (let i = 0; i < 6; i++) await img.writeSolid(path.join(twins, `same-${i}.png`), [90, 60, 30], 70, 50);
    const p = await lib.indexFolders(undefined);
    expect(p.indexed).toBe(6);
    expect(p.errors).toBe(2); // only the two known-bad files of the first run, still unchanged
    await rm(twins, { recursive: true });
    await lib.indexFolders(undefined);
  });

  it('a changed broken file is retried', async () => {
    await img.writeSolid(path.join(photos, 'broken.jpg'), [20, 200, 30], 50, 50);
    const p = await lib.indexFolders(undefined);
    expect(p.indexed).toBe(1);
    expect(lib.errors().map((e) => path.basename(e.path))).toEqual(['empty.png']);
  });

  it('nested folders: a subfolder is already covered, a parent adopts its children', async () => {
    await expect(lib.addFolder(path.join(photos, 'trip'))).rejects.toThrow(/already in the library/);
    const parent = tmp;
    await lib.addFolder(parent);
    expect(lib.folders().map((f) => f.path)).toEqual([parent]);
    lib.removeFolder(parent);
    expect(lib.folders()).toEqual([]);
    expect(lib.store.photoCount()).toBe(0);
    await lib.addFolder(photos);
  });
});

describe('changing the CLIP model', () => {
  it('re-indexes with the new model and keeps the tags people set', async () => {
    await lib.indexFolders(undefined);
    const red = path.join(photos, 'red.jpg');
    lib.addTag(red, 'keeper');
    lib.close();
    otherModelDir = path.join(tmp, 'models', 'tiny-clip-b');
    await cp(modelDir, otherModelDir, { recursive: true });
    lib = open({ modelDir: otherModelDir });
    const p = await lib.indexFolders(undefined);
    expect(p.indexed).toBe(p.total);
    expect(p.indexed).toBeGreaterThan(0);
    expect(lib.tags(red).tags.map((t) => t.name)).toContain('keeper');
  });
});

describe('while indexing runs', () => {
  beforeAll(() => {
    // every batch's progress, so that the tests can act right after a given commit
    lib.close();
    lib = open({ modelDir: otherModelDir, progressMs: 0 });
  });

  it('answers searches; a pause indexes nothing until resume, which finishes the run', async () => {
    const more = path.join(tmp, 'more');
    for (let i = 0; i < 24; i++) {
      await img.writeSolid(path.join(more, `c${String(i).padStart(2, '0')}.png`), [i * 10, 255 - i * 10, 128], 48, 48);
    }
    const indexedUnder = () =>
      (lib.db.prepare('SELECT count(*) AS n FROM photos WHERE path LIKE ?').get(`${more}${path.sep}%`) as { n: number })
        .n;
    const events: IndexProgress[] = [];
    let searched: Promise<unknown> | null = null;
    let paused!: () => void;
    const parked = new Promise<void>((resolve) => {
      paused = resolve;
    });
    const run = lib.indexFolders([more], (e) => {
      events.push(e);
      if (e.phase === 'indexing' && e.done > 0 && searched === null) {
        searched = lib.search({ text: 'red', limit: 50 });
        void lib.pauseIndexing().then(paused);
      }
    });
    await Promise.race([
      parked,
      run.then(() => {
        throw new Error('the run ended without pausing');
      }),
    ]);
    const atPause = indexedUnder();
    const eventsAtPause = events.length;
    expect(atPause).toBeGreaterThan(0);
    expect(atPause).toBeLessThan(24);
    // While paused the decoder keeps preparing and a search runs the text model: plenty of turns for a batch to
    // slip through, if one could.
    expect((await searched!) as unknown[]).not.toHaveLength(0);
    await lib.search({ text: 'blue', limit: 50 });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(indexedUnder()).toBe(atPause);
    expect(events.slice(eventsAtPause - 1).map((e) => e.phase)).toEqual(['paused']);
    lib.resumeIndexing();
    const p = await run;
    expect(p).toMatchObject({ phase: 'done', indexed: 24 });
    expect(indexedUnder()).toBe(24);
    expect(events.map((e) => e.phase)).toContain('paused');
  });

  it('a cancelled run stops, and the next one indexes the rest', async () => {
    const more = path.join(tmp, 'more');
    await rm(more, { recursive: true });
    for (let i = 0; i < 16; i++) await img.writeSolid(path.join(more, `d${i}.png`), [i * 15, 0, 0], 48, 48);
    const cancelled = await lib.indexFolders([more], (e) => {
      if (e.phase === 'indexing' && e.done >= 4) lib.cancelIndexing();
    });
    expect(cancelled.phase).toBe('cancelled');
    expect(cancelled.done).toBeLessThan(16);
    const resumed = await lib.indexFolders([more]);
    expect(resumed.indexed + cancelled.indexed).toBe(16);
  });
});

describe('the watcher', () => {
  it('indexes a photo added while the engine runs', async () => {
    const added = path.join(photos, 'trip', 'arrived-later.png');
    let stop!: ReturnType<Library['watch']>;
    const indexed = new Promise<IndexProgress>((resolve, reject) => {
      stop = lib.watch((p) => (p.indexed > 0 ? resolve(p) : undefined), reject, 200);
    });
    try {
      await stop.ready; // the watcher has read the existing tree: a file written now is a change it sees
      await img.writeSolid(added, [250, 250, 0], 50, 50);
      expect((await indexed).indexed).toBe(1);
    } finally {
      await stop();
    }
    expect(lib.store.photoByPath(added)).toBeDefined();
  });
});

describe('XMP export', () => {
  it("writes the photo's tags to a sidecar a real reader sees, never touching the photo", async () => {
    const red = path.join(photos, 'red.jpg');
    lib.removeTag(red, 'red');
    const before = await readFile(red);
    const mtime = (await stat(red)).mtimeMs;
    const out = await lib.exportXmp(photos);
    expect(out.written.some((w) => w.path === `${red}.xmp`)).toBe(true);
    const { execFile } = await import('node:child_process');
    const json = await new Promise<string>((resolve, reject) =>
      execFile('exiftool', ['-j', '-XMP-dc:Subject', `${red}.xmp`], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    const subjects = [JSON.parse(json)[0].Subject].flat();
    expect(subjects).toContain('keeper');
    expect(subjects).not.toContain('red'); // a person removed it
    expect(Buffer.compare(await readFile(red), before)).toBe(0);
    expect((await stat(red)).mtimeMs).toBe(mtime);
  });
});

it('keeps working data out of the photo folders', () => {
  expect(existsSync(path.join(photos, 'glance.db'))).toBe(false);
  expect(existsSync(path.join(tmp, 'home', 'glance.db'))).toBe(true);
});
