// Near-duplicate photos from nearest neighbours, not all pairs. The vectors are the index's own int8 codes (no float
// copy: a million photos fit in 512 MB); usearch's SIMD exact search does the arithmetic. A flat inverted file:
// about 2·sqrt(2n) cells, their centres sample photos moved once to the mean of the photos nearest them; each photo is
// filed under its nearest centre and compared with the photos of that cell and of any cell nearly as near (a
// near-copy lies next to its original: in the same cell, or one its original also searches). Candidates above the
// threshold, less a margin for int8 rounding, are confirmed with exact dot products of the float vectors, then
// joined transitively with union-find. The work runs in short slices that yield to the event loop (each sized by
// its measured time), so the engine keeps serving chat tokens and progress; progress and cancel between slices.
import { exactSearch } from 'usearch';
import { dot } from './vector-math.ts';

/** Photos linked by a similarity of at least the threshold, joined transitively; `similarity`: the weakest member's best link. */
export interface DuplicateGroup {
  ids: number[];
  similarity: number;
}

/** Rows of int8 codes: row r is photo `ids[r]`; `codes` starts at offset 0 of its buffer (usearch reads from there). */
export interface QuantizedRows {
  ids: ArrayLike<number>;
  codes: Int8Array;
  count: number;
  dim: number;
}

/** Exact similarities (float dot products) of pairs of rows: `a[i]` with `b[i]`. */
export type ExactPairs = (a: Int32Array, b: Int32Array) => Float32Array;

export interface DuplicateOptions {
  signal?: AbortSignal;
  /** Called between slices: `done` of `total` steps (filing each photo under a cell, then comparing it). */
  onProgress?: (done: number, total: number) => void;
  /** Neighbours looked at per photo before widening (a photo whose neighbours are all above the threshold is asked again with more). */
  k?: number;
  /** Number of cells (default: one up to SINGLE_CELL photos, about 2·sqrt(2n) above: measured at 100,000, 447 cells took 12.1 s, 894 10.3 s, 1,789 11.4 s). For tests. */
  cells?: number;
  /** PROBE_GAP instead of the default: for the benchmark's measurements. */
  probeGap?: number;
}

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
/** Up to this many photos, every photo is compared with every other (one cell): exact neighbours. */
export const SINGLE_CELL = 4000;
/** Cells a photo is compared in at most: its nearest, and the next ones when nearly as near (PROBE_GAP). */
const MAX_PROBES = 8;
/**
 * A photo is also compared in every cell whose centre is within PROBE_GAP·|a − b| of its nearest (|a − b| the
 * distance of two unit vectors at the threshold). Measured at 100,000 photos, threshold 0.95: 1 cell each found
 * 0.95 of the planted near-copies; this gap finds ≥ 0.99.
 */
