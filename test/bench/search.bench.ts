// npm run bench:search -- [--vectors 100000] [--queries 200] [--k 10] [--seed 1] [--no-cache]
//                          [--exact-queries N] [--threshold 0.95] [--centres C] [--duplicates-limit-s S]
//
// The vector index at real size, on synthetic embeddings shaped like CLIP's (test/bench/search-data.ts: clustered,
// 1% planted near-copies, text queries near the centres, a tag that keeps 10% of photos). Each phase runs in its own
// process so that its peak memory (maxRSS) is its own:
//   build       generate the vectors in chunks (written to vectors.f32 as they go) into a library database as
//               the app keeps them (SQLite, the source of truth), then build the index from it and persist it beside
//               the database; cached in /tmp/glance-bench-search/<N>-<seed>/ unless --no-cache (a cached index the
//               engine no longer reads back is rebuilt from the cached database);
//   exact       today's plain-JS exact scan over the same vectors: the ground truth (top k for every query, with and
//               without the tag filter; cached) and its latency on --exact-queries queries (every run);
//   search      a fresh process opens the persisted index: load_ms is opening it plus the first search; then p50/p99
//               of the index's search, recall@k against the exact top k with and without the filter (the lower is
//               reported), and the process's peak RSS;
//   duplicates  a fresh process opens the index and finds near-duplicates (similarity >= --threshold) while the event
//               loop is watched (monitorEventLoopDelay, 10 ms resolution; lag = the delay beyond the resolution):
//               seconds, the share of planted pairs found, the loop's p99 lag. With --duplicates-limit-s S the run
//               is cancelled after S seconds and its time projected from its progress (no recall then).
// rss_mb is the higher peak of the search and duplicates processes (the engine holds the index for both).
// Prints a table, then as the last line one JSON object:
//   {"vectors","p50_ms","p99_ms","exact_js_p50_ms","recall_at_10","rss_mb","load_ms","duplicates_s",
//    "duplicates_recall","loop_lag_p99_ms","clip_text_p50_ms","multilingual_text_p50_ms","auto_english_to_clip",
//    "auto_other_to_multilingual"}
//   text        the query text encoders one query at a time: CLIP's text tower and the multilingual encoder (its
//               real shapes, random weights), and the `auto` language choice over labelled mixed queries.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../electron/engine/db/database.ts';
import { queryLanguage } from '../../electron/engine/library/query-language.ts';
import { LibraryStore } from '../../electron/engine/library/store.ts';
import * as vectorIndex from '../../electron/engine/library/vector-index.ts';
import { ClipModel } from '../../native-models/clip/model.ts';
import { MultilingualTextEncoder } from '../../native-models/multilingual/text-encoder.ts';
import { DISTILBERT_MULTILINGUAL } from '../fixtures/tiny-distilbert.ts';
import { ENTRY, installTinyMultilingual } from '../fixtures/tiny-multilingual.ts';
import { ENGLISH_QUERIES, OTHER_QUERIES } from './query-languages.ts';
import { FILTER_TAG, SyntheticEmbeddings } from './search-data.ts';
import { cliOptions, median, runPhase, runPhaseHere, table } from './stats.ts';

const opts = cliOptions(process.argv.slice(2));
const self = fileURLToPath(import.meta.url);
const log = (s: string) => process.stderr.write(`  ${s}\n`);

const N = Number(opts.vectors ?? 100_000);
const Q = Number(opts.queries ?? 200);
const K = Number(opts.k ?? 10);
const SEED = Number(opts.seed ?? 1);
const DIM = 512;
const THRESHOLD = Number(opts.threshold ?? 0.95);
// today's scan takes about half a second a query at a million: a subset bounds the run
const EXACT_QUERIES = Math.min(Q, Number(opts['exact-queries'] ?? (N > 300_000 ? 20 : Q)));
const CHUNK = 10_000;
const LAG_RESOLUTION_MS = 10;
/** Duplicates are cancelled after this many seconds (0: never); the time is then projected from the progress. */
const DUPLICATES_LIMIT_S = Number(opts['duplicates-limit-s'] ?? 0);
const cacheRoot = path.join(
  os.tmpdir(),
  'glance-bench-search',
  `${N}-${SEED}${opts.centres ? `-c${Number(opts.centres)}` : ''}`,
);
const vectorsFile = path.join(cacheRoot, 'vectors.f32');
const dataMeta = path.join(cacheRoot, 'data.json');
const truthFile = path.join(cacheRoot, `truth-q${Q}-k${K}.json`);
const indexDir = path.join(cacheRoot, 'index');
const indexMeta = path.join(cacheRoot, 'index.json');

