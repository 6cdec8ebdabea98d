// npm run bench:library -- --model DIR [--photos N] [--rescan N] [--vectors N] [--queries N]
//
// The photo library's figures, each phase in its own process so that its peak memory (maxRSS) is its own:
//   index   indexing throughput with a realistic-cost model, against the model alone on ready tensors (same run)
//           and against the two-core ceiling 1 / (1/model + 1/decode);
//   rescan  a re-scan of an unchanged tree of generated files (default 10,000): seconds;
//   search  text search over stored embeddings (default 100,000): p50 and p99 latency, and the share of it spent in
//           the text encoder.
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
import { ClipModel, towerFile } from '../../native-models/clip/model.ts';
import { writePhotoLikeJpegs } from '../fixtures/images.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';
import { cliOptions, median, runPhase, runPhaseHere, table, timed } from './stats.ts';

const opts = cliOptions(process.argv.slice(2));
const self = fileURLToPath(import.meta.url);

async function phaseIndex(): Promise<Record<string, number>> {
  const n = Number(opts.photos ?? 64);
  const photos = await writePhotoLikeJpegs(opts.images ?? path.join(os.tmpdir(), 'glance-bench-photos'), n);
  const home = await mkdtemp(path.join(os.tmpdir(), 'glance-bench-home-'));
  const folder = path.join(home, 'photos');
  await mkdir(folder);
  for (const p of photos) await copyFile(p, path.join(folder, path.basename(p)));
  const lib = Library.open({ home: path.join(home, 'data'), modelDir: opts.model!, batchSize: 8 });
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
  const model = await ClipModel.load(opts.model!, { towers: ['vision'] });
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
  const session = await ort.InferenceSession.create(path.join(model.info.dir, towerFile('vision', 'fp32')));
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

if (opts.phase) await runPhaseHere(opts.phase, { index: phaseIndex, rescan: phaseRescan, search: phaseSearch });

if (!opts.model) {
  console.error('usage: npm run bench:library -- --model DIR [--photos 48] [--rescan 10000] [--vectors 100000]');
  console.error(
    'A realistic-cost model (random weights, ViT-B/32 shapes): npm run bench:make-model -- /tmp/clip-random',
  );
  process.exit(2);
}
const phases = (opts.phases ?? 'index,rescan,search').split(',');
const results: Record<string, Record<string, number>> = {};
for (const p of phases) results[p] = runPhase(self, p);
const i = results.index;
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
