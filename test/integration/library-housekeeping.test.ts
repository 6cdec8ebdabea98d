// What the library leaves behind, on real parts (a real SQLite file, the tiny CLIP model through ONNX Runtime, real
// image files): content no photo uses leaves with its last photo (rows in the same transaction, files after), the
// start-up sweep removes what a killed process left, folders may come and go while a run is under way, progress is
// coalesced, and an XMP export reports a malformed sidecar and goes on.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexProgress } from '../../electron/engine/library/indexer.ts';
import { Library } from '../../electron/engine/library/library.ts';
import { SWEEP_AGE_MS, thumbnailPath } from '../../electron/engine/library/thumbnails.ts';
import { colourVocabulary } from '../fixtures/colour-vocabulary.ts';
import * as img from '../fixtures/images.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

let tmp: string;
let modelDir: string;

const open = (home: string, opts: Partial<Parameters<typeof Library.open>[0]> = {}) =>
  Library.open({ home, modelDir, vocabulary: colourVocabulary(), batchSize: 4, ...opts });

/** A flat picture whose content differs for every (seed, round). */
const paint = (file: string, seed: number, round = 0) =>
  img.writeSolid(file, [(seed * 37 + round * 11) % 256, (seed * 91) % 256, (round * 53 + 7) % 256], 24 + round, 24);

async function thumbnailFiles(lib: Library): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(lib.thumbnailsDir).catch(() => [] as string[])) {
    for (const name of await readdir(path.join(lib.thumbnailsDir, shard))) out.push(name);
  }
  return out.sort();
}

async function thumbnailBytesOnDisk(lib: Library): Promise<number> {
  let n = 0;
  for (const name of await thumbnailFiles(lib))
    n += (await stat(path.join(lib.thumbnailsDir, name.slice(0, 2), name))).size;
  return n;
}

/** Embeddings, thumbnail rows and thumbnail files, against the content live photos use. */
async function cache(lib: Library) {
  const n = (sql: string) => (lib.db.prepare(sql).get() as { n: number }).n;
  return {
    live: n('SELECT count(DISTINCT hash) AS n FROM photos'),
    embeddings: n('SELECT count(*) AS n FROM embeddings'),
    thumbnailRows: n('SELECT count(*) AS n FROM thumbnails'),
    thumbnailFiles: (await thumbnailFiles(lib)).length,
  };
}