function data(): SyntheticEmbeddings {
  return new SyntheticEmbeddings({
    vectors: N,
    seed: SEED,
    dim: DIM,
    centres: opts.centres ? Number(opts.centres) : undefined,
  });
}

interface Hit {
  id: number;
  score: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Glue to the engine's API: the one section to adapt when electron/engine/library/vector-index.ts changes.
// ---------------------------------------------------------------------------------------------------------------
interface OpenIndex {
  size: number;
  /** How the index answers (e.g. "graph (i8), read from its file"). */
  mode: string;
  /** The persisted index was not read back (missing, stale, or another format): the engine rebuilt it. */
  stale: boolean;
  search(q: Float32Array, k: number, allowed?: Set<number>): Hit[] | Promise<Hit[]>;
  /** Groups (or pairs) of ids found as near-duplicates; `covered`: photos 1..covered took part (all, normally). */
  duplicates(
    threshold: number,
    onProgress: (done: number, total: number) => void,
    signal: AbortSignal,
  ): Promise<{ groups: number[][]; covered: number }>;
  close(): void;
}

interface Engine {
  name: string;
  /** Builds the index from chunks of (ids, row-major vectors) and persists it under `dir`. */
  build(dir: string, dim: number, chunks: AsyncIterable<{ ids: Int32Array; vectors: Float32Array }>): Promise<void>;
  /** Opens the index persisted under `dir`, as the engine does at start. */
  open(dir: string, dim: number): Promise<OpenIndex>;
  /** Today's plain-JS exact scan over `count` rows. */
  exactScan(
    vectors: Float32Array,
    ids: Int32Array,
    count: number,
    q: Float32Array,
    k: number,
    allowed?: Set<number>,
  ): Hit[];
}

// The engine as the app runs it: SQLite is the source of truth (photos and their float embeddings), the index file
// lives beside it and is read at start when its stamp matches; the graph re-scores its candidates from SQLite.
const MODEL = 'bench-512';

const engine: Engine = {
  name: `usearch v2 (int8 codes, exact <= ${vectorIndex.EXACT_LIMIT}, graph ${vectorIndex.GRAPH_QUANTIZATION} above)`,
  async build(dir, dim, chunks) {
    const db = openDatabase(path.join(dir, 'library.db'));
    const store = new LibraryStore(db);
    // a database filled by an earlier run (same vectors: the cache is per size and seed) is kept: only the index
    // is rebuilt
    const filled = store.photoCount() === N;
    const folder = store.folderByPath('/bench/photos') ?? store.addFolder('/bench/photos');
    const t0 = performance.now();
    if (!filled)
      for await (const { ids, vectors } of chunks) {
        db.transaction(() => {
          for (let j = 0; j < ids.length; j++) {
            const id = ids[j]!;
            const hash = `h${id}`;
            store.putEmbedding(hash, MODEL, vectors.subarray(j * dim, (j + 1) * dim));
            const row = store.upsertPhoto({
              path: `/bench/photos/IMG_${id}.jpg`,
              folderId: folder.id,
              size: 1000 + id,
              mtimeMs: 1_600_000_000_000 + id,
              hash,
              width: 4032,
              height: 3024,
              orientation: 1,
              takenAt: null,
            });
            if (row.id !== id) throw new Error(`photo ${id} got row id ${row.id}`);
          }
        })();
      }
    vectorIndex.bumpVectorGeneration(store);
    log(`build: SQLite filled in ${((performance.now() - t0) / 1000).toFixed(1)} s; building the index`);
    const t1 = performance.now();
    const cache = path.dirname(vectorIndex.vectorFileFor(dir, MODEL));
    fs.rmSync(cache, { recursive: true, force: true });
    const index = vectorIndex.VectorIndex.load(store, MODEL, dim);
    await index.ready();
    index.save(vectorIndex.vectorFileFor(dir, MODEL), vectorIndex.currentStamp(store, MODEL, dim));
    log(`build: index built and saved in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    index.close();
    db.close();
  },
  async open(dir, dim) {
    const t0 = performance.now();
    const db = openDatabase(path.join(dir, 'library.db'));
    const store = new LibraryStore(db);
    const dbMs = performance.now() - t0;
    const file = vectorIndex.vectorFileFor(dir, MODEL);
    const index = vectorIndex.VectorIndex.load(store, MODEL, dim, { file });
    const mode = index.approximate
      ? `graph (${vectorIndex.GRAPH_QUANTIZATION}), read from its file`
      : index.size > vectorIndex.EXACT_LIMIT
        ? 'exact while the graph builds: its file was missing or stale'
        : 'exact scan of int8 codes (SIMD), re-scored from SQLite';
    const opened = `${mode}; SQLite opened in ${dbMs.toFixed(0)} ms, the index loaded in ${(performance.now() - t0 - dbMs).toFixed(0)} ms`;
    return {
      size: index.size,
      mode: opened,
      stale: index.origin !== 'file' || (!index.approximate && index.size > vectorIndex.EXACT_LIMIT),
      search: (q, k, allowed) => index.search(q, k, allowed),
      async duplicates(threshold, onProgress, signal) {
        // as Library.duplicates does
        const groups = await index.duplicates(threshold, {
          signal,
          onProgress,
          ...(opts['probe-gap'] ? { probeGap: Number(opts['probe-gap']) } : {}),
        });
        return { groups: groups.map((g) => g.ids), covered: N };
      },
      close() {
        index.close();
        db.close();
      },
    };
  },
  exactScan(vectors, ids, count, q, k, allowed) {
    return vectorIndex.exactScan(vectors, ids, q, k, allowed ? (id) => allowed.has(id) : undefined, count);
  },
};
// ---------------------------------------------------------------------------------------------------------------

/** A file of float32s read in one allocation (files over 2 GB are read in pieces). */
function readF32(file: string): Float32Array {
  const bytes = fs.statSync(file).size;
  const out = new Float32Array(bytes / 4);
  const view = new Uint8Array(out.buffer);
  const fd = fs.openSync(file, 'r');
  for (let at = 0; at < bytes; ) at += fs.readSync(fd, view, at, Math.min(1 << 30, bytes - at), at);
  fs.closeSync(fd);
  return out;
}

/** The vectors in chunks: read from vectors.f32 when it exists, else generated and appended to it. */
async function* chunks(): AsyncGenerator<{ ids: Int32Array; vectors: Float32Array }> {
  const complete = fs.existsSync(dataMeta);
  const gen = data();
  const fd = fs.openSync(complete ? vectorsFile : `${vectorsFile}.part`, complete ? 'r' : 'w');
  const t0 = performance.now();
  for (let from = 0; from < N; from += CHUNK) {
    const to = Math.min(N, from + CHUNK);
    let vectors: Float32Array;
    if (complete) {
      vectors = new Float32Array((to - from) * DIM);
      fs.readSync(fd, new Uint8Array(vectors.buffer), 0, vectors.byteLength, from * DIM * 4);
    } else {
      vectors = gen.chunk(from, to);
      fs.writeSync(fd, new Uint8Array(vectors.buffer));
    }
    const ids = Int32Array.from({ length: to - from }, (_, j) => from + j + 1);
    yield { ids, vectors };
    if ((to / CHUNK) % 10 === 0 || to === N)
      log(`build: ${to} / ${N} vectors fed, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  fs.closeSync(fd);
  if (!complete) {
    fs.renameSync(`${vectorsFile}.part`, vectorsFile);
    fs.writeFileSync(dataMeta, JSON.stringify({ vectors: N, seed: SEED, dim: DIM, centres: gen.centreCount }));
  }
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * p) - 1))]!;
}

