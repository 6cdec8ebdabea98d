// npm run bench:library -- --model DIR [--photos N] [--rescan N] [--vectors N] [--queries N] [--threads 1,2,4]
//                           [--torch-threads N] [--python PYTHON3] [--phases index,threads,torch,heic,rescan,search] [--heic-photos 16]
//
// The photo library's figures, each phase in its own process so that its peak memory (maxRSS) is its own:
//   index   indexing throughput with a realistic-cost model, against the model alone on ready tensors (same run)
//           and against the two-core ceiling 1 / (1/model + 1/decode);
//   threads the ONNX vision model alone on ready tensors (batch 8) at each intra-op thread count of --threads
//           (default 1, 2 and this machine's cores): with N cores, indexing can at most reach the model alone on N
//           threads (the decoding then needs cores of its own); counts above the cores here are oversubscribed;
//   torch   the same JPEGs through a PyTorch + PIL indexer in rclip's manner (torch-indexer.py: decode, then the
//           model, batch 8, --torch-threads threads, default the cores here): its photos/s and its model alone, and
//           Glance / PyTorch. Needs python3-torch, python3-pil and OpenBLAS (Debian: apt-get install
//           libopenblas0-pthread python3-torch python3-pil); without torch the row says it was skipped;
//   rescan  a re-scan of an unchanged tree of generated files (default 10,000): seconds;
//   search  text search over stored embeddings (default 100,000): p50 and p99 latency, and the share of it spent in
//           the text encoder.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { captureTime } from '../../electron/engine/library/exif.ts';
import { decodeNewPhoto } from '../../electron/engine/library/indexer.ts';
import { Library } from '../../electron/engine/library/library.ts';
import { ClipModel, defaultThreads, towerFile } from '../../native-models/clip/model.ts';
import { preprocessImage } from '../../native-models/clip/preprocess.ts';
import { writePhotoLikeJpegs } from '../fixtures/images.ts';
import { writeHeic } from '../fixtures/raw-and-heic.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';
import { cliOptions, median, runPhase, runPhaseHere, table, timed } from './stats.ts';

const opts = cliOptions(process.argv.slice(2));
const self = fileURLToPath(import.meta.url);

async function phaseIndex(): Promise<Record<string, number>> {
  const photos = await benchPhotos();
  const home = await mkdtemp(path.join(os.tmpdir(), 'glance-bench-home-'));
  const folder = path.join(home, 'photos');
  await mkdir(folder);
  for (const p of photos) await copyFile(p, path.join(folder, path.basename(p)));
  const lib = Library.open({
    home: path.join(home, 'data'),
    modelDir: opts.model!,
    batchSize: 8,
    ...(opts['lib-threads'] ? { threads: Number(opts['lib-threads']) } : {}),
  });
  // Starts both ONNX sessions and encodes the vocabulary once (cached in the database), outside the timing.
  const vocab = await timed(() => lib.warmUp());
  let started = 0;
  const run = await timed(() =>
    lib.indexFolders([folder], (e) => {
      if (e.phase === 'indexing' && !started) started = performance.now();
    }),
  );
  const indexSeconds = (performance.now() - started) / 1000;
  const rate = run.value.indexed / indexSeconds;
  lib.close();

  // Same run, same images: the model alone on ready tensors, and decoding alone.
  const model = await ClipModel.load(opts.model!, {
    towers: ['vision'],
    ...(opts['lib-threads'] ? { threads: Number(opts['lib-threads']) } : {}),
  });
  // Everything the indexer does to a new photo but the model (read, hash, EXIF, decode, thumbnail, tensor),
  // three at a time as the indexer does: with the model's rate, this gives the two-core ceiling.
  const thumbs = path.join(home, 'thumbs');
  const prep = await timed(async () => {
    const out: Float32Array[] = new Array(photos.length);
    let next = 0;
    const worker = async () => {
      while (next < photos.length) {
        const i = next++;
        const bytes = await readFile(photos[i]!);
        const hash = createHash('sha256').update(bytes).digest('hex');
        await captureTime(bytes);
        out[i] = (await decodeNewPhoto(bytes, photos[i]!, hash, model.preprocessConfig, thumbs)).tensor;
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    return out;
  });
  const tensors = prep.value;
  // the model alone on as many threads as the library's session (ONNX Runtime's own default here was one)
  const session = await ort.InferenceSession.create(path.join(model.info.dir, towerFile('vision', 'fp32')), {
    intraOpNumThreads: opts['lib-threads'] ? Number(opts['lib-threads']) : defaultThreads(),
  });
  const { height, width } = model.info.imageSize;
  const size = 3 * height * width;
  const runBatch = async (from: number) => {
    const k = Math.min(8, tensors.length - from);
    const data = new Float32Array(k * size);
    for (let i = 0; i < k; i++) data.set(tensors[from + i]!, i * size);
    await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, [k, 3, height, width]) });
  };
  await runBatch(0);
  const modelRun = await timed(async () => {
    for (let i = 0; i < tensors.length; i += 8) await runBatch(i);
  });
  const modelRate = tensors.length / modelRun.seconds;
  const decodeRate = photos.length / prep.seconds;
  await model.release();
  await rm(home, { recursive: true, force: true });
  return {
    photos: run.value.indexed,
    vocabularySeconds: vocab.seconds,
    indexRate: rate,
    modelRate,
    decodeRate,
    ceiling: 1 / (1 / modelRate + 1 / decodeRate),
  };
}

