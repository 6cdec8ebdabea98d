// The search benchmark's synthetic embeddings (test/bench/search-data.ts): shaped like CLIP's, planted duplicates
// where they are said to be, and the same vectors for the same seed.
import { describe, expect, it } from 'vitest';
import { dot, FILTER_TAG, SyntheticEmbeddings } from '../bench/search-data.ts';

const N = 5000;
const data = new SyntheticEmbeddings({ vectors: N, seed: 7 });
const all = data.chunk(0, N);
const row = (i: number) => all.subarray(i * data.dim, (i + 1) * data.dim);

describe('search benchmark data', () => {
  it('makes unit vectors of 512 values', () => {
    expect(data.dim).toBe(512);
    expect(all.length).toBe(N * 512);
    for (let i = 0; i < N; i += 7) expect(Math.sqrt(dot(row(i), row(i)))).toBeCloseTo(1, 5);
    for (const q of data.queries(20)) expect(Math.sqrt(dot(q, q))).toBeCloseTo(1, 5);
  });

  it('clusters photos: close within a cluster (CLIP-like 0.7-0.9), far across', () => {
    const byCluster = new Map<number, number[]>();
    for (let i = 0; i < N; i++) {
      if (data.isCopy(i)) continue;
      const k = data.clusterOf(i);
      byCluster.set(k, [...(byCluster.get(k) ?? []), i]);
    }
    const within: number[] = [];
    for (const ids of byCluster.values()) if (ids.length > 1) within.push(dot(row(ids[0]!), row(ids[1]!)));
    const across: number[] = [];
    for (let i = 0; i + 1 < N; i += 17)
      if (data.clusterOf(i) !== data.clusterOf(i + 1)) across.push(dot(row(i), row(i + 1)));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(within.length).toBeGreaterThan(50);
    expect(mean(within)).toBeGreaterThan(0.7);
    expect(mean(within)).toBeLessThan(0.9);
    expect(mean(across)).toBeLessThan(0.5);
    expect(mean(within) - mean(across)).toBeGreaterThan(0.3);
    // not uniform noise: a random pair of 512-d uniform unit vectors has a cosine near 0
    expect(mean(across)).toBeGreaterThan(0.1);
  });

  it('plants 1% near-copies at a cosine of at least 0.97, and nothing else is that close', () => {
    const pairs = data.plantedPairs();
    expect(pairs.length).toBe(N / 100);
    for (const [o, c] of pairs) {
      expect(data.isCopy(o)).toBe(false);
      expect(o).toBeLessThan(c);
      expect(data.clusterOf(c)).toBe(data.clusterOf(o));
      expect(dot(row(o), row(c))).toBeGreaterThanOrEqual(0.97);
    }
    // the largest cluster's unplanted pairs stay below the duplicates' threshold
    const counts = new Map<number, number>();
    for (let i = 0; i < N; i++) counts.set(data.clusterOf(i), (counts.get(data.clusterOf(i)) ?? 0) + 1);
    const biggest = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    const members = Array.from({ length: N }, (_, i) => i).filter(
      (i) => data.clusterOf(i) === biggest && !data.isCopy(i),
    );
    let max = 0;
    for (let a = 0; a < members.length; a++)
      for (let b = a + 1; b < members.length; b++) max = Math.max(max, dot(row(members[a]!), row(members[b]!)));
    expect(members.length).toBeGreaterThan(5);
    expect(max).toBeLessThan(0.95);
  });

  it('puts queries near the centres, noisier than photos', () => {
    const centre = (k: number) => data.centres.subarray(k * data.dim, (k + 1) * data.dim);
    for (const q of data.queries(20)) {
      let best = -1;
      for (let k = 0; k < data.centreCount; k++) best = Math.max(best, dot(q, centre(k)));
      expect(best).toBeGreaterThan(0.35);
      expect(best).toBeLessThan(0.75);
    }
  });

  it('tags about 10% of photos with the filter tag', () => {
    let n = 0;
    for (let i = 0; i < N; i++) if (data.tag(i) === FILTER_TAG) n++;
    expect(n / N).toBeGreaterThan(0.08);
    expect(n / N).toBeLessThan(0.12);
  });

  it('is deterministic for a seed, and any photo can be made alone', () => {
    const again = new SyntheticEmbeddings({ vectors: N, seed: 7 });
    expect(again.chunk(1000, 1200)).toEqual(all.subarray(1000 * 512, 1200 * 512));
    expect(again.photo(4250)).toEqual(row(4250)); // a planted copy
    expect(again.queries(3)).toEqual(data.queries(3));
    const other = new SyntheticEmbeddings({ vectors: N, seed: 8 });
    expect(dot(other.photo(10), row(10))).toBeLessThan(0.99);
  });
});