function allowedSet(gen: SyntheticEmbeddings): Set<number> {
  const allowed = new Set<number>();
  for (let i = 0; i < N; i++) if (gen.tag(i) === FILTER_TAG) allowed.add(gen.id(i));
  return allowed;
}

async function phaseBuild(): Promise<Record<string, number>> {
  if (!fs.existsSync(dataMeta)) fs.rmSync(indexDir, { recursive: true, force: true });
  fs.mkdirSync(indexDir, { recursive: true });
  const t0 = performance.now();
  await engine.build(indexDir, DIM, chunks());
  const buildSeconds = (performance.now() - t0) / 1000;
  fs.writeFileSync(indexMeta, JSON.stringify({ engine: engine.name, buildSeconds }));
  return { buildSeconds };
}

async function phaseExact(): Promise<Record<string, number>> {
  const gen = data();
  const vectors = readF32(vectorsFile);
  const ids = Int32Array.from({ length: N }, (_, i) => i + 1);
  const queries = gen.queries(Q);
  const allowed = allowedSet(gen);
  let truthSeconds = 0;
  if (!fs.existsSync(truthFile)) {
    const t0 = performance.now();
    const full: number[][] = [];
    const filtered: number[][] = [];
    for (const [j, q] of queries.entries()) {
      full.push(engine.exactScan(vectors, ids, N, q, K).map((h) => h.id));
      filtered.push(engine.exactScan(vectors, ids, N, q, K, allowed).map((h) => h.id));
      if ((j + 1) % 50 === 0) log(`exact: ground truth for ${j + 1} / ${Q} queries`);
    }
    truthSeconds = (performance.now() - t0) / 1000;
    fs.writeFileSync(truthFile, JSON.stringify({ full, filtered }));
  }
  // the baseline's latency, in this run: a warm-up, then the subset
  engine.exactScan(vectors, ids, N, queries[0]!, K);
  const times: number[] = [];
  for (const q of queries.slice(0, EXACT_QUERIES)) {
    const t0 = performance.now();
    engine.exactScan(vectors, ids, N, q, K);
    times.push(performance.now() - t0);
  }
  return { exactP50Ms: median(times), exactP99Ms: percentile(times, 0.99), exactQueries: times.length, truthSeconds };
}

