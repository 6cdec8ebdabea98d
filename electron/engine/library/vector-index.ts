// Nearest-neighbour search over every photo's embedding, on usearch (a maintained SIMD engine, prebuilt N-API
// binaries). Two regimes, chosen by size:
//  - up to EXACT_LIMIT vectors: an exact scan (usearch's exactSearch) over one Float32Array held in memory;
//  - above it: an HNSW graph with int8 storage (about 0.6 KB a 512-d photo with its links) and no float copy in
//    JavaScript: candidates are re-scored exactly from SQLite's float vectors, so scores stay exact.
// Filters (tag, folder, dates) never silently miss a match: a small accepted set is scanned exactly, a large one is
// searched with oversampling and falls back to the exact scan when too few accepted hits come back.
// SQLite stays the source of truth: the index file beside the database is a cache, stamped with the model, the size,
// the row count and a generation counter that every committed change bumps; any mismatch or damage rebuilds it.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { exactSearch, Index } from 'usearch';
import { allPairsDuplicates, type DuplicateGroup } from './duplicates.ts';
import type { LibraryStore } from './store.ts';

export interface Hit {
  id: number;
  score: number;
}

/**
 * Up to this many vectors the index is an exact scan; above it, an HNSW graph. Measured on two busy cores, 512-d, at
 * 100,000 vectors: the exact scan 8–15 ms, the graph 2–10 ms; but in the graph regime a 10% filter re-reads its
 * vectors from SQLite (594 ms a query) and the index takes a second to load, while the exact regime filters in memory
 * and loads with the rows. Until the graph regime's filters and load are fast, the exact scan serves up to 200,000
 * photos (about 400 MB of float vectors).
 */
export const EXACT_LIMIT = 200_000;
/** A filter accepting at most this many photos is searched exactly over those photos alone (graph regime). */
export const SMALL_FILTER = 20_000;
/** Storage of the graph's vectors: int8, chosen by recall measurement (see README, Design). */
export const GRAPH_QUANTIZATION = 'i8';
// Measured at 100,000 clustered 512-d vectors (test/bench/search-data.ts), candidates re-scored exactly: recall@10
// with expansion_search 128: 0.92; 512: 0.96 to 0.99 (from one build to the next); 1024: 0.993; 2048: 0.998 at
// twice the time. 1024: a few milliseconds a search.
const GRAPH = { connectivity: 16, expansion_add: 64, expansion_search: 1024 } as const;
/** About how long each slice of a background graph build blocks the event loop. */
const BUILD_SLICE_MS = 15;
/** The settings key of the counter every committed change to the embeddings bumps (the index file's staleness). */
export const GENERATION_KEY = 'vector_generation';

const FILE_VERSION = 1;

/** Bumps the generation counter in SQLite: call once per committed batch that adds, changes or removes photos. */
export function bumpVectorGeneration(store: LibraryStore): void {
  store.setSetting(GENERATION_KEY, String(Number(store.setting(GENERATION_KEY) ?? 0) + 1));
}

/**
 * The k best of `count` rows of `vectors` (row-major, `query.length` values a row) by dot product with `query`,
 * optionally among the rows whose id `accept` allows; best first. Plain JavaScript: the reference the engine is
 * tested and benchmarked against (`exact_js_p50_ms`).
 */
export function exactScan(
  vectors: Float32Array,
  ids: ArrayLike<number>,
  query: Float32Array,
  k: number,
  accept?: (id: number) => boolean,
  count = ids.length,
): Hit[] {
  const dim = query.length;
  // A small sorted buffer of the best k: cheaper than sorting every score.
  const top: Hit[] = [];
  let worst = Number.NEGATIVE_INFINITY;
  for (let r = 0; r < count; r++) {
    const id = ids[r]!;
    if (accept && !accept(id)) continue;
    const o = r * dim;
    // four accumulators: about twice as fast as one on V8
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d = 0;
    for (; d + 3 < dim; d += 4) {
      s0 += vectors[o + d]! * query[d]!;
      s1 += vectors[o + d + 1]! * query[d + 1]!;
      s2 += vectors[o + d + 2]! * query[d + 2]!;
      s3 += vectors[o + d + 3]! * query[d + 3]!;
    }
    for (; d < dim; d++) s0 += vectors[o + d]! * query[d]!;
    const s = s0 + s1 + s2 + s3;
    if (top.length === k && s <= worst) continue;
    let i = top.length;
    while (i > 0 && top[i - 1]!.score < s) i--;
    top.splice(i, 0, { id, score: s });
    if (top.length > k) top.pop();
    worst = top[top.length - 1]!.score;
  }
  return top;
}