const cores = os.availableParallelism();
const photoCount = () => Number(opts.photos ?? 64);
/** The index phase's JPEGs (the same files: same names, same folder). */
const benchPhotos = () =>
  writePhotoLikeJpegs(opts.images ?? path.join(os.tmpdir(), 'glance-bench-photos'), photoCount());
const threadCounts = () =>
  [...new Set((opts.threads ?? `1,2,${cores}`).split(',').map(Number))]
    .filter((t) => Number.isInteger(t) && t > 0)
    .sort((a, b) => a - b);

async function phaseThreads(): Promise<Record<string, number>> {
  const photos = await benchPhotos();
  const probe = await ClipModel.load(opts.model!, { towers: [] });
  const tensors = await Promise.all(photos.map((p) => preprocessImage(p, probe.preprocessConfig)));
  await probe.release();
  const out: Record<string, number> = { photos: tensors.length, cores };
  for (const threads of threadCounts()) {
    const model = await ClipModel.load(opts.model!, { towers: ['vision'], threads });
    await model.encodeImageTensors(tensors.slice(0, 8)); // warm-up
    const run = await timed(async () => {
      for (let i = 0; i < tensors.length; i += 8) await model.encodeImageTensors(tensors.slice(i, i + 8));
    });
    out[`model${threads}`] = tensors.length / run.seconds;
    await model.release();
  }
  return out;
}

const TORCH_INSTALL = 'apt-get install libopenblas0-pthread python3-torch python3-pil';

