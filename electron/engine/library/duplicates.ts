// Near-duplicate photos from nearest neighbours, not all pairs: an HNSW graph (usearch) over the vectors, each
// vector's nearest neighbours above the threshold (re-checked exactly against the float vectors), joined
// transitively with union-find. The work runs in short slices that yield to the event loop (each slice sized by
// its measured time), so the engine keeps serving chat tokens and progress; progress and cancel between slices.
import { Index } from 'usearch';
import { dot, graphNeighbours, type Neighbours } from './vector-index.ts';

/** Photos linked by a similarity of at least the threshold, joined transitively; `similarity`: the weakest member's best link. */
export interface DuplicateGroup {
  ids: number[];
  similarity: number;
}

export interface DuplicateOptions {
  signal?: AbortSignal;
  /** Called between slices: `done` of `total` steps (building the graph, then searching it: 2 steps a photo). */
  onProgress?: (done: number, total: number) => void;
  /** Neighbours looked at per photo before widening (a photo whose neighbours are all above the threshold is asked again with more). */
  k?: number;
  /**
   * A graph already built over these photos (the library's index in its graph regime): its neighbours (photo ids,
   * approximate similarities) are used and no graph is built. Ids it returns that are not among `ids` are skipped.
   */
  graph?: NeighbourSearch;
}

/** Nearest neighbours of a vector from an existing graph: photo ids and approximate similarities, best first. */
export type NeighbourSearch = (v: Float32Array, k: number) => Neighbours;

/** Thrown by findDuplicates when its signal aborts. */
export class DuplicatesCancelled extends Error {
  override readonly name = 'AbortError';
  constructor() {
    super('finding duplicates was cancelled');
  }
}

/** A slice of synchronous work should block the loop for about this long (the loop lag it causes). */
const SLICE_MS = 15;
/** Approximate (int8) scores this far below the threshold are re-checked exactly. */
const MARGIN = 0.03;

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs `step(from, count)` over [0, n) in slices timed to about SLICE_MS, yielding to the loop between them. */
async function sliced(
  n: number,
  step: (from: number, count: number) => void,
  after: (done: number) => void,
  signal: AbortSignal | undefined,
  start = 8,
): Promise<void> {
  let size = start;
  for (let at = 0; at < n; ) {
    if (signal?.aborted) throw new DuplicatesCancelled();
    const count = Math.min(size, n - at);
    const t = performance.now();
    step(at, count);
    const ms = performance.now() - t;
    at += count;
    after(at);
    if (ms < SLICE_MS / 2) size *= 2;
    else if (ms > SLICE_MS * 2 && size > 1) size = Math.max(1, size >> 1);
    await tick();
  }
  if (signal?.aborted) throw new DuplicatesCancelled();
}

/** Union-find over rows, with each row's best link: the groups in the order of the all-pairs method. */
class Groups {
  private readonly parent: Int32Array;
  readonly best: Float32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
    this.best = new Float32Array(n).fill(-1);
  }
  find(i: number): number {
    const p = this.parent;
    while (p[i] !== i) {
      p[i] = p[p[i]!]!;
      i = p[i]!;
    }
    return i;
  }
  link(a: number, b: number, s: number): void {
    this.parent[this.find(a)] = this.find(b);
    if (s > this.best[a]!) this.best[a] = s;
    if (s > this.best[b]!) this.best[b] = s;
  }
  result(ids: ArrayLike<number>): DuplicateGroup[] {
    const groups = new Map<number, number[]>();
    for (let i = 0; i < this.best.length; i++) {
      if (this.best[i]! < 0) continue;
      const root = this.find(i);
      const g = groups.get(root) ?? [];
      g.push(i);
      groups.set(root, g);
    }
    return [...groups.values()]
      .map((rows) => ({
        ids: rows.map((r) => ids[r]!).sort((x, y) => x - y),
        similarity: rows.reduce((m, r) => Math.min(m, this.best[r]!), Number.POSITIVE_INFINITY),
      }))
      .sort((x, y) => y.ids.length - x.ids.length || x.ids[0]! - y.ids[0]!);
  }
}