function recall(found: Hit[][], truth: number[][]): number {
  let hit = 0;
  let total = 0;
  for (const [j, t] of truth.entries()) {
    const got = new Set(found[j]!.map((h) => h.id));
    for (const id of t) if (got.has(id)) hit++;
    total += t.length;
  }
  return total ? hit / total : 1;
}

async function phaseSearch(): Promise<Record<string, number | string>> {
  const gen = data();
  const queries = gen.queries(Q);
  const allowed = allowedSet(gen);
  const truth = JSON.parse(fs.readFileSync(truthFile, 'utf8')) as { full: number[][]; filtered: number[][] };
  const t0 = performance.now();
  const index = await engine.open(indexDir, DIM);
  const openMs = performance.now() - t0;
  await index.search(queries[0]!, K);
  const loadMs = performance.now() - t0;
  for (const q of queries.slice(0, 10)) await index.search(q, K); // warm-up
  const run = async (filter?: Set<number>) => {
    const times: number[] = [];
    const found: Hit[][] = [];
    for (const q of queries) {
      const s = performance.now();
      found.push(await index.search(q, K, filter));
      times.push(performance.now() - s);
    }
    return { times, found };
  };
  const full = await run();
  const filtered = await run(allowed);
  const size = index.size;
  index.close();
  return {
    mode: index.mode,
    stale: index.stale ? 1 : 0,
    size,
    loadMs,
    openMs,
    p50Ms: median(full.times),
    p99Ms: percentile(full.times, 0.99),
    filteredP50Ms: median(filtered.times),
    filteredP99Ms: percentile(filtered.times, 0.99),
    recallFull: recall(full.found, truth.full),
    recallFiltered: recall(filtered.found, truth.filtered),
    allowed: allowed.size,
  };
}

