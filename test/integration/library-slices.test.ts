// Whole-library jobs in slices (a real SQLite file, the tiny CLIP model): re-tagging every photo, a filter-only
// search over every row and an XMP export each let the event loop turn many times while they run, and give the
// same results as the one-go implementations they replaced (written out here as the reference).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../../electron/engine/db/database.ts';
import { Library, modelIdFor } from '../../electron/engine/library/library.ts';
import { LibraryStore, type PhotoRow } from '../../electron/engine/library/store.ts';
import { fromBlob, retagInSlices, SLICE_ROWS, Tagger } from '../../electron/engine/library/tagger.ts';
import { glancePaths } from '../../electron/engine/paths.ts';
import { colourVocabulary } from '../fixtures/colour-vocabulary.ts';
import * as img from '../fixtures/images.ts';
import { turnsDuring } from '../fixtures/loop-turns.ts';
import { putSyntheticPhoto } from '../fixtures/synthetic-photos.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

const EXTRA = 8000; // photo rows inserted directly, on top of the three indexed files
const FROM = Date.UTC(2020, 0, 1);

let tmp: string;
let home: string;
let photos: string;
let modelDir: string;
let modelId: string;
let lib: Library;
let db: Db;
let store: LibraryStore;

/** Each photo's auto tags as (tag id, score), by photo id. */
function autoTags(): Map<number, [number, number][]> {
  const out = new Map<number, [number, number][]>();
  const rows = db
    .prepare<[], { photo: number; tag: number; score: number }>(
      "SELECT photo_id AS photo, tag_id AS tag, score FROM photo_tags WHERE source = 'auto' ORDER BY photo_id, tag_id",
    )
    .all();
  for (const r of rows) {
    const list = out.get(r.photo) ?? [];
    list.push([r.tag, r.score]);
    out.set(r.photo, list);
  }
  return out;
}

/** The tagger of the library's vocabulary, from the label embeddings the library cached (no text tower). */
async function taggerInUse(): Promise<Tagger> {
  const noTextTower = {
    encodeTexts: (): Promise<Float32Array[]> => Promise.reject(new Error('label embeddings should be cached')),
  };
  return Tagger.create(db, noTextTower, modelId, await lib.vocabulary());
}

/** The one-go re-tag it replaced: every row at once, one transaction, computed here without writing. */
function referenceRetag(tagger: Tagger): Map<number, [number, number][]> {
  const rows = db
    .prepare<[string], { id: number; vector: Buffer }>(
      'SELECT p.id AS id, e.vector AS vector FROM photos p JOIN embeddings e ON e.hash = p.hash AND e.model = ?',
    )
    .all(modelId);
  const out = new Map<number, [number, number][]>();
  for (const r of rows) {
    const list = tagger
      .rows(store, fromBlob(r.vector))
      .map((t): [number, number] => [t.tagId, t.score])
      .sort((a, b) => a[0] - b[0]);
    if (list.length > 0) out.set(r.id, list);
  }
  return out;
}

/** The one-go row read it replaced: every photo, newest first. */
const allRowsNewestFirst = () =>
  db.prepare<[], PhotoRow>('SELECT * FROM photos ORDER BY coalesce(taken_at, mtime_ms) DESC, id').all();

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-slices-'));
  home = path.join(tmp, 'home');
  modelDir = (await writeTinyClip(path.join(tmp, 'models', 'tiny-clip'))).dir;
  modelId = modelIdFor(modelDir);
  photos = path.join(tmp, 'photos');
  await img.writeSolid(path.join(photos, 'red.png'), [230, 20, 20], 60, 40);
  await img.writeSolid(path.join(photos, 'green.png'), [20, 200, 30], 60, 40);
  await img.writeSolid(path.join(photos, 'blue.png'), [10, 20, 220], 60, 40);
  lib = Library.open({ home, modelDir, vocabulary: colourVocabulary(['red', 'green']), batchSize: 4 });
  expect(await lib.indexFolders([photos])).toMatchObject({ phase: 'done', indexed: 3 });

  // Thousands more rows, straight through the store on a second connection to the same file: each a blend of the
  // three real embeddings (so tags vary), some with a taken date, some sharing dates (ties ordered by id).
  db = openDatabase(glancePaths(home).db);
  store = new LibraryStore(db);
  const folder = store.folders()[0]!;
  const base = ['red', 'green', 'blue'].map(
    (c) => store.embedding(store.photoByPath(path.join(photos, `${c}.png`))!.hash, modelId)!,
  );
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  db.transaction(() => {
    for (let i = 0; i < EXTRA; i++) {
      const w = [random(), random(), random()];
      const v = new Float32Array(base[0]!.length);
      for (let d = 0; d < v.length; d++) v[d] = w[0]! * base[0]![d]! + w[1]! * base[1]![d]! + w[2]! * base[2]![d]!;
      const norm = Math.hypot(...v);
      for (let d = 0; d < v.length; d++) v[d]! /= norm;
      putSyntheticPhoto(store, {
        dir: photos,
        folderId: folder.id,
        modelId,
        i,
        vector: v,
        mtimeMs: Date.UTC(2018, 0, 1) + (i % 50) * 86_400_000 * 30,
        takenAt: i % 3 === 0 ? null : Date.UTC(2019, 0, 1) + (i % 97) * 86_400_000 * 7,
      });
    }
  })();
}, 120_000);

