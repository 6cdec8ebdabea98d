// Nearest-neighbour search over every photo's embedding, on usearch (a maintained SIMD engine, prebuilt N-API
// binaries). What it holds in memory: each photo's vector as int8 codes (512 bytes a 512-d photo: a million photos in
// 512 MB), scaled per photo so that its largest component is ±127; cosine similarity of codes ranks as the float dot
// product does, to about 1e-3.
//  - A search scans the codes exactly (usearch's exactSearch: 2 ms at 100,000 photos, 25 ms at 1,000,000 on one
//    core here), then re-scores the best few dozen exactly with their float vectors from SQLite: the top k is the
//    exact top k (unless a candidate pool of 2k + 32 misses one by int8 rounding) and scores are exact.
//  - Above EXACT_LIMIT photos an HNSW graph (int8) answers unfiltered searches; filters still scan the codes, so a
//    filtered search never silently misses a match.
//  - Duplicates: findNearCopies over the codes (an inverted file of sqrt(2n) cells, see duplicates.ts).
// SQLite stays the source of truth: the index file beside the database (ids and codes, read in one read) is a
// cache, stamped with the model, the size, the row count and a generation counter that every committed change
// bumps; any mismatch or damage rebuilds it from SQLite.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { exactSearch, Index } from 'usearch';
import { type DuplicateGroup, type DuplicateOptions, findNearCopies, quantize } from './duplicates.ts';
import type { LibraryStore } from './store.ts';
import { dot, type Hit } from './vector-math.ts';

export { dot, exactScan, type Hit } from './vector-math.ts';

/**
 * Up to this many photos every search scans the int8 codes exactly; above it, an HNSW graph answers unfiltered
 * searches. Measured on this 2-core machine, 512-d, one thread: the scan takes 2 ms at 100,000 and 25 ms at
 * 1,000,000, so about 50 ms at 2,000,000 (a laptop's cores are faster); the graph costs a second copy of the codes
 * and its links (about 0.6 KB a photo) and a build of many minutes, so it pays only past that size.
 */
export const EXACT_LIMIT = 2_000_000;
/** Storage of the graph's vectors: int8, the codes themselves. */
export const GRAPH_QUANTIZATION = 'i8';
// Measured at 100,000 clustered 512-d vectors (test/bench/search-data.ts), candidates re-scored exactly: recall@10
// with expansion_search 128: 0.92; 512: 0.96 to 0.99 (from one build to the next); 1024: 0.993; 2048: 0.998 at
// twice the time.
const GRAPH = { connectivity: 16, expansion_add: 64, expansion_search: 1024 } as const;
/** About how long each slice of a background graph build blocks the event loop. */
const BUILD_SLICE_MS = 15;
/**
 * The settings key of the counter that every committed change to photos or embeddings bumps (SQLite triggers,
 * migration 5, in the same transaction): the index file is current exactly when its stamp has this generation.
 */
export const GENERATION_KEY = 'vector_generation';
/** Ids below this are mapped to rows by a typed array (4 bytes an id); larger ones by a Map. */
const DENSE_IDS = 1 << 26;

const FILE_VERSION = 2;

/**
 * A filter accepting at most this many photos (or 2% of them) is scanned over its photos' codes alone; a larger one
 * scans everything and keeps the accepted (cheaper than packing: at 1,000,000 photos a 10% filter took 220 ms
 * packed, the full scan 25 ms).
 */
export const SMALL_FILTER = 20_000;
/** Candidates the codes give for a top k beyond k (read from SQLite only as needed). */
const RESERVE = 56;
/**
 * How far an int8 code's cosine may be from the float vectors' (unit vectors, 512-d): measured at most 1.84e-3
 * over 20,000 candidates of 100 queries (p99 1.1e-3), so twice that.
 */
const INT8_ERROR = 0.004;

/** Bumps the generation counter (the triggers do it on every change; for a change they cannot see). */
export function bumpVectorGeneration(store: LibraryStore): void {
  store.setSetting(GENERATION_KEY, String(Number(store.setting(GENERATION_KEY) ?? 0) + 1));
}

