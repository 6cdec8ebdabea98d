// Near-duplicates from nearest neighbours (usearch HNSW, slices that yield to the loop): planted near-copies are
// found, the groups equal the all-pairs method's on a small library, and a cancel part way stops the work with a
// clear message while the loop keeps turning.
import { describe, expect, it } from 'vitest';
import {
  allPairsDuplicates,
  DuplicatesCancelled,
  findDuplicates,
  quantize,
} from '../../electron/engine/library/duplicates.ts';
import { normalizeAt, seededFloats } from '../fixtures/random.ts';

const DIM = 64;

const rng = seededFloats;
const unitAt = (v: Float32Array, o: number) => normalizeAt(v, o, DIM);
const dotAt = (v: Float32Array, a: number, b: number) => {
  let s = 0;
  for (let d = 0; d < DIM; d++) s += v[a * DIM + d]! * v[b * DIM + d]!;
  return s;
};

/**
 * `n` clustered unit vectors (ids 1000 + row), the last `copies` rows near-copies (cosine >= 0.97) of earlier rows,
 * some of those of the same original (groups of three).
 */
function library(n: number, copies: number, seed: number) {
  const r = rng(seed);
  const centres = 30;
  const cs = new Float32Array(centres * DIM).map(r.gauss);
  for (let c = 0; c < centres; c++) unitAt(cs, c * DIM);
  const vectors = new Float32Array(n * DIM);
  const originals = n - copies;
  for (let i = 0; i < originals; i++) {
    const c = Math.floor(r.next() * centres);
    for (let d = 0; d < DIM; d++) vectors[i * DIM + d] = cs[c * DIM + d]! + 0.25 * r.gauss();
    unitAt(vectors, i * DIM);
  }
  const planted: [number, number][] = [];
  for (let j = 0; j < copies; j++) {
    const row = originals + j;
    const of = j % 3 === 2 ? planted[planted.length - 1]![0] : Math.floor(r.next() * originals); // a third copy joins a pair
    for (;;) {
      for (let d = 0; d < DIM; d++) vectors[row * DIM + d] = vectors[of * DIM + d]! + 0.02 * r.gauss();
      unitAt(vectors, row * DIM);
      if (dotAt(vectors, row, of) >= 0.97) break;
    }
    planted.push([of, row]);
  }
  const ids = Int32Array.from({ length: n }, (_, i) => 1000 + i);
  return { ids, vectors, planted: planted.map(([a, b]) => [ids[a]!, ids[b]!] as const) };
}