/** The exact dot product of two vectors of the same length. */
export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let d = 0;
  for (; d + 1 < dim; d += 2) {
    s0 += a[ao + d]! * b[bo + d]!;
    s1 += a[ao + d + 1]! * b[bo + d + 1]!;
  }
  for (; d < dim; d++) s0 += a[ao + d]! * b[bo + d]!;
  return s0 + s1;
}

/**
 * usearch's SIMD exact search: the k best rows of a packed matrix (rows from 0) by dot product. The matrix and the
 * query must start at offset 0 of their buffers (exactSearch reads from the buffer's start: measured).
 */
function simdTop(matrix: Float32Array, rows: number, query: Float32Array, k: number): { row: number; score: number }[] {
  const dim = query.length;
  const kk = Math.min(k, rows);
  if (kk <= 0) return [];
  const data = matrix.byteOffset === 0 ? matrix.subarray(0, rows * dim) : matrix.slice(0, rows * dim);
  const q = query.byteOffset === 0 && query.length === dim ? query : query.slice();
  const m = exactSearch(data, q, dim, kk, 'ip' as never, 0) as { keys: BigUint64Array; distances: Float32Array };
  const out: { row: number; score: number }[] = [];
  for (let i = 0; i < m.keys.length; i++) out.push({ row: Number(m.keys[i]), score: 1 - m.distances[i]! });
  return out;
}

/** Reads float vectors back from SQLite (the source of truth) for photo ids. */
export type VectorFetch = (ids: number[]) => Map<number, Float32Array>;

export interface VectorIndexOptions {
  /** Exact scan up to this many vectors, a graph above (EXACT_LIMIT). */
  exactLimit?: number;
  /** In the graph regime, filters accepting at most this many photos are scanned exactly (SMALL_FILTER). */
  smallFilter?: number;
  /** Where float vectors come from in the graph regime (re-scoring, vector(id), small filters). */
  fetch?: VectorFetch;
}

interface Stamp {
  model: string;
  dim: number;
  count: number;
  generation: string;
}

interface FileHeader extends Stamp {
  version: number;
  mode: 'exact' | 'graph';
  graphFile?: string;
  graphBytes?: number;
}

const blobToFloats = (b: Uint8Array, dim: number): Float32Array => {
  const out = new Float32Array(dim);
  new Uint8Array(out.buffer).set(b.subarray(0, dim * 4)); // a copy: a blob need not be 4-byte aligned
  return out;
};

const newGraph = (dim: number, expansionSearch: number = GRAPH.expansion_search) =>
  new Index({
    dimensions: dim,
    metric: 'cos' as never,
    quantization: GRAPH_QUANTIZATION as never,
    connectivity: GRAPH.connectivity,
    expansion_add: GRAPH.expansion_add,
    expansion_search: expansionSearch,
    multi: false,
  });

/**
 * The search expansion of neighbour searches for duplicates. Measured at 100,000 (8 neighbours): 64 finds 0.996 of
 * planted near-copies in 26 s, 32 finds 0.985 in 17 s.
 */
const DUPLICATE_EXPANSION = 64;