async function expectNoGarbage(lib: Library) {
  const c = await cache(lib);
  expect(c).toEqual({ live: c.live, embeddings: c.live, thumbnailRows: c.live, thumbnailFiles: c.live });
  // the size rows say what the files take
  const rows = (lib.db.prepare('SELECT coalesce(sum(bytes), 0) AS n FROM thumbnails').get() as { n: number }).n;
  expect(rows).toBe(await thumbnailBytesOnDisk(lib));
  return c.live;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-housekeeping-'));
  modelDir = (await writeTinyClip(path.join(tmp, 'models', 'tiny-clip'))).dir;
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('content no photo uses', () => {
  it('leaves with its last photo: edits, deletions, a removed folder; shared content stays while used', async () => {
    const home = path.join(tmp, 'gc-home');
    const photos = path.join(tmp, 'gc-photos');
    const other = path.join(tmp, 'gc-other');
    for (let i = 0; i < 24; i++) await paint(path.join(photos, `p${i}.png`), i);
    // two identical files: one content, used by two paths
    await paint(path.join(photos, 'twin-a.png'), 99);
    await copyFile(path.join(photos, 'twin-a.png'), path.join(photos, 'twin-b.png'));
    const lib = open(home);
    try {
      await lib.indexFolders([photos]);
      expect(await expectNoGarbage(lib)).toBe(25);

      for (let round = 1; round <= 4; round++) {
        for (let i = 0; i < 24; i += 2) await paint(path.join(photos, `p${i}.png`), i, round);
        const p = await lib.indexFolders(undefined);
        expect(p.indexed).toBe(12);
        expect(await expectNoGarbage(lib)).toBe(25);
      }

      // one twin changes: the content the other still uses keeps its embedding and thumbnail
      const twinB = lib.store.photoByPath(path.join(photos, 'twin-b.png'))!;
      await paint(path.join(photos, 'twin-a.png'), 98);
      await lib.indexFolders(undefined);
      expect(await expectNoGarbage(lib)).toBe(26);
      expect(lib.store.hasEmbedding(twinB.hash, lib.modelId)).toBe(true);
      await stat(thumbnailPath(lib.thumbnailsDir, twinB.hash));
      expect((await lib.search({ like: { id: twinB.id }, limit: 1 })).length).toBe(1);

      // deleted files take their content with them
      for (let i = 1; i < 10; i += 2) await rm(path.join(photos, `p${i}.png`));
      expect((await lib.indexFolders(undefined)).removed).toBe(5);
      expect(await expectNoGarbage(lib)).toBe(21);

      // a removed folder too, except content a photo elsewhere still has
      await mkdir(other, { recursive: true });
      await copyFile(path.join(photos, 'twin-b.png'), path.join(other, 'same-as-twin-b.png'));
      for (let i = 0; i < 6; i++) await paint(path.join(other, `o${i}.png`), 200 + i);
      await lib.indexFolders([other]);
      expect(await expectNoGarbage(lib)).toBe(27);
      expect(lib.removeFolder(other)).toBe(7);
      expect(await expectNoGarbage(lib)).toBe(21);
      expect(lib.store.hasEmbedding(twinB.hash, lib.modelId)).toBe(true);
      await stat(thumbnailPath(lib.thumbnailsDir, twinB.hash));
    } finally {
      lib.close();
    }
  });

  it('content one file leaves while another takes it up in the same run stays, and the other is indexed', async () => {
    const home = path.join(tmp, 'swap-home');
    const root = path.join(tmp, 'swap');
    const original = path.join(root, 'a', 'original.png');
    await paint(original, 1, 20);
    const lib = open(home);
    try {
      await lib.indexFolders([root]);
      const before = lib.store.photoByPath(original)!.hash;
      // the old version is kept as a copy (scanned after the original, in a later batch) and the original edited
      await mkdir(path.join(root, 'b'));
      await copyFile(original, path.join(root, 'b', 'kept-copy.png'));
      await paint(original, 1, 21);
      for (let i = 0; i < 3; i++) await paint(path.join(root, 'a', `filler${i}.png`), 10 + i, 20);
      const p = await lib.indexFolders(undefined);
      expect(p.indexed).toBe(5);
      expect(lib.store.photoByPath(path.join(root, 'b', 'kept-copy.png'))?.hash).toBe(before);
      expect(await expectNoGarbage(lib)).toBe(5);
    } finally {
      lib.close();
    }
  });

  it('a cancelled run leaves no thumbnail of a photo it did not commit', async () => {
    const home = path.join(tmp, 'cancel-home');
    const photos = path.join(tmp, 'cancel-photos');
    for (let i = 0; i < 40; i++) await paint(path.join(photos, `c${i}.png`), i, 3);
    const lib = open(home, { progressMs: 0 });
    try {
      const p = await lib.indexFolders([photos], (e) => {
        if (e.phase === 'indexing' && e.done > 0) lib.cancelIndexing();
      });
      expect(p.phase).toBe('cancelled');
      expect(p.indexed).toBeLessThan(40);
      expect(await expectNoGarbage(lib)).toBe(p.indexed);
    } finally {
      lib.close();
    }
  });
});

describe('the start-up sweep', () => {
  it('removes what a killed process left, once old enough that no live process can be writing it', async () => {
    const home = path.join(tmp, 'sweep-home');
    const photos = path.join(tmp, 'sweep-photos');
    for (let i = 0; i < 3; i++) await paint(path.join(photos, `s${i}.png`), i, 5);
    let lib = open(home);
    await lib.indexFolders([photos]);
    const kept = await thumbnailFiles(lib);
    const [used] = lib.db.prepare('SELECT hash FROM photos ORDER BY id').pluck().all() as string[];
    // a thumbnail from before the cache was measured: it gets its size row
    lib.db.prepare('DELETE FROM thumbnails WHERE hash = ?').run(used);
    const dir = lib.thumbnailsDir;
    lib.close();

    const old = new Date(Date.now() - SWEEP_AGE_MS - 60_000);
    const plant = async (file: string, when?: Date) => {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, 'left behind');
      if (when) await utimes(file, when, when);
      return file;
    };
    const orphan = 'ab'.repeat(32);
    const planted = [
      // what a killed indexer leaves: a thumbnail's temporary file, and a thumbnail whose row was never committed
      await plant(`${thumbnailPath(dir, orphan)}.0b5c3a52-5d1e-4b8e-a1f4-2f0c9e8d7a61.tmp`, old),
      await plant(thumbnailPath(dir, orphan), old),
      await plant(path.join(home, 'vocabulary.json.4242.1700000000000.tmp'), old),
    ];
    // fresh ones may belong to a process writing right now (the CLI beside the window): left alone
    const fresh = [
      await plant(`${thumbnailPath(dir, 'cd'.repeat(32))}.1b5c3a52-5d1e-4b8e-a1f4-2f0c9e8d7a61.tmp`),
      await plant(thumbnailPath(dir, 'ef'.repeat(32))),
    ];
    const notOurs = await plant(path.join(dir, 'ab', 'notes.txt'), old);

    lib = open(home);
    try {
      expect(await lib.swept).toEqual({ temporary: 2, orphans: 1, measured: 1 });
      for (const f of planted) await expect(stat(f)).rejects.toThrow(/ENOENT/);
      for (const f of [...fresh, notOurs]) await stat(f);
      const after = await thumbnailFiles(lib);
      for (const name of kept) expect(after).toContain(name);
      expect(lib.store.hasThumbnailRow(used!)).toBe(true);
      expect(lib.cacheBytes()).toBeGreaterThan(0);
    } finally {
      lib.close();
    }
  });

  it('deletes nothing it cannot check: a library closed during its sweep keeps every thumbnail', async () => {
    const home = path.join(tmp, 'closed-home');
    const photos = path.join(tmp, 'closed-photos');
    for (let i = 0; i < 3; i++) await paint(path.join(photos, `k${i}.png`), i, 6);
    let lib = open(home);
    await lib.indexFolders([photos]);
    const live = (lib.db.prepare('SELECT hash FROM photos').pluck().all() as string[]).map((h) =>
      thumbnailPath(lib.thumbnailsDir, h),
    );
    lib.close();
    // old enough to be swept, were they unused
    const old = new Date(Date.now() - SWEEP_AGE_MS - 60_000);
    for (const file of live) await utimes(file, old, old);
    lib = open(home);
    lib.close(); // a CLI command ends while the sweep has barely begun
    await lib.swept;
    lib = open(home);
    try {
      await lib.swept;
      expect(live).toHaveLength(3);
      for (const file of live) await stat(file);
    } finally {
      lib.close();
    }
  });
});

