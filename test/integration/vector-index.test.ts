// The vector index on usearch, against a real SQLite library (the source of truth) and the plain-JS exact scan
// (the reference): exact and filtered results in both regimes (exact scan, HNSW graph), the index file beside the
// database (saved, reloaded, rebuilt when deleted, damaged or stale), and a photo removed and added again.
import { existsSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../../electron/engine/db/database.ts';
import { allPairsDuplicates } from '../../electron/engine/library/duplicates.ts';
import { LibraryStore } from '../../electron/engine/library/store.ts';
import {
  currentStamp,
  exactScan,
  type Hit,
  VectorIndex,
  vectorFileFor,
} from '../../electron/engine/library/vector-index.ts';
import { normalizeAt, seededFloats } from '../fixtures/random.ts';

const DIM = 64;
const N = 3000;
const MODEL = 'test-model';

/** Unit vectors clustered around a few centres, as photos' embeddings are. */
const rng = seededFloats;
const unit = (v: Float32Array) => normalizeAt(v);
function clustered(n: number, seed: number, centres = 40): Float32Array[] {
  const r = rng(seed);
  const cs = Array.from({ length: centres }, () => unit(Float32Array.from({ length: DIM }, r.gauss)));
  return Array.from({ length: n }, () => {
    const c = cs[Math.floor(r.next() * centres)]!;
    return unit(Float32Array.from(c, (x) => x + 0.15 * r.gauss()));
  });
}

let tmp: string;
let db: Db;
let store: LibraryStore;
let file: string;
const byId = new Map<number, Float32Array>();

function addPhoto(i: number, v: Float32Array, folderId: number): number {
  const hash = `h${i}-${Math.random().toString(36).slice(2)}`;
  const { id } = store.upsertPhoto({
    path: path.join(tmp, 'photos', `p${i}.jpg`),
    folderId,
    size: 1,
    mtimeMs: i,
    hash,
    width: 1,
    height: 1,
    orientation: null,
    takenAt: null,
  });
  store.putEmbedding(hash, MODEL, v);
  byId.set(id, v);
  return id;
}

/** The reference: the plain-JS exact scan over the photos now in `byId`. */
function reference(q: Float32Array, k: number, allowed?: Set<number>): Hit[] {
  const ids = [...byId.keys()];
  const vectors = new Float32Array(ids.length * DIM);
  ids.forEach((id, i) => {
    vectors.set(byId.get(id)!, i * DIM);
  });
  return exactScan(vectors, ids, q, k, allowed ? (id) => allowed.has(id) : undefined);
}

const expectSame = (got: Hit[], want: Hit[]) => {
  expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
  got.forEach((h, i) => {
    expect(h.score).toBeCloseTo(want[i]!.score, 4);
  });
};

const queries = () => clustered(12, 99);
const subset = (share: number, seed: number) => {
  const r = rng(seed);
  return new Set([...byId.keys()].filter(() => r.next() < share));
};

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-vectors-'));
  db = openDatabase(path.join(tmp, 'library.db'));
  store = new LibraryStore(db);
  const folder = store.addFolder(path.join(tmp, 'photos'));
  db.transaction(() => {
    for (const [i, v] of clustered(N, 1).entries()) addPhoto(i, v, folder.id);
  })();
  file = vectorFileFor(tmp, MODEL);
});