/**
 * The reference: every pair compared, O(n²·dim), on the caller's loop. For tests and small libraries only.
 * `vectors`: `ids.length` rows of `dim` values, row-major.
 */
export function allPairsDuplicates(
  ids: ArrayLike<number>,
  vectors: Float32Array,
  dim: number,
  threshold: number,
): DuplicateGroup[] {
  const n = ids.length;
  const groups = new Groups(n);
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const s = dot(vectors, a * dim, vectors, b * dim, dim);
      if (s >= threshold) groups.link(a, b, s);
    }
  }
  return groups.result(ids);
}

/**
 * Groups of near-duplicates among `ids` (their `vectors`: row-major, `dim` values a row, unit length) whose
 * similarity (dot product) is at least `threshold`: each photo's nearest neighbours from an HNSW graph, pairs
 * confirmed with exact dot products, joined transitively. Yields to the event loop between short slices; reports
 * progress; rejects with DuplicatesCancelled ("finding duplicates was cancelled") soon after `signal` aborts.
 */
export async function findDuplicates(
  ids: ArrayLike<number>,
  vectors: Float32Array,
  dim: number,
  threshold: number,
  options: DuplicateOptions = {},
): Promise<DuplicateGroup[]> {
  const { signal, onProgress } = options;
  const n = ids.length;
  if (vectors.length < n * dim) throw new Error(`${n} photos need ${n * dim} values, ${vectors.length} were given`);
  const k0 = Math.min(n, (options.k ?? 8) + 1);
  const groups = new Groups(n);
  if (signal?.aborted) throw new DuplicatesCancelled();
  if (n < 2) return [];
  const total = options.graph ? n : 2 * n;
  const progress = (done: number) => onProgress?.(done, total);
  progress(0);
  /** Neighbours of rows [from, from + count), as rows (-1: not one of these photos). */
  let neighboursOf: (from: number, count: number, k: number) => { rows: number[]; scores: number[] }[];
  if (options.graph) {
    const search = options.graph;
    const rowOf = new Map<number, number>();
    for (let r = 0; r < n; r++) rowOf.set(ids[r]!, r);
    neighboursOf = (from, count, k) =>
      Array.from({ length: count }, (_, i) => {
        const m = search(vectors.subarray((from + i) * dim, (from + i + 1) * dim), k);
        return { rows: m.ids.map((id) => rowOf.get(id) ?? -1), scores: m.scores };
      });
  } else {
    const graph = new Index({
      dimensions: dim,
      metric: 'cos' as never,
      quantization: 'i8' as never,
      connectivity: 16,
      expansion_add: 64,
      expansion_search: 64,
      multi: false,
    });
    const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
    await sliced(
      n,
      (from, count) =>
        graph.add(keys.subarray(from, from + count), vectors.subarray(from * dim, (from + count) * dim), 0),
      progress,
      signal,
    );
    neighboursOf = (from, count, k) =>
      graphNeighbours(graph, vectors.subarray(from * dim, (from + count) * dim), dim, k, 0).map((m) => ({
        rows: m.ids,
        scores: m.scores,
      }));
  }
  const base = total - n;
  const linkAll = (row: number, m: { rows: number[]; scores: number[] }) => {
    for (let i = 0; i < m.rows.length; i++) {
      const other = m.rows[i]!;
      if (other < 0 || other === row || m.scores[i]! < threshold - MARGIN) continue;
      const s = dot(vectors, row * dim, vectors, other * dim, dim);
      if (s >= threshold) groups.link(row, other, s);
    }
  };
  /** Every neighbour looked at is a candidate: there may be more than were asked for. */
  const saturated = (m: { rows: number[]; scores: number[] }, k: number) =>
    m.rows.length === k && k < n && m.scores.every((s) => s >= threshold - MARGIN);
  await sliced(
    n,
    (from, count) => {
      const found = neighboursOf(from, count, k0); // one batch: both cores
      found.forEach((first, i) => {
        const row = from + i;
        let m = first;
        let k = k0;
        while (saturated(m, k)) {
          k = Math.min(n, k * 4);
          m = neighboursOf(row, 1, k)[0]!;
        }
        linkAll(row, m);
      });
    },
    (done) => progress(base + done),
    signal,
  );
  return groups.result(ids);
}