afterAll(async () => {
  lib?.close();
  db?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('re-tagging every photo', () => {
  it('yields to the event loop between slices and writes the same tags as the one-go re-tag', async () => {
    const { result, turns } = await turnsDuring(() =>
      lib.setVocabulary({
        version: 1,
        neutral: ['a photo.', 'a picture.', 'an image.'],
        categories: [
          { name: 'Colours', labels: ['red', 'blue', 'green'].map((w) => ({ name: w, prompts: [`a ${w} picture.`] })) },
        ],
      }),
    );
    expect(result.retagged).toBe(EXTRA + 3);
    expect(turns).toBeGreaterThanOrEqual(Math.floor((EXTRA + 3) / SLICE_ROWS));
    const expected = referenceRetag(await taggerInUse());
    expect(expected.size).toBeGreaterThan(EXTRA / 2); // the comparison is about real tags, not empty lists
    expect(autoTags()).toEqual(expected);
  });

  it('interrupted part way, leaves whole slices written and the rest as before; a new run completes it', async () => {
    const tagger = await taggerInUse();
    const expected = referenceRetag(tagger);
    db.prepare("DELETE FROM photo_tags WHERE source = 'auto'").run();
    let written = 0;
    const failing = {
      labelTagId: store.labelTagId.bind(store),
      replaceAutoTags: (id: number, tags: { tagId: number; score: number }[]) => {
        if (++written > 2 * SLICE_ROWS + 10) throw new Error('the engine was stopped');
        store.replaceAutoTags(id, tags);
      },
    };
    await expect(retagInSlices(db, failing, tagger, modelId)).rejects.toThrow('the engine was stopped');
    // the third slice rolled back whole: exactly the first two slices' photos have tags
    const partial = autoTags();
    const firstTwo = db
      .prepare<[number], number>('SELECT id FROM photos ORDER BY id LIMIT ?')
      .pluck()
      .all(2 * SLICE_ROWS);
    expect([...partial.keys()].every((id) => firstTwo.includes(id))).toBe(true);
    for (const [id, tags] of partial) expect(tags).toEqual(expected.get(id));

    expect(await retagInSlices(db, store, tagger, modelId)).toBe(EXTRA + 3);
    expect(autoTags()).toEqual(expected);
  });
});

describe('a search with filters only', () => {
  it('reads rows in slices between event-loop turns, with the one-go read’s results', async () => {
    const { result, turns } = await turnsDuring(() => lib.search({ folder: photos, limit: 100_000 }));
    expect(turns).toBeGreaterThanOrEqual(Math.floor((EXTRA + 3) / SLICE_ROWS) - 1);
    expect(result.map((h) => h.id)).toEqual(allRowsNewestFirst().map((r) => r.id));
  });

  it('keeps the order and the limit with a date filter', async () => {
    const expected = allRowsNewestFirst()
      .filter((r) => (r.taken_at ?? r.mtime_ms) >= FROM)
      .map((r) => r.id);
    expect(expected.length).toBeGreaterThan(SLICE_ROWS); // more than one slice to choose from
    expect(expected.length).toBeLessThan(EXTRA);
    const all = await lib.search({ from: FROM, limit: 100_000 });
    expect(all.map((h) => h.id)).toEqual(expected);
    const first = await lib.search({ from: FROM, limit: 25 });
    expect(first.map((h) => h.id)).toEqual(expected.slice(0, 25));
    expect(first[0]).toMatchObject({ score: null, path: expect.any(String), thumbnail: expect.any(String) });
  });
});

describe('XMP export of the whole library', () => {
  it('yields between slices even where no photo has a tag to write (no file I/O to wait on)', async () => {
    lib.setThreshold(1); // no auto tag reaches it: only the person's tags are exported, and there are none yet
    const { result, turns } = await turnsDuring(() => lib.exportXmp());
    expect(turns).toBeGreaterThanOrEqual(Math.floor((EXTRA + 3) / SLICE_ROWS) - 1);
    expect(result).toEqual({ photos: EXTRA + 3, written: [], failed: [] });
  });

  it('writes the sidecars of the photos with tags, newest first, as before', async () => {
    const tagged = allRowsNewestFirst().filter((_, i) => i % 900 === 0);
    for (const r of tagged) lib.addTag(r.id, 'holiday');
    const { result, turns } = await turnsDuring(() => lib.exportXmp());
    expect(turns).toBeGreaterThanOrEqual(Math.floor((EXTRA + 3) / SLICE_ROWS));
    expect(result.photos).toBe(EXTRA + 3);
    expect(result.failed).toEqual([]);
    expect(result.written.map((w) => w.path)).toEqual(tagged.map((r) => `${r.path}.xmp`));
    expect(result.written.every((w) => w.created && w.added.includes('holiday'))).toBe(true);
  });
});