async function phaseDuplicates(): Promise<Record<string, number>> {
  const gen = data();
  const index = await engine.open(indexDir, DIM);
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lag.enable();
  // the histogram's first tick only starts its clock: let it tick before the work starts
  await new Promise((r) => setTimeout(r, 3 * LAG_RESOLUTION_MS));
  let lastLog = performance.now();
  let share = 0;
  const cancel = new AbortController();
  const limit = DUPLICATES_LIMIT_S > 0 ? setTimeout(() => cancel.abort(), DUPLICATES_LIMIT_S * 1000) : undefined;
  const t0 = performance.now();
  let result: { groups: number[][]; covered: number } | null = null;
  try {
    result = await index.duplicates(
      THRESHOLD,
      (done, total) => {
        share = total ? done / total : 0;
        if (performance.now() - lastLog < 5000) return;
        lastLog = performance.now();
        log(`duplicates: ${done} / ${total}, ${((lastLog - t0) / 1000).toFixed(1)} s`);
      },
      cancel.signal,
    );
  } catch (e) {
    if (!cancel.signal.aborted) throw e;
  }
  clearTimeout(limit);
  const seconds = (performance.now() - t0) / 1000;
  const cancelMs = result ? 0 : performance.now() - t0 - DUPLICATES_LIMIT_S * 1000;
  // a synchronous stretch shows in the histogram only when its timer next fires
  await new Promise((r) => setTimeout(r, 3 * LAG_RESOLUTION_MS));
  lag.disable();
  index.close();
  const lagFigures = {
    lagP99RawMs: lag.percentile(99) / 1e6,
    lagMaxRawMs: lag.max / 1e6,
    lagP99Ms: Math.max(0, lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS),
  };
  if (!result) {
    // cancelled at --duplicates-limit-s: the time it would take at the rate it went; no recall
    log(`duplicates: cancelled after ${seconds.toFixed(1)} s at ${(share * 100).toFixed(1)}%`);
    return { seconds: share ? seconds / share : Number.NaN, cancelledAt: share, cancelMs, ...lagFigures };
  }
  const { groups, covered } = result;
  // union-find over what was returned (groups or pairs), then: is each planted pair in one group?
  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  let linked = 0;
  for (const g of groups) {
    for (const id of g.slice(1)) parent.set(find(id), find(g[0]!));
    linked += g.length;
  }
  const planted = gen.plantedPairs().filter(([, c]) => gen.id(c) <= covered);
  const found = planted.filter(([o, c]) => find(gen.id(o)) === find(gen.id(c))).length;
  return {
    seconds,
    covered,
    planted: planted.length,
    found,
    recall: planted.length ? found / planted.length : 1,
    groups: groups.length,
    photosInGroups: linked,
    ...lagFigures,
  };
}

/**
 * The text encoders, one query at a time as a search box sends them: CLIP's text tower (the random ViT-B/32 of
 * `npm run bench:make-model`, --clip DIR, default /tmp/clip-random) and the multilingual encoder at its real shapes
 * (DistilBERT 768 x 6 layers, random weights, float32: the catalog's file is its int8 export), each over the same
 * queries; and the `auto` language choice over labelled mixed queries (test/bench/query-languages.ts).
 */