/** Reads float vectors back from SQLite (the source of truth) for photo ids. */
export type VectorFetch = (ids: number[]) => Map<number, Float32Array>;

export interface VectorIndexOptions {
  /** Exact scans up to this many photos, a graph for unfiltered searches above (EXACT_LIMIT). */
  exactLimit?: number;
  /**
   * Where the float vectors come from (re-scoring, vector(id), duplicates' confirmation): SQLite in the app. Without
   * one the index keeps its own float copy (tests, tools).
   */
  fetch?: VectorFetch;
}

interface Stamp {
  model: string;
  dim: number;
  generation: string;
}

interface FileHeader extends Stamp {
  version: number;
  count: number;
  graphFile?: string;
  graphBytes?: number;
}

const blobToFloats = (b: Uint8Array, dim: number): Float32Array => {
  const out = new Float32Array(dim);
  new Uint8Array(out.buffer).set(b.subarray(0, dim * 4)); // a copy: a blob need not be 4-byte aligned
  return out;
};

const newGraph = (dim: number) =>
  new Index({
    dimensions: dim,
    metric: 'cos' as never,
    quantization: GRAPH_QUANTIZATION as never,
    connectivity: GRAPH.connectivity,
    expansion_add: GRAPH.expansion_add,
    expansion_search: GRAPH.expansion_search,
    multi: false,
  });

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Found {
  keys: BigUint64Array;
  distances: Float32Array;
}

/** Candidates by their codes, best first: photo ids and the codes' cosine similarities. */
interface Candidates {
  ids: number[];
  sims: number[];
}

/** Photo id → row: a typed array for the usual dense ids, a Map for huge ones. */
class RowMap {
  private dense = new Int32Array(0);
  private sparse = new Map<number, number>();
  get(id: number): number | undefined {
    if (id >= 0 && id < DENSE_IDS) {
      const r = id < this.dense.length ? this.dense[id]! : -1;
      return r < 0 ? undefined : r;
    }
    return this.sparse.get(id);
  }
  set(id: number, row: number): void {
    if (id >= 0 && id < DENSE_IDS) {
      if (id >= this.dense.length) {
        const grown = new Int32Array(Math.min(DENSE_IDS, Math.max(1024, id + 1, this.dense.length * 2))).fill(-1);
        grown.set(this.dense);
        this.dense = grown;
      }
      this.dense[id] = row;
    } else this.sparse.set(id, row);
  }
  delete(id: number): void {
    if (id >= 0 && id < DENSE_IDS) {
      if (id < this.dense.length) this.dense[id] = -1;
    } else this.sparse.delete(id);
  }
}

export class VectorIndex {
  /** Row → photo id, and each row's int8 codes (rows from 0; both start at offset 0 of their buffers). */
  private ids = new Int32Array(0);
  private codes = new Int8Array(0);
  private count = 0;
  private rowOf = new RowMap();
  /** Running duplicate searches hold the arrays as they were: the next change copies them first. */
  private shared = false;
  /** Where a small filter's codes are packed to be scanned. */
  private packed = new Int8Array(0);
  /** Without a fetch: the float vectors, kept here. */
  private floats: Map<number, Float32Array> | null;
  private readonly fetch: VectorFetch;
  // Above the exact limit: the graph (keys: photo ids), and the ids changed while it was being built.
  private graph: Index | null = null;
  private pending: Set<number> | null = null;
  private building: Promise<void> | null = null;
  private dirty = false;
  private closed = false;
  private readonly exactLimit: number;
  /** Where load() found the index: its file beside the database, or rebuilt from SQLite. */
  origin: 'file' | 'sqlite' | 'memory' = 'memory';

  constructor(
    readonly dim: number,
    options: VectorIndexOptions = {},
  ) {
    this.exactLimit = options.exactLimit ?? EXACT_LIMIT;
    this.floats = options.fetch ? null : new Map();
    const floats = this.floats;
    this.fetch =
      options.fetch ??
      ((ids) => {
        const out = new Map<number, Float32Array>();
        for (const id of ids) {
          const v = floats!.get(id);
          if (v) out.set(id, v);
        }
        return out;
      });
  }