afterAll(async () => {
  db.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('the exact regime (usearch exactSearch)', () => {
  it('returns what the plain-JS exact scan returns, with and without filters of several selectivities', () => {
    const index = VectorIndex.load(store, MODEL, DIM);
    expect(index.approximate).toBe(false);
    expect(index.size).toBe(N);
    for (const q of queries()) {
      expectSame(index.search(q, 10), reference(q, 10));
      for (const [share, seed] of [
        [0.005, 1],
        [0.05, 2],
        [0.15, 3],
        [0.5, 4],
        [0.95, 5],
      ] as const) {
        const allowed = subset(share, seed);
        expectSame(index.search(q, 10, allowed), reference(q, 10, allowed));
      }
    }
  });

  it('a filter that accepts fewer photos than asked for returns them all, and one that accepts none returns none', () => {
    const index = VectorIndex.load(store, MODEL, DIM);
    const q = queries()[0]!;
    const few = new Set([...byId.keys()].slice(0, 3));
    expectSame(index.search(q, 10, few), reference(q, 10, few));
    expect(index.search(q, 10, new Set([-5]))).toEqual([]);
  });

  it('keeps minScore and vector(id)', () => {
    const index = VectorIndex.load(store, MODEL, DIM);
    const [id, v] = [...byId][7]!;
    expect([...index.vector(id)!]).toEqual([...v]);
    const hits = index.search(v, 50, undefined, 0.9);
    expect(hits[0]!.id).toBe(id);
    expect(hits.every((h) => h.score >= 0.9)).toBe(true);
  });
});

describe('the graph regime (usearch HNSW, int8)', () => {
  it('answers unfiltered searches from the graph, with exact scores re-read from SQLite', async () => {
    const index = VectorIndex.load(store, MODEL, DIM, { exactLimit: 500 });
    await index.ready();
    expect(index.approximate).toBe(true);
    let found = 0;
    for (const q of queries()) {
      const got = index.search(q, 10);
      const want = reference(q, 10);
      expect(got).toHaveLength(10);
      const wanted = new Map(want.map((h) => [h.id, h.score]));
      for (const h of got) {
        // scores are exact (re-scored from SQLite's floats), whether or not the photo is in the exact top 10
        expect(h.score).toBeCloseTo(dotOf(q, h.id), 4);
        if (wanted.has(h.id)) found++;
      }
    }
    expect(found / (10 * queries().length)).toBeGreaterThanOrEqual(0.95);
  });

  it('filters scan the codes: the same results as the exact path, at every selectivity', async () => {
    const index = VectorIndex.load(store, MODEL, DIM, { exactLimit: 500 });
    await index.ready();
    expect(index.approximate).toBe(true);
    for (const q of queries()) {
      for (const [share, seed] of [
        [0.01, 11],
        [0.1, 12],
        [0.3, 13],
        [0.7, 14],
      ] as const) {
        const allowed = subset(share, seed);
        expectSame(index.search(q, 10, allowed), reference(q, 10, allowed));
      }
    }
  });

  it('grows from the exact regime into the graph as photos are added, answering exactly meanwhile', async () => {
    const all = [...byId];
    const index = new VectorIndex(DIM, { exactLimit: 1000 });
    index.addBatch(
      all.slice(0, 1500).map(([id]) => id),
      Float32Array.from(all.slice(0, 1500).flatMap(([, v]) => [...v])),
    );
    expect(index.approximate).toBe(false); // building in the background
    index.upsert(all[1600]![0], all[1600]![1]); // a change while it builds is replayed into the graph
    index.remove(all[3]![0]);
    await index.ready();
    expect(index.approximate).toBe(true);
    expect(index.size).toBe(1500);
    expect(index.search(all[1600]![1], 1)[0]!.id).toBe(all[1600]![0]);
    expect(index.search(all[3]![1], 5).map((h) => h.id)).not.toContain(all[3]![0]);
  });
});

function dotOf(q: Float32Array, id: number): number {
  const v = byId.get(id)!;
  let s = 0;
  for (let i = 0; i < DIM; i++) s += v[i]! * q[i]!;
  return s;
}

describe('the index file beside the database', () => {
  const save = (index: VectorIndex) => index.save(file, currentStamp(store, MODEL, DIM));
  const graphFiles = () => readdirSync(path.dirname(file)).filter((f) => f.endsWith('.usearch'));

  for (const exactLimit of [100_000, 500]) {
    const regime = exactLimit === 500 ? 'graph' : 'exact';
    it(`${regime}: results after a reload equal results before; a deleted file is rebuilt`, async () => {
      rmSync(path.dirname(file), { recursive: true, force: true });
      const before = VectorIndex.load(store, MODEL, DIM, { file, exactLimit });
      await before.ready();
      save(before);
      expect(existsSync(file)).toBe(true);
      if (regime === 'graph') expect(graphFiles()).toHaveLength(1);
      const after = VectorIndex.load(store, MODEL, DIM, { file, exactLimit });
      expect(after.origin).toBe('file');
      expect(after.approximate).toBe(regime === 'graph'); // read from the file: no build
      for (const q of queries()) expectSame(after.search(q, 10), before.search(q, 10));
      rmSync(file);
      const rebuilt = VectorIndex.load(store, MODEL, DIM, { file, exactLimit });
      expect(rebuilt.origin).toBe('sqlite');
      await rebuilt.ready();
      expect(rebuilt.size).toBe(before.size);
      expect(rebuilt.approximate).toBe(regime === 'graph');
      // a graph built again is another graph (threads add in any order): the same photos, up to its recall
      let same = 0;
      for (const q of queries()) {
        const want = new Set(before.search(q, 10).map((h) => h.id));
        same += rebuilt.search(q, 10).filter((h) => want.has(h.id)).length;
      }
      expect(same / (10 * queries().length)).toBeGreaterThanOrEqual(regime === 'graph' ? 0.9 : 1);
    });

    it(`${regime}: a damaged file is rebuilt from SQLite, not a crash`, async () => {
      const index = VectorIndex.load(store, MODEL, DIM, { file, exactLimit });
      await index.ready();
      save(index);
      const q = queries()[1]!;
      const want = reference(q, 10);
      if (regime === 'graph') {
        truncateSync(path.join(path.dirname(file), graphFiles()[0]!), 1000);
      } else {
        truncateSync(file, 5000);
      }
      const a = VectorIndex.load(store, MODEL, DIM, { file, exactLimit });
      await a.ready();
      if (regime === 'exact') expectSame(a.search(q, 10), want);
      else expect(a.search(q, 10)).toHaveLength(10);
      writeFileSync(file, 'not an index at all');
      const b = VectorIndex.load(store, MODEL, DIM, { file, exactLimit });
      await b.ready();
      expect(b.size).toBe(byId.size);
    });
  }

  it('every change to photos or embeddings moves the generation on, in its own transaction (triggers)', () => {
    const generation = () => currentStamp(store, MODEL, DIM).generation;
    const folder = store.addFolder(path.join(tmp, 'elsewhere'));
    const steps: [string, () => void][] = [
      ['a photo added', () => addPhoto(N + 100, clustered(1, 5)[0]!, folder.id)],
      [
        'an embedding replaced',
        () => store.putEmbedding(store.photoById([...byId.keys()].at(-1)!)!.hash, MODEL, clustered(1, 6)[0]!),
      ],
      ['a photo deleted', () => store.deletePhotos([[...byId.keys()].at(-1)!])],
      [
        'a folder removed with its photos',
        () => {
          addPhoto(N + 101, clustered(1, 7)[0]!, folder.id);
          const before = generation();
          store.removeFolder(folder.id);
          expect(generation()).not.toBe(before);
        },
      ],
    ];
    for (const [what, change] of steps) {
      const before = generation();
      change();
      expect(generation(), what).not.toBe(before);
    }
    // a rolled-back change leaves it as it was
    const before = generation();
    expect(() =>
      db.transaction(() => {
        addPhoto(N + 102, clustered(1, 8)[0]!, store.folders()[0]!.id);
        throw new Error('rolled back');
      })(),
    ).toThrow('rolled back');
    expect(generation()).toBe(before);
    for (const id of [...byId.keys()]) if (!store.photoById(id)) byId.delete(id);
  });

  it('a stale file (SQLite changed since it was saved) is rebuilt with the change', () => {
    const index = VectorIndex.load(store, MODEL, DIM, { file });
    index.save(file, currentStamp(store, MODEL, DIM));
    // another process adds a photo and bumps the generation; this index never saw it
    const v = clustered(1, 4242)[0]!;
    const id = addPhoto(N + 1, v, store.folders()[0]!.id); // the triggers move the generation on
    const fresh = VectorIndex.load(store, MODEL, DIM, { file });
    expect(fresh.size).toBe(byId.size);
    expect(fresh.search(v, 1)[0]!.id).toBe(id);
  });
});

describe('duplicates over the index', () => {
  const floats = () => {
    const ids = [...byId.keys()];
    const vectors = new Float32Array(ids.length * DIM);
    ids.forEach((id, i) => {
      vectors.set(byId.get(id)!, i * DIM);
    });
    return { ids, vectors };
  };

  for (const exactLimit of [100_000, 500]) {
    it(`equal the all-pairs method over SQLite's floats (${exactLimit === 500 ? 'graph' : 'exact'} regime)`, async () => {
      const index = VectorIndex.load(store, MODEL, DIM, { exactLimit });
      await index.ready();
      const { ids, vectors } = floats();
      const want = allPairsDuplicates(ids, vectors, DIM, 0.6);
      expect(want.length).toBeGreaterThan(0);
      const got = await index.duplicates(0.6);
      expect(got.map((g) => g.ids)).toEqual(want.map((g) => g.ids));
    });
  }

  it('a change while they run does not disturb them: they see the index as it was when they started', async () => {
    const index = VectorIndex.load(store, MODEL, DIM);
    const { ids } = floats();
    // in 8 cells (compared in 2 of them) a run misses some weak links: the same run undisturbed is the reference
    const want = await index.duplicates(0.6, { cells: 8 });
    expect(want.length).toBeGreaterThan(10);
    const run = index.duplicates(0.6, { cells: 8 });
    // between its slices: one photo of the first group leaves the index, another photo moves into its row
    const [gone] = want[0]!.ids;
    index.remove(gone!);
    const v = clustered(1, 777)[0]!;
    index.upsert(999_999, v);
    const got = await run;
    expect(got.map((g) => g.ids)).toEqual(want.map((g) => g.ids));
    // and the index itself has the change (999,999 is in no SQLite row: its codes only)
    expect(index.vector(gone!)).toBeUndefined();
    expect(index.size).toBe(ids.length);
    expect(index.search(byId.get(gone!)!, 20).map((h) => h.id)).not.toContain(gone);
  });
});

describe('a photo removed and added again', () => {
  for (const exactLimit of [100_000, 500]) {
    it(`is found exactly once (${exactLimit === 500 ? 'graph' : 'exact'} regime)`, async () => {
      const index = VectorIndex.load(store, MODEL, DIM, { exactLimit });
      await index.ready();
      const [id, v] = [...byId][42]!;
      index.remove(id);
      expect(index.search(v, 20).map((h) => h.id)).not.toContain(id);
      expect(index.vector(id) === undefined || exactLimit === 500).toBe(true);
      index.upsert(id, v);
      index.upsert(id, v); // twice: still once
      const hits = index.search(v, 20).map((h) => h.id);
      expect(hits.filter((x) => x === id)).toHaveLength(1);
      expect(hits[0]).toBe(id);
      expect(index.size).toBe(byId.size);
    });
  }

  it('through SQLite: deleted, inserted again under a new id, and reloaded', () => {
    const [id, v] = [...byId][43]!;
    store.deletePhotos([id]);
    byId.delete(id);
    const newId = addPhoto(N + 7, v, store.folders()[0]!.id);
    const index = VectorIndex.load(store, MODEL, DIM, { file });
    const hits = index.search(v, 20).map((h) => h.id);
    expect(hits.filter((x) => x === newId)).toHaveLength(1);
    expect(hits).not.toContain(id);
  });
});