async function phaseTorch(): Promise<Record<string, number | string>> {
  // `python3` first (or --python), then Debian's own, which has python3-torch when PATH leads to another (pyenv).
  const candidates = [...new Set([opts.python ?? 'python3', '/usr/bin/python3'])];
  let python: string | undefined;
  let why = '';
  for (const c of candidates) {
    const check = spawnSync(c, ['-c', 'import torch, PIL, numpy'], { encoding: 'utf8' });
    if (check.status === 0) {
      python = c;
      break;
    }
    why ||= check.error ? check.error.message : (check.stderr.trim().split('\n').at(-1) ?? `exit ${check.status}`);
  }
  if (!python) {
    return { skipped: 1, reason: `${candidates.join(', ')} -c "import torch" failed (${why}): ${TORCH_INSTALL}` };
  }
  const photos = await benchPhotos();
  const folder = await mkdtemp(path.join(os.tmpdir(), 'glance-bench-torch-'));
  for (const p of photos) await copyFile(p, path.join(folder, path.basename(p)));
  const threads = Number(opts['torch-threads'] ?? cores);
  const script = path.join(path.dirname(self), 'torch-indexer.py');
  const run = spawnSync(python, [script, folder, String(threads), '--batch', '8'], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  await rm(folder, { recursive: true, force: true });
  const line = run.stdout?.split('\n').find((l) => l.startsWith('{'));
  if (run.status !== 0 || !line) {
    const failure = run.error?.message ?? run.stderr?.trim().split('\n').at(-1) ?? `exit ${run.status}`;
    return { skipped: 1, reason: `${python} torch-indexer.py failed (${failure})` };
  }
  const r = JSON.parse(line) as Record<string, number | string>;
  return {
    photos: Number(r.photos),
    threads: Number(r.threads),
    pipelineRate: Number(r.pipelinePhotosPerSecond),
    modelRate: Number(r.modelImagesPerSecond),
    matmulGflops: Number(r.matmulGflops),
    torchMaxRssMb: Number(r.maxRssMb),
    torch: String(r.torch),
    blas: String(r.blas),
  };
}

/**
 * The same photos as JPEGs and as HEICs (heif-enc, with a 320-pixel thumbnail item as phones store one), each
 * folder indexed by the library from scratch: photos/s for both.
 */
async function phaseHeic(): Promise<Record<string, number | string>> {
  const n = Number(opts['heic-photos'] ?? 16);
  const home = await mkdtemp(path.join(os.tmpdir(), 'glance-bench-heic-'));
  const jpegs = await writePhotoLikeJpegs(path.join(home, 'jpeg'), n);
  try {
    for (const j of jpegs) {
      const { data, info } = await sharp(j).raw().toBuffer({ resolveWithObject: true });
      await writeHeic(
        path.join(home, 'heic', path.basename(j).replace(/\.jpe?g$/i, '.heic')),
        data,
        info.width,
        info.height,
        {
          thumbnail: 320,
        },
      );
    }
  } catch (e) {
    await rm(home, { recursive: true, force: true });
    return { skipped: (e as Error).message };
  }
  const rateOf = async (folder: string) => {
    const lib = Library.open({
      home: path.join(home, `data-${path.basename(folder)}`),
      modelDir: opts.model!,
      batchSize: 8,
    });
    await lib.warmUp();
    let started = 0;
    const run = await timed(() =>
      lib.indexFolders([folder], (e) => {
        if (e.phase === 'indexing' && !started) started = performance.now();
      }),
    );
    lib.close();
    return run.value.indexed / ((performance.now() - started) / 1000);
  };
  const jpegRate = await rateOf(path.join(home, 'jpeg'));
  const heicRate = await rateOf(path.join(home, 'heic'));
  await rm(home, { recursive: true, force: true });
  return { photos: n, jpegRate, heicRate };
}

async function phaseRescan(): Promise<Record<string, number>> {
  const n = Number(opts.rescan ?? 10_000);
  const home = await mkdtemp(path.join(os.tmpdir(), 'glance-bench-rescan-'));
  const tiny = await writeTinyClip(path.join(home, 'tiny-clip'));
  const root = path.join(home, 'tree');
  // 10,000 small distinct photos in 100 folders of 100
  const png = (i: number) =>
    sharp({ create: { width: 8, height: 8, channels: 3, background: { r: i % 256, g: (i >> 8) % 256, b: 7 } } })
      .png()
      .toBuffer();
  for (let d = 0; d < n / 100; d++) {
    const dir = path.join(root, `album-${String(d).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    await Promise.all(
      Array.from({ length: 100 }, async (_, j) => {
        const i = d * 100 + j;
        await sharp(await png(i)).toFile(path.join(dir, `IMG_${String(i).padStart(5, '0')}.png`));
      }),
    );
  }
  const lib = Library.open({ home: path.join(home, 'data'), modelDir: tiny.dir, batchSize: 32 });
  const first = await timed(() => lib.indexFolders([root]));
  const second = await timed(() => lib.indexFolders(undefined));
  if (second.value.unchanged !== n) throw new Error(`re-scan saw ${second.value.unchanged} unchanged, expected ${n}`);
  lib.close();
  await rm(home, { recursive: true, force: true });
  return { files: n, firstIndexSeconds: first.seconds, rescanSeconds: second.seconds };
}

async function phaseSearch(): Promise<Record<string, number>> {
  const n = Number(opts.vectors ?? 100_000);
  const queries = Number(opts.queries ?? 40);
  const home = await mkdtemp(path.join(os.tmpdir(), 'glance-bench-search-'));
  const lib = Library.open({ home, modelDir: opts.model! });
  const model = await ClipModel.load(opts.model!, { towers: ['text'] });
  const [probe] = await model.encodeTexts(['probe']);
  const dim = probe!.length;
  // n stored photos with random unit embeddings for this model
  const folder = lib.store.addFolder(path.join(home, 'photos'));
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  const fill = await timed(async () =>
    lib.db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const v = new Float32Array(dim);
        let norm = 0;
        for (let d = 0; d < dim; d++) {
          v[d] = rand();
          norm += v[d]! * v[d]!;
        }
        for (let d = 0; d < dim; d++) v[d]! /= Math.sqrt(norm);
        const hash = `h${i}`;
        lib.store.putEmbedding(hash, lib.modelId, v);
        lib.store.upsertPhoto({
          path: path.join(home, 'photos', `IMG_${i}.jpg`),
          folderId: folder.id,
          size: 1000 + i,
          mtimeMs: 1_600_000_000_000 + i,
          hash,
          width: 4032,
          height: 3024,
          orientation: 1,
          takenAt: null,
        });
      }
    })(),
  );
  const load = await timed(() => lib.search({ text: 'warm up', limit: 20 })); // loads the vectors into memory
  const texts = Array.from({ length: queries }, (_, i) => `kids on a beach at sunset number ${i}`);
  const total: number[] = [];
  const encode: number[] = [];
  for (const t of texts) {
    total.push((await timed(() => lib.search({ text: t, limit: 20 }))).seconds * 1000);
    encode.push((await timed(() => model.encodeTexts([t]))).seconds * 1000);
  }
  const sorted = [...total].sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
  lib.close();
  await model.release();
  await rm(home, { recursive: true, force: true });
  return {
    vectors: n,
    fillSeconds: fill.seconds,
    firstSearchLoadMs: load.seconds * 1000,
    p50Ms: median(total),
    p99Ms: p99,
    encoderP50Ms: median(encode),
    encoderShare: median(encode) / median(total),
  };
}

if (opts.phase) {
  await runPhaseHere(opts.phase, {
    index: phaseIndex,
    threads: phaseThreads,
    heic: phaseHeic,
    torch: phaseTorch,
    rescan: phaseRescan,
    search: phaseSearch,
  });
}

if (!opts.model) {
  console.error('usage: npm run bench:library -- --model DIR [--photos 48] [--rescan 10000] [--vectors 100000]');
  console.error(
    'A realistic-cost model (random weights, ViT-B/32 shapes): npm run bench:make-model -- /tmp/clip-random',
  );
  process.exit(2);
}
const phases = (opts.phases ?? 'index,threads,torch,heic,rescan,search').split(',');
const results: Record<string, Record<string, number>> = {};
for (const p of phases) results[p] = runPhase(self, p);
const i = results.index;
const th = results.threads;
// The torch phase's result also holds strings (skip reason, torch version, BLAS).
const tr = results.torch as Record<string, number | string> | undefined;
const h = results.heic as Record<string, number | string> | undefined;
const r = results.rescan;
const s = results.search;
const rows: (string | number)[][] = [];
if (i) {
  rows.push([
    'indexing throughput (photos/s)',
    i.indexRate!,
    `${(i.indexRate! / i.modelRate!).toFixed(2)} of model-only (${i.modelRate!.toFixed(1)}/s)`,
    i.maxRssMb!,
  ]);
  rows.push([
    '  vs two-core ceiling',
    i.ceiling!,
    `${(i.indexRate! / i.ceiling!).toFixed(2)} of ceiling (per-photo work without the model ${i.decodeRate!.toFixed(1)}/s)`,
    '',
  ]);
  rows.push(['  vocabulary encoded once (s)', i.vocabularySeconds!, 'first run only, cached in the database', '']);
}
if (th) {
  const counts = Object.keys(th)
    .filter((k) => /^model\d+$/.test(k))
    .map((k) => Number(k.slice(5)))
    .sort((a, b) => a - b);
  for (const [n, t] of counts.entries()) {
    const rate = th[`model${t}`]!;
    const note =
      t > th.cores!
        ? `oversubscribed: only ${th.cores} cores here, not meaningful`
        : `ceiling of indexing with ${t} core${t === 1 ? '' : 's'} for the model (decode on cores of its own)`;
    const threads = `${t} thread${t === 1 ? '' : 's'} (img/s)`;
    rows.push([
      n === 0 ? `ONNX model alone, batch 8, ${threads}` : `  ${threads}`,
      rate,
      t === counts[0] ? `${note}; ${th.cores} cores on this machine, more threads need a bigger one` : note,
      n === 0 ? th.maxRssMb! : '',
    ]);
  }
}
if (th?.model2 && i) {
  // The index phase's ceiling takes the model at ONNX Runtime's default thread count, as Glance runs it; this one
  // takes it on both cores, as if decoding and the model took turns on them.
  const ceiling2 = 1 / (1 / th.model2 + 1 / i.decodeRate!);
  rows.push([
    '  two-core ceiling, model on 2 threads',
    ceiling2,
    `${(i.indexRate! / ceiling2).toFixed(2)} of it (1 / (1/model on 2 threads + 1/per-photo work))`,
    '',
  ]);
}
if (tr) {
  if (tr.skipped) rows.push(['PyTorch indexer (rclip manner)', 'skipped', String(tr.reason), '']);
  else {
    const rate = Number(tr.pipelineRate);
    rows.push([
      'PyTorch + PIL indexer (photos/s)',
      rate,
      `rclip manner: decode then model, batch 8, ${tr.threads} threads, same JPEGs, torch ${tr.torch}`,
      Number(tr.torchMaxRssMb),
    ]);
    if (i) rows.push(['  Glance / PyTorch', i.indexRate! / rate, 'indexing throughput, same JPEGs and cores', '']);
    const ort2 = th?.[`model${tr.threads}`];
    rows.push([
      '  PyTorch model alone (img/s)',
      Number(tr.modelRate),
      `ready tensors, batch 8${ort2 ? `; ONNX on ${tr.threads} threads ${(ort2 / Number(tr.modelRate)).toFixed(2)}x` : ''}; BLAS ${tr.blas}, matmul ${Number(tr.matmulGflops).toFixed(0)} GFLOP/s`,
      '',
    ]);
  }
}
if (h) {
  if (h.skipped !== undefined) rows.push(['HEIC indexing', 'skipped', String(h.skipped), '']);
  else {
    rows.push([
      `${h.photos} HEICs, 12 MP, 320-px thumbnail (photos/s)`,
      Number(h.heicRate),
      `the same photos as JPEGs: ${Number(h.jpegRate).toFixed(2)} photos/s (HEIC ${(Number(h.heicRate) / Number(h.jpegRate)).toFixed(2)}x)`,
      Number(h.maxRssMb),
    ]);
  }
}
if (r)
  rows.push([
    `re-scan of ${r.files} unchanged files (s)`,
    r.rescanSeconds!,
    `first index of the tree ${r.firstIndexSeconds!.toFixed(1)} s (tiny model)`,
    r.maxRssMb!,
  ]);
if (s) {
  rows.push([
    `text search over ${s.vectors} photos, p50 (ms)`,
    s.p50Ms!,
    `text encoder ${(s.encoderShare! * 100).toFixed(0)}% (${s.encoderP50Ms!.toFixed(1)} ms)`,
    s.maxRssMb!,
  ]);
  rows.push(['  p99 (ms)', s.p99Ms!, `first search loads the vectors: ${s.firstSearchLoadMs!.toFixed(0)} ms`, '']);
}
console.log(table(['measure', 'value', 'context', 'peak RSS (MB)'], rows));
if (opts.json) console.log(JSON.stringify(results));