  /**
   * The index of a model's embeddings: read from `file` in one read when its stamp matches SQLite, else rebuilt
   * from SQLite (and saved by save()). Above the exact limit the graph is built in the background; searches scan
   * meanwhile.
   */
  static load(
    store: LibraryStore,
    model: string,
    dim: number,
    options: VectorIndexOptions & { file?: string } = {},
  ): VectorIndex {
    const fetch = options.fetch ?? sqliteFetch(store, model, dim);
    const index = new VectorIndex(dim, { ...options, fetch });
    if (options.file && index.readFile(options.file, currentStamp(store, model, dim))) {
      index.origin = 'file';
      return index;
    }
    index.origin = 'sqlite';
    const one = new Float32Array(dim);
    const bytes = new Uint8Array(one.buffer);
    for (const { id, vector } of store.embeddingRows(model)) {
      if (vector.byteLength !== dim * 4) continue; // another model's size: never in this model's rows
      bytes.set(vector);
      index.put(id, one);
    }
    index.dirty = true;
    index.maybeBuildGraph();
    return index;
  }

  get size(): number {
    return this.count;
  }

  /** Whether an HNSW graph answers unfiltered searches (false: the exact scan of the codes). */
  get approximate(): boolean {
    return this.graph !== null && this.pending === null;
  }

  /** Resolves when a background graph build (if any) has finished. */
  ready(): Promise<void> {
    return this.building ?? Promise.resolve();
  }

  /** A photo's float vector (from the source of truth), or undefined when the index does not hold it. */
  vector(id: number): Float32Array | undefined {
    if (this.rowOf.get(id) === undefined) return undefined;
    return this.fetch([id]).get(id);
  }

  upsert(id: number, v: Float32Array): void {
    if (v.length !== this.dim) throw new Error(`embedding has ${v.length} values, the index holds ${this.dim}`);
    this.put(id, v);
    this.maybeBuildGraph();
  }

  remove(id: number): void {
    const row = this.rowOf.get(id);
    if (row === undefined) return;
    this.unshare();
    this.dirty = true;
    this.floats?.delete(id);
    const last = --this.count;
    if (row !== last) {
      const movedId = this.ids[last]!;
      this.ids[row] = movedId;
      this.codes.copyWithin(row * this.dim, last * this.dim, (last + 1) * this.dim);
      this.rowOf.set(movedId, row);
    }
    this.rowOf.delete(id);
    if (this.pending) this.pending.add(id);
    else if (this.graph) this.graph.remove(BigInt(id));
  }

  /**
   * Adds many rows at once (building an index in bulk): `vectors` holds `ids.length` rows of `dim` values. The same
   * as upsert for each.
   */
  addBatch(ids: ArrayLike<number>, vectors: Float32Array): void {
    for (let i = 0; i < ids.length; i++) this.put(ids[i]!, vectors.subarray(i * this.dim, (i + 1) * this.dim));
    this.maybeBuildGraph();
  }

  /**
   * The `k` best photos by dot product with `q` (embeddings are unit vectors), among `allowed` ids when given; best
   * first; exact scores. The codes rank candidates; their float vectors are read from SQLite a few at a time until
   * no candidate left unread could still beat the k-th: its code's similarity plus INT8_ERROR is below it.
   */
  search(q: Float32Array, k: number, allowed?: Set<number>, minScore = Number.NEGATIVE_INFINITY): Hit[] {
    if (q.length !== this.dim) throw new Error(`the query has ${q.length} values, the index holds ${this.dim}`);
    const n = this.count;
    if (n === 0 || k <= 0) return [];
    const q8 = quantize(q, this.dim);
    const norm = Math.sqrt(dot(q, 0, q, 0, this.dim)) || 1;
    let want = Math.min(n, k + RESERVE);
    let read = 0;
    const seen = new Set<number>();
    const hits: Hit[] = [];
    for (;;) {
      const c = allowed
        ? this.scanFiltered(q8, want, allowed)
        : this.approximate
          ? this.searchGraph(q8, want)
          : this.scan(this.codes, n, q8, want, (r) => this.ids[r]!);
      // read the next few candidates' floats, until the k-th exact score stands above every unread code's
      for (let step = k + 8; read < c.ids.length; step = 8) {
        const next = c.ids.slice(read, read + step).filter((id) => !seen.has(id));
        read = Math.min(c.ids.length, read + step);
        for (const id of next) seen.add(id);
        hits.push(...this.rescore(next, q));
        hits.sort((a, b) => b.score - a.score || a.id - b.id);
        if (read >= c.ids.length) break;
        if (hits.length >= k && hits[k - 1]!.score / norm >= c.sims[read - 1]! + INT8_ERROR) {
          return hits.slice(0, k).filter((h) => h.score >= minScore);
        }
      }
      // every candidate read: done when there are no more to ask for
      if (c.ids.length < want || want >= n) return hits.slice(0, k).filter((h) => h.score >= minScore);
      want = Math.min(n, want * 4);
    }
  }

