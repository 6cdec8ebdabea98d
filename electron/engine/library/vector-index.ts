// Exact nearest-neighbour search over every photo's embedding, held in memory as one Float32Array. Brute force is
// the design's choice until measurements ask for more: 100,000 photos are about 200 MB and a query scans them in
// tens of milliseconds. Rows are updated as the indexer commits, so searches answer while indexing runs.
import type { LibraryStore } from './store.ts';

export interface Hit {
  id: number;
  score: number;
}

export class VectorIndex {
  private ids = new Int32Array(0);
  private vectors = new Float32Array(0);
  private rowOf = new Map<number, number>();
  private count = 0;

  constructor(readonly dim: number) {}

  static load(store: LibraryStore, model: string, dim: number): VectorIndex {
    const index = new VectorIndex(dim);
    const rows = store.embeddingRows(model);
    // one allocation for all rows, filled straight from the blobs: no per-row arrays, no regrowth
    index.ids = new Int32Array(Math.max(1024, rows.length));
    index.vectors = new Float32Array(index.ids.length * dim);
    for (const { id, vector } of rows) {
      if (vector.byteLength !== dim * 4) continue; // another model's size: never in this model's rows
      const row = index.count++;
      index.ids[row] = id;
      index.rowOf.set(id, row);
      // a byte copy: a blob's offset in its buffer need not be aligned for a Float32Array view
      new Uint8Array(index.vectors.buffer, row * dim * 4, dim * 4).set(vector);
    }
    return index;
  }

  get size(): number {
    return this.count;
  }

  vector(id: number): Float32Array | undefined {
    const row = this.rowOf.get(id);
    return row === undefined ? undefined : this.vectors.subarray(row * this.dim, (row + 1) * this.dim);
  }

  upsert(id: number, v: Float32Array): void {
    if (v.length !== this.dim) throw new Error(`embedding has ${v.length} values, the index holds ${this.dim}`);
    let row = this.rowOf.get(id);
    if (row === undefined) {
      if (this.count === this.ids.length) this.grow();
      row = this.count++;
      this.rowOf.set(id, row);
      this.ids[row] = id;
    }
    this.vectors.set(v, row * this.dim);
  }

  remove(id: number): void {
    const row = this.rowOf.get(id);
    if (row === undefined) return;
    const last = --this.count;
    if (row !== last) {
      const movedId = this.ids[last]!;
      this.ids[row] = movedId;
      this.vectors.copyWithin(row * this.dim, last * this.dim, (last + 1) * this.dim);
      this.rowOf.set(movedId, row);
    }
    this.rowOf.delete(id);
  }

  private grow(): void {
    const cap = Math.max(1024, this.ids.length * 2);
    const ids = new Int32Array(cap);
    ids.set(this.ids);
    const vectors = new Float32Array(cap * this.dim);
    vectors.set(this.vectors);
    this.ids = ids;
    this.vectors = vectors;
  }

  /** The `k` best rows by dot product with `q`, among `allowed` ids when given. */
  search(q: Float32Array, k: number, allowed?: Set<number>, minScore = Number.NEGATIVE_INFINITY): Hit[] {
    const { dim, vectors, ids } = this;
    // A small sorted buffer of the best k: cheaper than sorting every score.
    const top: Hit[] = [];
    let worst = Number.NEGATIVE_INFINITY;
    for (let r = 0; r < this.count; r++) {
      const id = ids[r]!;
      if (allowed && !allowed.has(id)) continue;
      const o = r * dim;
      // four accumulators: about twice as fast as one on V8
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let d = 0;
      for (; d + 3 < dim; d += 4) {
        s0 += vectors[o + d]! * q[d]!;
        s1 += vectors[o + d + 1]! * q[d + 1]!;
        s2 += vectors[o + d + 2]! * q[d + 2]!;
        s3 += vectors[o + d + 3]! * q[d + 3]!;
      }
      for (; d < dim; d++) s0 += vectors[o + d]! * q[d]!;
      const s = s0 + s1 + s2 + s3;
      if (s < minScore || (top.length === k && s <= worst)) continue;
      let i = top.length;
      while (i > 0 && top[i - 1]!.score < s) i--;
      top.splice(i, 0, { id, score: s });
      if (top.length > k) top.pop();
      worst = top[top.length - 1]!.score;
    }
    return top;
  }

  /**
   * Groups of near-duplicates: photos linked by a similarity of at least `threshold`, joined transitively.
   * Exact pairwise comparison, O(n²·dim): seconds for ten thousand photos.
   */
  duplicateGroups(threshold: number): { ids: number[]; similarity: number }[] {
    const { dim, vectors, ids } = this;
    const n = this.count;
    const parent = Int32Array.from({ length: n }, (_, i) => i);
    const best = new Float32Array(n).fill(-1);
    const find = (i: number): number => {
      while (parent[i] !== i) {
        parent[i] = parent[parent[i]!]!;
        i = parent[i]!;
      }
      return i;
    };
    for (let a = 0; a < n; a++) {
      const oa = a * dim;
      for (let b = a + 1; b < n; b++) {
        const ob = b * dim;
        let s = 0;
        for (let d = 0; d < dim; d++) s += vectors[oa + d]! * vectors[ob + d]!;
        if (s >= threshold) {
          parent[find(a)] = find(b);
          best[a] = Math.max(best[a]!, s);
          best[b] = Math.max(best[b]!, s);
        }
      }
    }
    const groups = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      if (best[i]! < 0) continue;
      const root = find(i);
      const g = groups.get(root) ?? [];
      g.push(i);
      groups.set(root, g);
    }
    return [...groups.values()]
      .map((rows) => ({
        ids: rows.map((r) => ids[r]!).sort((x, y) => x - y),
        similarity: Math.min(...rows.map((r) => best[r]!)),
      }))
      .sort((x, y) => y.ids.length - x.ids.length || x.ids[0]! - y.ids[0]!);
  }
}