describe('findDuplicates', () => {
  it('finds every planted near-copy', async () => {
    const { ids, vectors, planted } = library(4000, 60, 1);
    const groups = await findDuplicates(ids, vectors, DIM, 0.95);
    const groupOf = new Map<number, number>();
    groups.forEach((g, i) => {
      for (const id of g.ids) groupOf.set(id, i);
    });
    for (const [a, b] of planted) {
      expect(groupOf.get(a)).toBeDefined();
      expect(groupOf.get(a)).toBe(groupOf.get(b));
    }
    expect(groups.every((g) => g.similarity >= 0.95 && g.ids.length >= 2)).toBe(true);
  });

  it('gives the same groups as the all-pairs method on a small library', async () => {
    for (const [n, threshold, seed] of [
      [1500, 0.95, 2],
      [1500, 0.8, 3],
      [800, 0.9, 4],
    ] as const) {
      const { ids, vectors } = library(n, 45, seed);
      const want = allPairsDuplicates(ids, vectors, DIM, threshold);
      const got = await findDuplicates(ids, vectors, DIM, threshold);
      expect(want.length).toBeGreaterThan(0);
      expect(got.map((g) => g.ids)).toEqual(want.map((g) => g.ids));
      got.forEach((g, i) => {
        expect(g.similarity).toBeCloseTo(want[i]!.similarity, 5);
      });
    }
  });

  it('in many cells (each photo compared in its nearest and those nearly as near), still the groups of the all-pairs method', async () => {
    for (const [n, threshold, seed, cells] of [
      [2500, 0.95, 7, 40],
      [2500, 0.9, 8, 70],
      [1200, 0.95, 10, 400],
    ] as const) {
      const { ids, vectors } = library(n, 45, seed);
      const steps: [number, number][] = [];
      const got = await findDuplicates(ids, vectors, DIM, threshold, {
        cells,
        onProgress: (done, total) => steps.push([done, total]),
      });
      expect(got.map((g) => g.ids)).toEqual(allPairsDuplicates(ids, vectors, DIM, threshold).map((g) => g.ids));
      // moving the centres, filing every photo, then comparing each in one cell or more: reported to the end
      const [done, total] = steps.at(-1)!;
      expect(done).toBe(total);
      expect(total).toBeGreaterThanOrEqual(3 * n);
      expect(steps.every(([d], i) => i === 0 || d >= steps[i - 1]![0])).toBe(true);
    }
  });

  it('int8 codes rank as the float vectors do: quantize keeps each row within a rounding step', () => {
    const { vectors } = library(50, 0, 11);
    const codes = quantize(vectors, DIM);
    for (let r = 0; r < 50; r++) {
      let max = 0;
      for (let d = 0; d < DIM; d++) max = Math.max(max, Math.abs(vectors[r * DIM + d]!));
      for (let d = 0; d < DIM; d++) {
        expect(Math.abs((codes[r * DIM + d]! * max) / 127 - vectors[r * DIM + d]!)).toBeLessThanOrEqual(
          max / 254 + 1e-7,
        );
      }
    }
  });

  it('a group denser than the neighbours looked at is found whole (the search widens)', async () => {
    // 40 near-identical photos: more than the 4 neighbours asked for first
    const r = rng(9);
    const n = 600;
    const vectors = new Float32Array(n * DIM).map(r.gauss);
    for (let i = 0; i < 40; i++)
      vectors.set(
        vectors.subarray(0, DIM).map((x) => x + 0.01 * r.gauss()),
        i * DIM,
      );
    for (let i = 0; i < n; i++) unitAt(vectors, i * DIM);
    const ids = Int32Array.from({ length: n }, (_, i) => i + 1);
    const got = await findDuplicates(ids, vectors, DIM, 0.95, { k: 4 });
    expect(got.map((g) => g.ids)).toEqual(allPairsDuplicates(ids, vectors, DIM, 0.95).map((g) => g.ids));
    expect(got[0]!.ids).toHaveLength(40);
  });

  it('reports progress in many slices and, cancelled part way, stops with a clear message while the loop turns', async () => {
    const { ids, vectors } = library(4000, 40, 5);
    const controller = new AbortController();
    const seen: [number, number][] = [];
    let turns = 0;
    let ticking = true;
    const tick = () => {
      if (!ticking) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    let turnsAtAbort = 0;
    const run = findDuplicates(ids, vectors, DIM, 0.95, {
      signal: controller.signal,
      onProgress: (done, total) => {
        seen.push([done, total]);
        if (done >= total / 4 && !controller.signal.aborted) {
          turnsAtAbort = turns;
          controller.abort();
        }
      },
    });
    await expect(run).rejects.toThrow(DuplicatesCancelled);
    await expect(run).rejects.toThrow('finding duplicates was cancelled');
    ticking = false;
    const last = seen[seen.length - 1]!;
    expect(last[0]).toBeLessThan(last[1]); // stopped before the end
    expect(seen.length).toBeGreaterThan(3); // in slices
    expect(turnsAtAbort).toBeGreaterThan(3); // the loop turned while it ran
  });

  it('an already aborted signal rejects at once', async () => {
    const { ids, vectors } = library(200, 10, 6);
    await expect(findDuplicates(ids, vectors, DIM, 0.95, { signal: AbortSignal.abort() })).rejects.toThrow(
      'finding duplicates was cancelled',
    );
  });
});