  /**
   * Groups of near-duplicate photos (similarity of the float vectors at least `threshold`): findNearCopies over the
   * codes, candidates confirmed with the float vectors. Works on the codes as they are when it starts: photos
   * indexed meanwhile are not in it (their changes copy the codes first), photos removed meanwhile may be.
   */
  duplicates(threshold: number, options: DuplicateOptions = {}): Promise<DuplicateGroup[]> {
    this.shared = true;
    const ids = this.ids;
    const rows = { ids, codes: this.codes, count: this.count, dim: this.dim };
    const dim = this.dim;
    return findNearCopies(
      rows,
      (a, b) => {
        const wanted = new Set<number>();
        for (let i = 0; i < a.length; i++) wanted.add(ids[a[i]!]!).add(ids[b[i]!]!);
        const vs = this.fetch([...wanted]);
        return Float32Array.from(a, (ra, i) => {
          const va = vs.get(ids[ra]!);
          const vb = vs.get(ids[b[i]!]!);
          return va && vb ? dot(va, 0, vb, 0, dim) : Number.NEGATIVE_INFINITY; // gone from SQLite meanwhile
        });
      },
      threshold,
      options,
    );
  }

  // ---- search internals ----

  /** usearch's exact cosine scan of `rows` packed rows of codes (offset 0): the best `k`, as `idOf(row)`. */
  private scan(codes: Int8Array, rows: number, q8: Int8Array, k: number, idOf: (row: number) => number): Candidates {
    const kk = Math.min(k, rows);
    if (kk <= 0) return { ids: [], sims: [] };
    const m = exactSearch(codes.subarray(0, rows * this.dim), q8, this.dim, kk, 'cos' as never, 1) as unknown as Found;
    return { ids: Array.from(m.keys, (r) => idOf(Number(r))), sims: Array.from(m.distances, (d) => 1 - d) };
  }

  /** The best `want` accepted photos by their codes. */
  private scanFiltered(q8: Int8Array, want: number, allowed: Set<number>): Candidates {
    const n = this.count;
    const rows: number[] = [];
    for (const id of allowed) {
      const r = this.rowOf.get(id);
      if (r !== undefined) rows.push(r);
    }
    if (rows.length === 0) return { ids: [], sims: [] };
    if (rows.length <= SMALL_FILTER || rows.length <= n * 0.02) {
      // a small accepted set: packed (into a buffer kept between searches: fresh memory is slow to touch) and
      // scanned alone
      if (this.packed.length < rows.length * this.dim) this.packed = new Int8Array(rows.length * this.dim);
      const packed = this.packed;
      rows.forEach((r, i) => {
        packed.set(this.codes.subarray(r * this.dim, (r + 1) * this.dim), i * this.dim);
      });
      return this.scan(packed, rows.length, q8, want, (i) => this.ids[rows[i]!]!);
    }
    // a large one: the best of everything, wide enough to hold `want` accepted photos (widened until it does)
    const enough = Math.min(want, rows.length);
    let kk = Math.min(n, Math.ceil((want * n * 1.5) / rows.length) + 16);
    for (;;) {
      const all = this.scan(this.codes, n, q8, kk, (r) => this.ids[r]!);
      const got: Candidates = { ids: [], sims: [] };
      all.ids.forEach((id, i) => {
        if (!allowed.has(id) || got.ids.length >= want) return;
        got.ids.push(id);
        got.sims.push(all.sims[i]!);
      });
      if (got.ids.length >= enough || kk >= n) return got;
      kk = Math.min(n, kk * 4);
    }
  }