async function phaseText(): Promise<Record<string, number | string>> {
  const queries = [...ENGLISH_QUERIES, ...OTHER_QUERIES.map((q) => q.query)];
  const time = async (encode: (q: string) => Promise<unknown>) => {
    for (const q of queries.slice(0, 5)) await encode(q); // warm-up
    const ms: number[] = [];
    for (const q of queries) {
      const t0 = performance.now();
      await encode(q);
      ms.push(performance.now() - t0);
    }
    return { p50: median(ms), p99: percentile(ms, 99) };
  };
  const out: Record<string, number | string> = {};
  const clipDir = opts.clip ?? process.env.GLANCE_BENCH_MODEL ?? '/tmp/clip-random';
  if (fs.existsSync(path.join(clipDir, 'tokenizer.json'))) {
    const clip = await ClipModel.load(clipDir, { towers: ['text'] });
    const r = await time((q) => clip.encodeTexts([q]));
    out.clipTextP50Ms = r.p50;
    out.clipTextP99Ms = r.p99;
    await clip.release();
  } else out.clipText = `no CLIP model in ${clipDir} (npm run bench:make-model)`;
  const dir = path.join(os.tmpdir(), 'glance-bench-multilingual');
  if (!fs.existsSync(path.join(dir, ENTRY.onnxFile))) {
    log('writing the multilingual encoder at its real shapes (random weights, ~540 MB) ...');
    await installTinyMultilingual(dir, { texts: queries, out: 512, shape: DISTILBERT_MULTILINGUAL, dir });
  }
  const multi = await MultilingualTextEncoder.load(dir, ENTRY);
  const m = await time((q) => multi.encode([q]));
  out.multilingualP50Ms = m.p50;
  out.multilingualP99Ms = m.p99;
  await multi.release();
  // the auto choice
  const detectMs: number[] = [];
  let englishRight = 0;
  let otherRight = 0;
  await queryLanguage('warm up the detector');
  for (const q of ENGLISH_QUERIES) {
    const t0 = performance.now();
    if ((await queryLanguage(q)) === 'en') englishRight++;
    detectMs.push(performance.now() - t0);
  }
  for (const q of OTHER_QUERIES) {
    const t0 = performance.now();
    if ((await queryLanguage(q.query)) === 'other') otherRight++;
    detectMs.push(performance.now() - t0);
  }
  out.englishToClip = englishRight / ENGLISH_QUERIES.length;
  out.otherToMultilingual = otherRight / OTHER_QUERIES.length;
  out.detectP50Ms = median(detectMs);
  return out;
}

if (opts.phase) {
  await runPhaseHere(opts.phase, {
    build: phaseBuild,
    exact: phaseExact,
    search: phaseSearch,
    duplicates: phaseDuplicates,
    text: phaseText,
  });
}

if (opts['no-cache']) fs.rmSync(cacheRoot, { recursive: true, force: true });
fs.mkdirSync(cacheRoot, { recursive: true });
const cachedIndex = fs.existsSync(indexMeta)
  ? (JSON.parse(fs.readFileSync(indexMeta, 'utf8')) as { engine: string })
  : null;
const started = performance.now();
let build = fs.existsSync(dataMeta) && cachedIndex?.engine === engine.name ? null : runPhase(self, 'build');
const exact = runPhase(self, 'exact');
let search = runPhase(self, 'search');
if (search.stale) {
  // the engine no longer reads the cached file (its format or settings changed): rebuilt once
  console.log('the cached index was not read back: rebuilding it');
  build = runPhase(self, 'build');
  search = runPhase(self, 'search');
}
const dup = runPhase(self, 'duplicates');
const text = runPhase(self, 'text') as Record<string, number | string>;
const totalSeconds = (performance.now() - started) / 1000;