/** The header of an index file, or null when it has none that parses. */
function readHeader(buf: Buffer): FileHeader | null {
  if (buf.length < 4) return null;
  const hl = buf.readUInt32LE(0);
  if (4 + hl > buf.length) return null;
  try {
    return JSON.parse(buf.subarray(4, 4 + hl).toString('utf8')) as FileHeader;
  } catch {
    return null;
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Neighbours of one vector: keys (photo ids or rows) and approximate similarities, best first. */
export interface Neighbours {
  ids: number[];
  scores: number[];
}

/**
 * A batch search on a usearch graph, one Neighbours a row of `vs`. `threads` 0 (every core) only on a graph this
 * code added to with 0 threads: usearch refuses more threads than the graph reserved ("Reserve capacity ahead").
 */
export function graphNeighbours(graph: Index, vs: Float32Array, dim: number, k: number, threads = 1): Neighbours[] {
  const rows = vs.length / dim;
  const r = graph.search(vs, k, threads) as unknown as
    | { keys: BigUint64Array; distances: Float32Array; get?: undefined }
    | { get(i: number): { keys: BigUint64Array; distances: Float32Array } };
  const one = (m: { keys: BigUint64Array; distances: Float32Array }): Neighbours => ({
    ids: Array.from(m.keys, Number),
    scores: Array.from(m.distances, (d) => 1 - d),
  });
  if (rows === 1) return [one(r as { keys: BigUint64Array; distances: Float32Array })];
  const batch = r as { get(i: number): { keys: BigUint64Array; distances: Float32Array } };
  return Array.from({ length: rows }, (_, i) => one(batch.get(i)));
}

export class VectorIndex {
  // The exact regime (and the graph regime while its graph is being built): rows in one Float32Array.
  private ids = new Int32Array(0);
  private vectors = new Float32Array(0);
  private rowOf = new Map<number, number>();
  private count = 0;
  // The graph regime: the graph and the ids it holds.
  private graph: Index | null = null;
  private members: Set<number> | null = null;
  /** Changes since the graph build began: replayed into it before it takes over. */
  private pending: Map<number, Float32Array | null> | null = null;
  private building: Promise<void> | null = null;
  private dirty = false;
  private closed = false;
  /** The file this index was loaded from (and its stamp then): where prepareNeighbours saves before it views. */
  private persisted: { file: string; stamp: () => Stamp } | null = null;
  /** A read-only, memory-mapped view of the saved graph with a small search expansion (duplicates). */
  private view: Index | null = null;
  private readonly exactLimit: number;
  private readonly smallFilter: number;
  private readonly fetch: VectorFetch | undefined;

  constructor(
    readonly dim: number,
    options: VectorIndexOptions = {},
  ) {
    this.exactLimit = options.exactLimit ?? EXACT_LIMIT;
    this.smallFilter = options.smallFilter ?? SMALL_FILTER;
    this.fetch = options.fetch;
  }

  /**
   * The index of a model's embeddings: read from `file` in one read when its stamp matches SQLite, else rebuilt
   * from SQLite (and saved by save()). Above the exact limit the graph is built in the background; searches are
   * exact meanwhile.
   */
  static load(
    store: LibraryStore,
    model: string,
    dim: number,
    options: VectorIndexOptions & { file?: string } = {},
  ): VectorIndex {
    const fetch = options.fetch ?? sqliteFetch(store, model, dim);
    const index = new VectorIndex(dim, { ...options, fetch });
    const stamp = currentStamp(store, model, dim);
    if (options.file) {
      const file = options.file;
      index.persisted = { file, stamp: () => currentStamp(store, model, dim) };
    }
    if (options.file && index.readFile(options.file, stamp)) return index;
    const rows = store.embeddingRows(model);
    index.ids = new Int32Array(Math.max(1024, rows.length));
    index.vectors = new Float32Array(index.ids.length * dim);
    for (const { id, vector } of rows) {
      if (vector.byteLength !== dim * 4) continue; // another model's size: never in this model's rows
      const row = index.count++;
      index.ids[row] = id;
      index.rowOf.set(id, row);
      new Uint8Array(index.vectors.buffer, row * dim * 4, dim * 4).set(vector);
    }
    index.dirty = true;
    index.maybeBuildGraph();
    return index;
  }

  get size(): number {
    return this.graph && !this.pending ? this.members!.size : this.count;
  }

  /** Whether an HNSW graph answers searches (false: the exact scan). */
  get approximate(): boolean {
    return this.graph !== null && this.pending === null;
  }

  /** Resolves when a background graph build (if any) has finished. */
  ready(): Promise<void> {
    return this.building ?? Promise.resolve();
  }

  vector(id: number): Float32Array | undefined {
    if (this.approximate) return this.fetch?.([id]).get(id);
    const row = this.rowOf.get(id);
    return row === undefined ? undefined : this.vectors.slice(row * this.dim, (row + 1) * this.dim);
  }

  upsert(id: number, v: Float32Array): void {
    if (v.length !== this.dim) throw new Error(`embedding has ${v.length} values, the index holds ${this.dim}`);
    this.dirty = true;
    this.view = null;
    if (this.approximate) {
      this.graphPut(id, v);
      return;
    }
    this.pending?.set(id, v.slice());
    let row = this.rowOf.get(id);
    if (row === undefined) {
      if (this.count === this.ids.length) this.grow();
      row = this.count++;
      this.rowOf.set(id, row);
      this.ids[row] = id;
    }
    this.vectors.set(v, row * this.dim);
    this.maybeBuildGraph();
  }

  remove(id: number): void {
    this.view = null;
    if (this.approximate) {
      if (this.members!.delete(id)) {
        this.graph!.remove(BigInt(id));
        this.dirty = true;
      }
      return;
    }
    this.pending?.set(id, null);
    const row = this.rowOf.get(id);
    if (row === undefined) return;
    this.dirty = true;
    const last = --this.count;
    if (row !== last) {
      const movedId = this.ids[last]!;
      this.ids[row] = movedId;
      this.vectors.copyWithin(row * this.dim, last * this.dim, (last + 1) * this.dim);
      this.rowOf.set(movedId, row);
    }
    this.rowOf.delete(id);
  }

  /** Every id and vector (exact regime only): for duplicates and tests. Null in the graph regime. */
  rows(): { ids: Int32Array; vectors: Float32Array } | null {
    if (this.approximate) return null;
    return { ids: this.ids.slice(0, this.count), vectors: this.vectors.slice(0, this.count * this.dim) };
  }

  /**
   * The graph's nearest neighbours of `v`: photo ids with approximate (int8) similarities, best first; null in the
   * exact regime. For duplicates (findDuplicates's `graph` option), which then build no graph of their own.
   */
  neighbours(v: Float32Array, k: number): Neighbours | null {
    if (!this.approximate) return null;
    return graphNeighbours(this.view ?? this.graph!, v, this.dim, Math.min(k, this.members!.size))[0]!;
  }

  /**
   * Prepares many neighbour searches (duplicates): saves the graph when it changed, then views the saved file
   * (memory-mapped, no second copy in memory) with a search expansion of DUPLICATE_EXPANSION instead of the
   * interactive search's 1024, about ten times faster a search. Any change to the index drops the view (searches
   * go back to the live graph). False when there is no saved graph to view.
   */
  prepareNeighbours(): boolean {
    if (!this.approximate || !this.persisted) return false;
    try {
      const { file, stamp } = this.persisted;
      this.save(file, stamp());
      const header = readHeader(readFileSync(file));
      if (!header?.graphFile) return false;
      const view = newGraph(this.dim, DUPLICATE_EXPANSION);
      view.view(path.join(path.dirname(file), header.graphFile));
      if (view.size() !== this.members!.size) return false;
      this.view = view;
      return true;
    } catch {
      return false;
    }
  }

  /** The ids in the index. */
  idList(): number[] {
    return this.approximate ? [...this.members!] : Array.from(this.ids.subarray(0, this.count));
  }

  /** The `k` best photos by dot product with `q`, among `allowed` ids when given; best first. */
  search(q: Float32Array, k: number, allowed?: Set<number>, minScore = Number.NEGATIVE_INFINITY): Hit[] {
    if (q.length !== this.dim) throw new Error(`the query has ${q.length} values, the index holds ${this.dim}`);
    const hits = this.approximate ? this.searchGraph(q, k, allowed) : this.searchExact(q, k, allowed);
    return hits.filter((h) => h.score >= minScore);
  }

  private searchExact(q: Float32Array, k: number, allowed?: Set<number>): Hit[] {
    const n = this.count;
    if (n === 0 || k <= 0) return [];
    if (!allowed) return simdTop(this.vectors, n, q, k).map((h) => ({ id: this.ids[h.row]!, score: h.score }));
    const rows: number[] = [];
    for (const id of allowed) {
      const r = this.rowOf.get(id);
      if (r !== undefined) rows.push(r);
    }
    if (rows.length === 0) return [];
    if (rows.length <= n * 0.2) {
      // A small accepted set: packed and scanned alone.
      const packed = new Float32Array(rows.length * this.dim);
      rows.forEach((r, i) => {
        packed.set(this.vectors.subarray(r * this.dim, (r + 1) * this.dim), i * this.dim);
      });
      return simdTop(packed, rows.length, q, k).map((h) => ({ id: this.ids[rows[h.row]!]!, score: h.score }));
    }
    // A large one: the exact top of everything, wide enough to hold k accepted hits (widened until it does).
    let kk = Math.min(n, Math.ceil((k * n * 2) / rows.length) + 16);
    for (;;) {
      const got = simdTop(this.vectors, n, q, kk)
        .map((h) => ({ id: this.ids[h.row]!, score: h.score }))
        .filter((h) => allowed.has(h.id));
      if (got.length >= k || kk >= n) return got.slice(0, k);
      kk = Math.min(n, kk * 4);
    }
  }

  private searchGraph(q: Float32Array, k: number, allowed?: Set<number>): Hit[] {
    const members = this.members!;
    const n = members.size;
    if (n === 0 || k <= 0) return [];
    let accepted: number[] | null = null;
    if (allowed) {
      accepted = [];
      for (const id of allowed) if (members.has(id)) accepted.push(id);
      if (accepted.length === 0) return [];
      if (accepted.length <= this.smallFilter && this.fetch) return this.exactOver(accepted, q, k);
    }
    const share = accepted ? accepted.length / n : 1;
    // Candidates from the graph (oversampled: int8 scores are close, not exact), re-scored exactly.
    // a filter needs more candidates than its share alone implies: its photos lie anywhere in the graph
    let kk = Math.min(n, Math.ceil(Math.max(4 * k, k + 48) / share) * (accepted ? 4 : 1));
    for (;;) {
      const m = this.graph!.search(q, kk, 1) as { keys: BigUint64Array; distances: Float32Array };
      let cands: Hit[] = [];
      for (let i = 0; i < m.keys.length; i++) {
        const id = Number(m.keys[i]);
        if (!allowed || allowed.has(id)) cands.push({ id, score: 1 - m.distances[i]! });
      }
      if (cands.length >= k || kk >= n) {
        cands = this.rescore(cands, q);
        return cands.slice(0, k);
      }
      if (kk >= 4096 && accepted && this.fetch) return this.exactOver(accepted, q, k);
      kk = Math.min(n, kk * 4);
    }
  }

  /** Exact scores from SQLite's float vectors (when there is a source), best first. */
  private rescore(cands: Hit[], q: Float32Array): Hit[] {
    if (this.fetch && cands.length > 0) {
      const vs = this.fetch(cands.map((c) => c.id));
      for (const c of cands) {
        const v = vs.get(c.id);
        if (v) c.score = dot(v, 0, q, 0, this.dim);
      }
    }
    return cands.sort((a, b) => b.score - a.score || a.id - b.id);
  }

  /** The exact top k among these ids, their vectors read from SQLite. */
  private exactOver(ids: number[], q: Float32Array, k: number): Hit[] {
    const vs = this.fetch!(ids);
    const packed = new Float32Array(vs.size * this.dim);
    const order: number[] = [];
    for (const [id, v] of vs) {
      packed.set(v, order.length * this.dim);
      order.push(id);
    }
    return simdTop(packed, order.length, q, k).map((h) => ({ id: order[h.row]!, score: h.score }));
  }

  private graphPut(id: number, v: Float32Array): void {
    const key = BigInt(id);
    if (this.members!.has(id)) this.graph!.remove(key);
    this.graph!.add(key, v, 1);
    this.members!.add(id);
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

  /** Above the exact limit, starts building the graph in slices; the exact scan answers meanwhile. */
  private maybeBuildGraph(): void {
    if (this.graph || this.building || this.count <= this.exactLimit) return;
    this.building = this.buildGraph().finally(() => {
      this.building = null;
    });
    this.building.catch(() => {}); // a failed build leaves the exact scan in charge; surfaced by ready()
  }

  private async buildGraph(): Promise<void> {
    const graph = newGraph(this.dim);
    this.pending = new Map();
    // The rows as they are now: later changes are in `pending`.
    const n = this.count;
    const ids = this.ids.slice(0, n);
    const vectors = this.vectors.slice(0, n * this.dim);
    const keys = BigUint64Array.from(ids, (id) => BigInt(id));
    try {
      let slice = 8;
      for (let o = 0; o < n; ) {
        if (this.closed) return;
        const m = Math.min(slice, n - o);
        const t = performance.now();
        graph.add(keys.subarray(o, o + m), vectors.subarray(o * this.dim, (o + m) * this.dim), 0);
        const ms = performance.now() - t;
        o += m;
        // slices sized by their time: about BUILD_SLICE_MS of blocking each
        if (ms < BUILD_SLICE_MS / 2) slice *= 2;
        else if (ms > BUILD_SLICE_MS * 2 && slice > 1) slice >>= 1;
        await tick();
      }
      this.graph = graph;
      this.members = new Set(ids);
      for (const [id, v] of this.pending) {
        if (v) this.graphPut(id, v);
        else if (this.members.delete(id)) graph.remove(BigInt(id));
      }
      this.pending = null;
      this.dirty = true; // the graph is worth saving: the next start needs no build
      // the float copy goes: the graph regime holds no vector in JavaScript
      this.ids = new Int32Array(0);
      this.vectors = new Float32Array(0);
      this.rowOf = new Map();
      this.count = 0;
    } catch (e) {
      this.graph = null;
      this.members = null;
      this.pending = null;
      throw e;
    }
  }

  // ---- the file beside the database ----

  /**
   * Writes the index atomically (temporary files, then renames; the header names the graph file) when it changed
   * since it was read or last saved. Call when idle or at close, not on every batch.
   */
  save(file: string, stamp: Stamp): void {
    if (!this.dirty) return;
    mkdirSync(path.dirname(file), { recursive: true });
    const header: FileHeader = { version: FILE_VERSION, mode: this.approximate ? 'graph' : 'exact', ...stamp };
    const ids = this.approximate ? Int32Array.from(this.members!) : this.ids.subarray(0, this.count);
    header.count = ids.length;
    let graphFile: string | undefined;
    if (this.approximate) {
      graphFile = `${path.basename(file)}.${randomBytes(6).toString('hex')}.usearch`;
      const tmp = path.join(path.dirname(file), `${graphFile}.tmp`);
      this.graph!.save(tmp);
      header.graphFile = graphFile;
      header.graphBytes = statSync(tmp).size;
      renameSync(tmp, path.join(path.dirname(file), graphFile));
    }
    const json = Buffer.from(JSON.stringify(header));
    const pad = (4 - ((4 + json.length) % 4)) % 4;
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(json.length + pad);
      writeSync(fd, len);
      writeSync(fd, Buffer.concat([json, Buffer.alloc(pad, 0x20)]));
      writeSync(fd, new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
      if (!this.approximate) {
        const v = this.vectors.subarray(0, this.count * this.dim);
        writeSync(fd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    // older graph files (and temporaries of killed writers) go
    const base = path.basename(file);
    for (const name of readdirSync(path.dirname(file))) {
      if (name !== graphFile && name.startsWith(`${base}.`) && (name.endsWith('.usearch') || name.endsWith('.tmp'))) {
        try {
          rmSync(path.join(path.dirname(file), name), { force: true });
        } catch {
          // still mapped by a view (Windows): removed by a later save
        }
      }
    }
    this.dirty = false;
  }

  /** Reads the file when it matches `stamp` exactly; false (nothing read) when missing, damaged or stale. */
  private readFile(file: string, stamp: Stamp | null): boolean {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch {
      return false;
    }
    try {
      if (buf.length < 4) return false;
      const hl = buf.readUInt32LE(0);
      if (4 + hl > buf.length) return false;
      const header = JSON.parse(buf.subarray(4, 4 + hl).toString('utf8')) as FileHeader;
      if (header.version !== FILE_VERSION || header.dim !== this.dim) return false;
      if (
        stamp &&
        (header.model !== stamp.model ||
          header.dim !== stamp.dim ||
          header.count !== stamp.count ||
          header.generation !== stamp.generation)
      ) {
        return false;
      }
      const n = header.count;
      const start = 4 + hl;
      const body = header.mode === 'exact' ? n * 4 + n * this.dim * 4 : n * 4;
      if (buf.length !== start + body) return false;
      const ids = new Int32Array(n);
      new Uint8Array(ids.buffer).set(buf.subarray(start, start + n * 4));
      if (header.mode === 'graph') {
        if (n <= this.exactLimit) return false; // small enough for the exact scan again: rebuilt as one
        if (!header.graphFile || path.basename(header.graphFile) !== header.graphFile) return false;
        const gf = path.join(path.dirname(file), header.graphFile);
        if (statSync(gf, { throwIfNoEntry: false })?.size !== header.graphBytes) return false;
        const graph = newGraph(this.dim);
        graph.load(gf);
        if (graph.size() !== n || graph.dimensions() !== this.dim) return false;
        this.graph = graph;
        this.members = new Set(ids);
        return true;
      }
      this.ids = new Int32Array(Math.max(1024, n));
      this.ids.set(ids);
      this.vectors = new Float32Array(this.ids.length * this.dim);
      new Uint8Array(this.vectors.buffer, 0, n * this.dim * 4).set(buf.subarray(start + n * 4));
      this.count = n;
      for (let r = 0; r < n; r++) this.rowOf.set(ids[r]!, r);
      this.maybeBuildGraph();
      return true;
    } catch {
      this.graph = null;
      this.members = null;
      this.count = 0;
      this.rowOf = new Map();
      return false;
    }
  }

  /**
   * Adds many rows at once (building an index in bulk, the benchmark): `vectors` holds `ids.length` rows of `dim`
   * values. The same as upsert for each.
   */
  addBatch(ids: ArrayLike<number>, vectors: Float32Array): void {
    for (let i = 0; i < ids.length; i++) this.upsert(ids[i]!, vectors.subarray(i * this.dim, (i + 1) * this.dim));
  }

  /**
   * An index persisted with save(), opened without SQLite (the benchmark, tools): null when the file is missing or
   * damaged. Re-scoring and vector(id) in the graph regime use `options.fetch` when given.
   */
  static fromFile(file: string, dim: number, options: VectorIndexOptions = {}): VectorIndex | null {
    const index = new VectorIndex(dim, options);
    if (!index.readFile(file, null)) return null;
    const header = readHeader(readFileSync(file))!;
    const stamp: Stamp = { model: header.model, dim, count: header.count, generation: header.generation };
    index.persisted = { file, stamp: () => stamp };
    return index;
  }

  /** All-pairs near-duplicate groups (exact regime): the old method, kept as a reference. */
  duplicateGroups(threshold: number): DuplicateGroup[] {
    const rows = this.rows();
    if (!rows) throw new Error('all-pairs duplicates need the exact regime: use findDuplicates');
    return allPairsDuplicates(rows.ids, rows.vectors, this.dim, threshold);
  }

  /** Stops a background build (the library is closing). */
  close(): void {
    this.closed = true;
  }
}

/** Where a model's index file lives: `<home>/cache/vectors-<model>.index` (the graph beside it). */
export const vectorFileFor = (home: string, model: string) =>
  path.join(home, 'cache', `vectors-${model.replace(/[^A-Za-z0-9._-]/g, '_')}.index`);

/** What the file must match: the model, its size, the number of embedded photos and the generation counter. */
export function currentStamp(store: LibraryStore, model: string, dim: number): Stamp {
  const { n } = store.db
    .prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM photos p JOIN embeddings e ON e.hash = p.hash AND e.model = ?',
    )
    .get(model)!;
  return { model, dim, count: n, generation: store.setting(GENERATION_KEY) ?? '0' };
}

/** Float vectors of photo ids, read from SQLite. */
export function sqliteFetch(store: LibraryStore, model: string, dim: number): VectorFetch {
  return (ids) => {
    const out = new Map<number, Float32Array>();
    if (ids.length === 0) return out;
    const rows = store.db
      .prepare<[string, string], { id: number; vector: Buffer }>(
        'SELECT p.id AS id, e.vector AS vector FROM photos p JOIN embeddings e ON e.hash = p.hash AND e.model = ? WHERE p.id IN (SELECT value FROM json_each(?))',
      )
      .all(model, JSON.stringify(ids));
    for (const r of rows) if (r.vector.byteLength === dim * 4) out.set(r.id, blobToFloats(r.vector, dim));
    return out;
  };
}