describe('folders changed while a run is under way', () => {
  it('a second index run started in the same moment is refused, not run beside the first', async () => {
    const home = path.join(tmp, 'twice-home');
    const dir = path.join(tmp, 'twice');
    for (let i = 0; i < 6; i++) await paint(path.join(dir, `t${i}.png`), i, 11);
    const lib = open(home);
    try {
      // both calls start before either reaches its first await's end
      const [a, b] = await Promise.allSettled([lib.indexFolders([dir]), lib.indexFolders([dir])]);
      expect(a.status).toBe('fulfilled');
      expect(b.status).toBe('rejected');
      expect((b as PromiseRejectedResult).reason.message).toMatch(/already in progress/);
      expect(lib.store.photoCount()).toBe(6);
      await expectNoGarbage(lib);
      expect((await lib.indexFolders([dir])).unchanged).toBe(6); // the guard is released when the run ends
    } finally {
      lib.close();
    }
  });

  it("a removed folder's id is never given to another folder", async () => {
    const home = path.join(tmp, 'ids-home');
    const [x, y, z] = ['x', 'y', 'z'].map((n) => path.join(tmp, 'ids', n));
    for (const d of [x, y, z]) await mkdir(d!, { recursive: true });
    let lib = open(home);
    let removedId: number;
    try {
      await lib.addFolder(x!);
      removedId = (await lib.addFolder(y!)).id; // the highest id: the one SQLite would hand out again
      lib.removeFolder(y!);
    } finally {
      lib.close();
    }
    lib = open(home); // the high-water mark survives a restart
    try {
      const added = await lib.addFolder(z!);
      expect(added.id).toBeGreaterThan(removedId);
    } finally {
      lib.close();
    }
  });

  it('a removed folder is skipped and a new one indexed after, without an error', async () => {
    const home = path.join(tmp, 'busy-home');
    const a = path.join(tmp, 'busy', 'a');
    const b = path.join(tmp, 'busy', 'b');
    const c = path.join(tmp, 'busy', 'c');
    for (let i = 0; i < 12; i++) await paint(path.join(a, `a${i}.png`), i, 7);
    for (let i = 0; i < 12; i++) await paint(path.join(b, `b${i}.png`), i, 8);
    for (let i = 0; i < 5; i++) await paint(path.join(c, `c${i}.png`), i, 9);
    const lib = open(home, { progressMs: 0 });
    try {
      let added: Promise<unknown> | null = null;
      const p = await lib.indexFolders([a, b], (e) => {
        if (e.phase === 'indexing' && e.done > 0 && !added) {
          // b's files come after a's: the run is past neither
          lib.removeFolder(b);
          added = lib.addFolder(c);
        }
      });
      await added;
      expect(p.phase).toBe('done');
      expect(lib.folders().map((f) => [f.path, f.photos])).toEqual([
        [a, 12],
        [c, 5],
      ]);
      expect(lib.store.photoCount()).toBe(17);
      expect(p.indexed).toBe(17);
      await expectNoGarbage(lib);
    } finally {
      lib.close();
    }
  });

  it('a parent folder added meanwhile adopts the folders being indexed', async () => {
    const home = path.join(tmp, 'adopt-home');
    const parent = path.join(tmp, 'adopt');
    const a = path.join(parent, 'a');
    const b = path.join(parent, 'b');
    for (let i = 0; i < 8; i++) await paint(path.join(a, `a${i}.png`), i, 10);
    for (let i = 0; i < 8; i++) await paint(path.join(b, `b${i}.png`), i, 11);
    await paint(path.join(parent, 'loose.png'), 1, 12);
    const lib = open(home, { progressMs: 0 });
    try {
      let added: Promise<unknown> | null = null;
      const events: IndexProgress[] = [];
      const p = await lib.indexFolders([a, b], (e) => {
        events.push(e);
        if (e.phase === 'indexing' && e.done > 0 && !added) added = lib.addFolder(parent);
      });
      await added;
      expect(p).toMatchObject({ phase: 'done', indexed: 17 });
      expect(lib.folders().map((f) => [f.path, f.photos])).toEqual([[parent, 17]]);
      // one run as the window sees it: a single final event, with the counts of all
      expect(events.filter((e) => e.phase === 'done')).toEqual([p]);
    } finally {
      lib.close();
    }
  });
});