const recallAt = Math.min(search.recallFull!, search.recallFiltered!);
const rssMb = Math.max(search.maxRssMb!, dup.maxRssMb!);
const fmtMs = (x: number) => `${x.toFixed(1)} ms`;
const rows: (string | number)[][] = [
  ['engine', engine.name, build ? `built in ${build.buildSeconds!.toFixed(1)} s` : `cached in ${cacheRoot}`],
  ['index at start', String((search as Record<string, unknown>).mode), ''],
  ['vectors', String(search.size!), `${DIM}-d, seed ${SEED}, ${Q} queries, k ${K}`],
  ['search p50 (ms)', search.p50Ms!, `p99 ${fmtMs(search.p99Ms!)}`],
  [
    '  with 10% tag filter p50 (ms)',
    search.filteredP50Ms!,
    `p99 ${fmtMs(search.filteredP99Ms!)}, ${search.allowed} allowed`,
  ],
  [
    'exact JS scan p50 (ms)',
    exact.exactP50Ms!,
    `${exact.exactQueries} queries; index is ${(exact.exactP50Ms! / search.p50Ms!).toFixed(1)}x faster`,
  ],
  [
    `recall@${K}`,
    recallAt,
    `unfiltered ${search.recallFull!.toFixed(4)}, filtered ${search.recallFiltered!.toFixed(4)}`,
  ],
  ['peak RSS (MB)', rssMb, `search process ${search.maxRssMb!.toFixed(0)}, duplicates ${dup.maxRssMb!.toFixed(0)}`],
  [
    'load + first search (ms)',
    search.loadMs!,
    `fresh process, persisted index: open ${fmtMs(search.openMs!)}, first search ${fmtMs(search.loadMs! - search.openMs!)}`,
  ],
  dup.cancelledAt === undefined
    ? [
        `duplicates >= ${THRESHOLD} (s)`,
        dup.seconds!,
        `${dup.groups} groups${dup.covered! < N ? `; first ${dup.covered} photos only` : ''}`,
      ]
    : [
        `duplicates >= ${THRESHOLD} (s, projected)`,
        dup.seconds!,
        `cancelled at ${DUPLICATES_LIMIT_S} s, ${(dup.cancelledAt * 100).toFixed(1)}% done; cancel took ${fmtMs(dup.cancelMs!)}`,
      ],
  ['  planted pairs found', dup.recall ?? 'n/a', dup.cancelledAt === undefined ? `${dup.found} / ${dup.planted}` : ''],
  [
    '  event-loop lag p99 (ms)',
    dup.lagP99Ms!,
    `beyond the ${LAG_RESOLUTION_MS} ms resolution; raw p99 ${fmtMs(dup.lagP99RawMs!)}, max ${fmtMs(dup.lagMaxRawMs!)}`,
  ],
  [
    'query text, CLIP text tower p50 (ms)',
    typeof text.clipTextP50Ms === 'number' ? text.clipTextP50Ms : 'n/a',
    typeof text.clipTextP50Ms === 'number' ? `p99 ${fmtMs(text.clipTextP99Ms as number)}` : String(text.clipText),
  ],
  [
    'query text, multilingual encoder p50 (ms)',
    text.multilingualP50Ms as number,
    `p99 ${fmtMs(text.multilingualP99Ms as number)}; DistilBERT 768 x 6, float32 random weights`,
  ],
  [
    'auto: English queries to CLIP',
    text.englishToClip as number,
    `${ENGLISH_QUERIES.length} queries; others to the multilingual model ${(text.otherToMultilingual as number).toFixed(3)} of ${OTHER_QUERIES.length} (${new Set(OTHER_QUERIES.map((q) => q.lang)).size} languages); detection p50 ${fmtMs(text.detectP50Ms as number)}`,
  ],
  ['run (s)', totalSeconds, build ? 'including the build' : 'index from cache'],
];
console.log(table(['measure', 'value', 'context'], rows));
const round = (x: number, d = 2) => Number(x.toFixed(d));
console.log(
  JSON.stringify({
    vectors: search.size!,
    p50_ms: round(search.p50Ms!, 3),
    p99_ms: round(search.p99Ms!, 3),
    exact_js_p50_ms: round(exact.exactP50Ms!),
    clip_text_p50_ms: typeof text.clipTextP50Ms === 'number' ? round(text.clipTextP50Ms) : null,
    multilingual_text_p50_ms: round(text.multilingualP50Ms as number),
    auto_english_to_clip: round(text.englishToClip as number, 3),
    auto_other_to_multilingual: round(text.otherToMultilingual as number, 3),
    recall_at_10: round(recallAt, 4),
    rss_mb: round(rssMb, 0),
    load_ms: round(search.loadMs!, 1),
    duplicates_s: Number.isFinite(dup.seconds!) ? round(dup.seconds!) : null,
    duplicates_recall: dup.recall === undefined ? null : round(dup.recall, 4),
    loop_lag_p99_ms: round(dup.lagP99Ms!, 1),
  }),
);