const PROBE_GAP = 0.2;
/** usearch threads for a batch of searches (0: every core). */
const THREADS = 0;

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs `step(from, count)` over [0, n) in slices timed to about SLICE_MS, yielding to the loop between them. */
async function sliced(
  n: number,
  step: (from: number, count: number) => void,
  after: (count: number) => void,
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
    after(count);
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
 * int8 codes of float vectors: each row scaled so that its largest component is ±127. Cosine similarity of codes
 * (which ignores each row's scale) ranks as the dot product of the unit vectors does, to about 1e-3.
 */
export function quantize(vectors: Float32Array, dim: number, out?: Int8Array, at = 0): Int8Array {
  const n = vectors.length / dim;
  const codes = out ?? new Int8Array(n * dim);
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    let max = 0;
    for (let d = 0; d < dim; d++) max = Math.max(max, Math.abs(vectors[o + d]!));
    const s = max > 0 ? 127 / max : 0;
    const w = (at + r) * dim;
    for (let d = 0; d < dim; d++) codes[w + d] = Math.round(vectors[o + d]! * s);
  }
  return codes;
}

/** Rows `rows` of `codes` packed into `into` from offset 0 (a view of it, `rows.length` rows long). */
function gather(codes: Int8Array, rows: Int32Array, dim: number, into: Int8Array): Int8Array {
  for (let i = 0; i < rows.length; i++) into.set(codes.subarray(rows[i]! * dim, (rows[i]! + 1) * dim), i * dim);
  return into.subarray(0, rows.length * dim);
}

interface Found {
  keys: BigUint64Array;
  distances: Float32Array;
}

/** usearch's exact cosine search of each query row (packed, offset 0) among the dataset rows (packed, offset 0). */
function searchBatch(dataset: Int8Array, queries: Int8Array, dim: number, k: number): Found[] {
  const nq = queries.length / dim;
  const r = exactSearch(dataset, queries, dim, k, 'cos' as never, THREADS) as unknown as
    | Found
    | { get(i: number): Found };
  if (nq === 1) return [r as Found];
  const batch = r as { get(i: number): Found };
  return Array.from({ length: nq }, (_, i) => batch.get(i));
}

/**
 * Groups of near-duplicates among int8-coded rows whose similarity (dot product of the unit float vectors, from
 * `exact`) is at least `threshold`: each photo's nearest neighbours in its nearest cells, candidates confirmed
 * exactly, joined transitively. Yields to the event loop between short slices; reports progress; rejects with
 * DuplicatesCancelled ("finding duplicates was cancelled") soon after `signal` aborts.
 */
export async function findNearCopies(
  rows: QuantizedRows,
  exact: ExactPairs,
  threshold: number,
  options: DuplicateOptions = {},
): Promise<DuplicateGroup[]> {
  const { signal, onProgress } = options;
  const { codes, dim } = rows;
  const n = rows.count;
  if (codes.byteOffset !== 0) throw new Error('the codes must start at offset 0 of their buffer');
  if (signal?.aborted) throw new DuplicatesCancelled();
  if (n < 2) return [];
  const groups = new Groups(n);
  const cellCount = Math.max(
    1,
    Math.min(n, options.cells ?? (n <= SINGLE_CELL ? 1 : Math.round(2 * Math.sqrt(2 * n)))),
  );
  const probes = Math.min(MAX_PROBES, cellCount);
  // a near-copy's similarity to any centre differs from its original's by at most |a - b| = sqrt(2 - 2t), and by
  // far less in practice: cells this close to a photo's nearest are searched too
  const gap = (options.probeGap ?? PROBE_GAP) * Math.sqrt(Math.max(0, 2 - 2 * threshold));
  let total = (cellCount > 1 ? 2 * n : 0) + n;
  let done = 0;
  const progress = (count: number) => {
    done += count;
    onProgress?.(done, total);
  };
  onProgress?.(0, total);

  // 1. cells: centres start as photos spread evenly over the rows and move once to the mean of the photos nearest
  // them (so that a photo's own cell stands out from the next); then each photo's nearest centres
  const nearest = new Int32Array(n * probes).fill(-1);
  if (cellCount > 1) {
    const centreRows = Int32Array.from({ length: cellCount }, (_, c) => Math.floor((c * n) / cellCount));
    let centres = gather(codes, centreRows, dim, new Int8Array(cellCount * dim));
    const sums = new Float32Array(cellCount * dim);
    await sliced(
      n,
      (from, count) => {
        // a copy: usearch reads queries from the start of their buffer
        searchBatch(centres, codes.slice(from * dim, (from + count) * dim), dim, 1).forEach((m, i) => {
          const c = Number(m.keys[0]);
          const o = (from + i) * dim;
          let norm = 0;
          for (let d = 0; d < dim; d++) norm += codes[o + d]! * codes[o + d]!;
          const w = norm > 0 ? 1 / Math.sqrt(norm) : 0;
          for (let d = 0; d < dim; d++) sums[c * dim + d]! += codes[o + d]! * w;
        });
      },
      progress,
      signal,
    );
    const moved = quantize(sums, dim);
    for (let c = 0; c < cellCount; c++) {
      // a centre nothing was nearest to stays where it was
      if (moved.subarray(c * dim, (c + 1) * dim).some((x) => x !== 0)) continue;
      moved.set(centres.subarray(c * dim, (c + 1) * dim), c * dim);
    }
    centres = moved;
    await sliced(
      n,
      (from, count) => {
        searchBatch(centres, codes.slice(from * dim, (from + count) * dim), dim, probes).forEach((m, i) => {
          const best = 1 - m.distances[0]!;
          for (let p = 0; p < m.keys.length; p++) {
            if (p > 0 && 1 - m.distances[p]! < best - gap) break;
            nearest[(from + i) * probes + p] = Number(m.keys[p]);
          }
        });
      },
      progress,
      signal,
    );
  } else {
    nearest.fill(0);
  }
  // each cell's photos (filed under their nearest centre), and the photos that compare in it (its own and those
  // with a centre nearly as near)
  const members = bucket(n, cellCount, (r, push) => push(nearest[r * probes]!));
  const askers = bucket(n, cellCount, (r, push) => {
    for (let p = 0; p < probes; p++) {
      const c = nearest[r * probes + p]!;
      if (c < 0) break;
      if (p === 0 || c !== nearest[r * probes]) push(c);
    }
  });
  let asks = 0;
  for (let c = 0; c < cellCount; c++) asks += askers.size(c);
  total += asks - n;

  // 2. each cell: its askers' nearest neighbours among its members; candidates confirmed exactly
  const k0 = (options.k ?? 8) + 1;
  let largest = 0;
  for (let c = 0; c < cellCount; c++) largest = Math.max(largest, members.size(c), askers.size(c));
  const dataBuf = new Int8Array(largest * dim);
  const queryBuf = new Int8Array(largest * dim);
  for (let c = 0; c < cellCount; c++) {
    const mine = members.of(c);
    const asking = askers.of(c);
    if (asking.length === 0) continue;
    if (mine.length === 0) {
      progress(asking.length);
      continue;
    }
    const data = gather(codes, mine, dim, dataBuf);
    const m = mine.length;
    await sliced(
      asking.length,
      (from, count) => {
        const askingNow = asking.subarray(from, from + count);
        const q = gather(codes, askingNow, dim, queryBuf);
        const found = searchBatch(data, q, dim, Math.min(k0, m));
        const pa: number[] = [];
        const pb: number[] = [];
        found.forEach((first, i) => {
          const row = askingNow[i]!;
          let f = first;
          let k = Math.min(k0, m);
          // every neighbour looked at is a candidate: there may be more than were asked for
          while (k < m && f.distances.every((d) => 1 - d >= threshold - MARGIN)) {
            k = Math.min(m, k * 4);
            f = searchBatch(data, codes.slice(row * dim, (row + 1) * dim), dim, k)[0]!;
          }
          for (let j = 0; j < f.keys.length; j++) {
            if (1 - f.distances[j]! < threshold - MARGIN) break; // best first
            const other = mine[Number(f.keys[j])]!;
            if (other === row) continue;
            // each pair once: the lower row asks (or the only one of the two that asks in this cell)
            pa.push(Math.min(row, other));
            pb.push(Math.max(row, other));
          }
        });
        if (pa.length === 0) return;
        const a = Int32Array.from(pa);
        const b = Int32Array.from(pb);
        const s = exact(a, b);
        for (let i = 0; i < a.length; i++) if (s[i]! >= threshold) groups.link(a[i]!, b[i]!, s[i]!);
      },
      progress,
      signal,
    );
  }
  return groups.result(rows.ids);
}

/** Rows grouped by cell (a counting sort): `of(c)` the rows of cell c, in row order. */
function bucket(n: number, cells: number, each: (row: number, push: (cell: number) => void) => void) {
  const counts = new Int32Array(cells + 1);
  for (let r = 0; r < n; r++) each(r, (c) => counts[c + 1]!++);
  for (let c = 0; c < cells; c++) counts[c + 1]! += counts[c]!;
  const at = counts.slice(0, cells);
  const rows = new Int32Array(counts[cells]!);
  for (let r = 0; r < n; r++)
    each(r, (c) => {
      rows[at[c]!++] = r;
    });
  return {
    of: (c: number) => rows.subarray(counts[c]!, counts[c + 1]!),
    size: (c: number) => counts[c + 1]! - counts[c]!,
  };
}

/**
 * Groups of near-duplicates among float vectors (`ids.length` rows of `dim` values, unit length): quantized to
 * int8, then findNearCopies with exact confirmation on the given floats. For tests and tools; the library uses its
 * index's codes (VectorIndex.duplicates).
 */
export function findDuplicates(
  ids: ArrayLike<number>,
  vectors: Float32Array,
  dim: number,
  threshold: number,
  options: DuplicateOptions = {},
): Promise<DuplicateGroup[]> {
  const n = ids.length;
  if (vectors.length < n * dim) throw new Error(`${n} photos need ${n * dim} values, ${vectors.length} were given`);
  const codes = quantize(vectors.subarray(0, n * dim), dim);
  return findNearCopies({ ids, codes, count: n, dim }, (a, b) => exactPairs(vectors, dim, a, b), threshold, options);
}

/** Exact dot products of row pairs of a float matrix. */
export function exactPairs(vectors: Float32Array, dim: number, a: Int32Array, b: Int32Array): Float32Array {
  return Float32Array.from(a, (ra, i) => dot(vectors, ra * dim, vectors, b[i]! * dim, dim));
}