  private searchGraph(q8: Int8Array, want: number): Candidates {
    const m = this.graph!.search(q8, want, 1) as unknown as Found;
    return { ids: Array.from(m.keys, Number), sims: Array.from(m.distances, (d) => 1 - d) };
  }

  /** Exact scores from the float vectors (a photo gone from SQLite meanwhile drops out). */
  private rescore(ids: number[], q: Float32Array): Hit[] {
    const vs = this.fetch(ids);
    const hits: Hit[] = [];
    for (const id of ids) {
      const v = vs.get(id);
      if (v) hits.push({ id, score: dot(v, 0, q, 0, this.dim) }); // a photo gone from SQLite meanwhile drops out
    }
    return hits;
  }

  // ---- changes ----

  /** Before a change: a running duplicates search keeps the arrays it started with. */
  private unshare(): void {
    if (!this.shared) return;
    this.ids = this.ids.slice();
    this.codes = this.codes.slice();
    this.shared = false;
  }

  private put(id: number, v: Float32Array): void {
    this.unshare();
    this.dirty = true;
    let row = this.rowOf.get(id);
    if (row === undefined) {
      if (this.count === this.ids.length) this.grow();
      row = this.count++;
      this.rowOf.set(id, row);
      this.ids[row] = id;
    }
    quantize(v, this.dim, this.codes, row);
    this.floats?.set(id, v.slice());
    if (this.pending) this.pending.add(id);
    else if (this.graph) this.graphPut(id, row);
  }

  private graphPut(id: number, row: number): void {
    const key = BigInt(id);
    if (this.graph!.contains(key)) this.graph!.remove(key);
    this.graph!.add(key, this.codes.slice(row * this.dim, (row + 1) * this.dim), 1);
  }