describe('index progress', () => {
  it('is coalesced: far fewer events than files, every phase change, and the final counts last', async () => {
    const home = path.join(tmp, 'progress-home');
    const photos = path.join(tmp, 'progress-photos');
    const files = 120;
    for (let i = 0; i < files; i++) await paint(path.join(photos, `q${i}.png`), i, 13);
    const lib = open(home, { batchSize: 8 });
    try {
      const first: IndexProgress[] = [];
      const p = await lib.indexFolders([photos], (e) => first.push(e));
      expect(p).toMatchObject({ phase: 'done', indexed: files, done: files, found: files });
      expect(first.at(-1)).toEqual(p);
      expect(first.map((e) => e.phase).filter((ph, i, all) => ph !== all[i - 1])).toEqual([
        'scanning',
        'indexing',
        'done',
      ]);

      // a run that only scans: one event per file before
      const again: IndexProgress[] = [];
      const q = await lib.indexFolders(undefined, (e) => again.push(e));
      expect(q).toMatchObject({ phase: 'done', unchanged: files, found: files });
      expect(again.length).toBeLessThan(files / 10);
      expect(again.at(-1)).toEqual(q);
    } finally {
      lib.close();
    }
  });
});

describe('XMP export', () => {
  it('reports a malformed sidecar, leaves it untouched, and writes the others', async () => {
    const home = path.join(tmp, 'xmp-home');
    const photos = path.join(tmp, 'xmp-photos');
    await img.writeSolid(path.join(photos, 'a.png'), [230, 20, 20], 30, 30);
    await img.writeSolid(path.join(photos, 'b.png'), [20, 20, 230], 30, 30);
    await img.writeSolid(path.join(photos, 'c.png'), [20, 230, 20], 30, 30);
    const lib = open(home);
    try {
      await lib.indexFolders([photos]);
      for (const f of ['a.png', 'b.png', 'c.png']) lib.addTag(path.join(photos, f), 'holiday');
      const bad = path.join(photos, 'b.png.xmp');
      const garbage = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>not closed';
      await writeFile(bad, garbage);
      const out = await lib.exportXmp(photos);
      expect(out.failed).toEqual([
        {
          photo: path.join(photos, 'b.png'),
          sidecar: bad,
          message: expect.stringMatching(/b\.png\.xmp is not well-formed XMP/),
        },
      ]);
      expect(out.written.map((w) => path.basename(w.path)).sort()).toEqual(['a.png.xmp', 'c.png.xmp']);
      expect(await readFile(bad, 'utf8')).toBe(garbage);
      expect(await readFile(path.join(photos, 'c.png.xmp'), 'utf8')).toMatch(/holiday/);
    } finally {
      lib.close();
    }
  });

  it('refuses a folder that is not in the library, by id or by path, writing nothing', async () => {
    const home = path.join(tmp, 'xmp-home');
    const photos = path.join(tmp, 'xmp-photos');
    const lib = open(home);
    try {
      for (const f of ['a.png.xmp', 'c.png.xmp']) await rm(path.join(photos, f));
      await expect(lib.exportXmp(9999)).rejects.toMatchObject({
        code: 'folder-missing',
        message: 'there is no folder 9999 in the library',
      });
      await expect(lib.exportXmp(path.join(tmp, 'elsewhere'))).rejects.toMatchObject({ code: 'folder-missing' });
      expect((await readdir(photos)).filter((f) => f.endsWith('.xmp'))).toEqual(['b.png.xmp']);
      const [folder] = lib.folders();
      expect((await lib.exportXmp(folder!.id)).written.length).toBe(2);
    } finally {
      lib.close();
    }
  });
});