  private grow(): void {
    const cap = Math.max(1024, Math.ceil(this.ids.length * 1.5));
    const ids = new Int32Array(cap);
    ids.set(this.ids);
    const codes = new Int8Array(cap * this.dim);
    codes.set(this.codes);
    this.ids = ids;
    this.codes = codes;
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
    this.graph = graph;
    this.pending = new Set();
    // the rows as they are now (a snapshot: changes meanwhile are in `pending`)
    this.shared = true;
    const n = this.count;
    const ids = this.ids;
    const codes = this.codes;
    const keys = BigUint64Array.from(ids.subarray(0, n), (id) => BigInt(id));
    try {
      let slice = 8;
      for (let o = 0; o < n; ) {
        if (this.closed) throw new Error('the index was closed');
        const m = Math.min(slice, n - o);
        const t = performance.now();
        // copies: usearch reads a matrix from the start of its buffer
        graph.add(keys.slice(o, o + m), codes.slice(o * this.dim, (o + m) * this.dim), 0);
        const ms = performance.now() - t;
        o += m;
        // slices sized by their time: about BUILD_SLICE_MS of blocking each
        if (ms < BUILD_SLICE_MS / 2) slice *= 2;
        else if (ms > BUILD_SLICE_MS * 2 && slice > 1) slice >>= 1;
        await tick();
      }
      const changed = this.pending;
      this.pending = null;
      for (const id of changed) {
        const row = this.rowOf.get(id);
        if (row !== undefined) this.graphPut(id, row);
        else if (graph.contains(BigInt(id))) graph.remove(BigInt(id));
      }
      this.dirty = true; // the graph is worth saving: the next start needs no build
    } catch (e) {
      this.graph = null;
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
    const header: FileHeader = { version: FILE_VERSION, ...stamp, count: this.count };
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
      writeAll(fd, new Uint8Array(this.ids.buffer, 0, this.count * 4));
      writeAll(fd, new Uint8Array(this.codes.buffer, 0, this.count * this.dim));
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
          // in use elsewhere (Windows): removed by a later save
        }
      }
    }
    this.dirty = false;
  }

  /** Reads the file when it matches `stamp` exactly; false (nothing kept) when missing, damaged or stale. */
  private readFile(file: string, stamp: Stamp): boolean {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return false;
    }
    try {
      const size = fstatSync(fd).size;
      const len = Buffer.alloc(4);
      if (size < 4 || readSync(fd, len, 0, 4, 0) !== 4) return false;
      const hl = len.readUInt32LE(0);
      if (4 + hl > size || hl > 1 << 20) return false;
      const hb = Buffer.alloc(hl);
      readAll(fd, hb, 4);
      const header = JSON.parse(hb.toString('utf8')) as FileHeader;
      if (header.version !== FILE_VERSION || header.dim !== this.dim) return false;
      if (
        header.model !== stamp.model ||
        header.generation !== stamp.generation ||
        !Number.isSafeInteger(header.count) ||
        header.count < 0
      ) {
        return false;
      }
      const n = header.count;
      const start = 4 + hl;
      if (size !== start + n * 4 + n * this.dim) return false;
      const cap = Math.max(1024, n);
      const ids = new Int32Array(cap);
      const codes = new Int8Array(cap * this.dim);
      readAll(fd, new Uint8Array(ids.buffer, 0, n * 4), start);
      readAll(fd, new Uint8Array(codes.buffer, 0, n * this.dim), start + n * 4);
      let graph: Index | null = null;
      if (n > this.exactLimit && header.graphFile) {
        if (path.basename(header.graphFile) !== header.graphFile) return false;
        const gf = path.join(path.dirname(file), header.graphFile);
        if (statSync(gf, { throwIfNoEntry: false })?.size === header.graphBytes) {
          graph = newGraph(this.dim);
          graph.load(gf);
          if (graph.size() !== n || graph.dimensions() !== this.dim) graph = null; // built again below
        }
      }
      const rowOf = new RowMap();
      for (let r = 0; r < n; r++) {
        if (rowOf.get(ids[r]!) !== undefined) return false; // an id twice: damaged
        rowOf.set(ids[r]!, r);
      }
      this.ids = ids;
      this.codes = codes;
      this.count = n;
      this.rowOf = rowOf;
      this.graph = graph;
      if (!graph) this.maybeBuildGraph();
      return true;
    } catch {
      return false;
    } finally {
      closeSync(fd);
    }
  }

  /** Stops a background build (the library is closing). */
  close(): void {
    this.closed = true;
  }
}

function readAll(fd: number, into: Uint8Array, position: number): void {
  for (let at = 0; at < into.length; ) {
    const got = readSync(fd, into, at, Math.min(1 << 30, into.length - at), position + at);
    if (got <= 0) throw new Error('the index file ended early');
    at += got;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, Math.min(1 << 30, bytes.length - at));
}

/** Where a model's index file lives: `<home>/cache/vectors-<model>.index` (the graph beside it). */
export const vectorFileFor = (home: string, model: string) =>
  path.join(home, 'cache', `vectors-${model.replace(/[^A-Za-z0-9._-]/g, '_')}.index`);

/** What the file must match: the model, its size and the generation counter. */
export function currentStamp(store: LibraryStore, model: string, dim: number): Stamp {
  return { model, dim, generation: store.setting(GENERATION_KEY) ?? '0' };
}

/** Float vectors of photo ids, read from SQLite in one statement (about 50 µs a photo here: read only as needed). */
export function sqliteFetch(store: LibraryStore, model: string, dim: number): VectorFetch {
  const some = store.db.prepare<[string, string], { id: number; vector: Buffer }>(
    'SELECT p.id AS id, e.vector AS vector FROM photos p JOIN embeddings e ON e.hash = p.hash AND e.model = ? WHERE p.id IN (SELECT value FROM json_each(?))',
  );
  return (ids) => {
    const out = new Map<number, Float32Array>();
    if (ids.length === 0) return out;
    for (const r of some.all(model, JSON.stringify(ids))) {
      if (r.vector.byteLength === dim * 4) out.set(r.id, blobToFloats(r.vector, dim));
    }
    return out;
  };
}
