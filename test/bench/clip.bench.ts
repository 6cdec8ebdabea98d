// npm run bench:clip -- --model DIR [--images DIR] [--count N] [--variant fp32|quantized] [--threads N] [--batches 1,8,32]
//
// Images per second for
//   (a) the raw ONNX Runtime session on ready tensors (the model's own rate),
//   (p) decoding and preprocessing alone (sharp, two images at a time),
//   (b) Glance's whole pipeline (read, decode, preprocess, encode, with decoding overlapping inference),
// at each batch size, all in one run, with b/a and b against the two-core ceiling 1 / (1/a + 1/p): on a machine
// whose cores the model already fills, decoding cannot hide behind inference, so its cost adds.
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ClipModel, towerFile, type Variant } from '../../native-models/clip/model.ts';
import { encodeImages } from '../../native-models/clip/pipeline.ts';
import { writePhotoLikeJpegs } from '../fixtures/images.ts';
import { cliOptions, table, timed } from './stats.ts';

const opts = cliOptions(process.argv.slice(2));
if (!opts.model) {
  console.error('usage: npm run bench:clip -- --model DIR [--images DIR] [--count 64] [--variant fp32] [--threads N]');
  console.error(
    'A realistic-cost model (random weights, ViT-B/32 shapes): npm run bench:make-model -- /tmp/clip-random',
  );
  process.exit(2);
}
const variant = (opts.variant ?? 'fp32') as Variant;
const count = Number(opts.count ?? 64);
const threads = opts.threads ? Number(opts.threads) : undefined;
const batches = (opts.batches ?? '1,8,32').split(',').map(Number);
const imageDir = opts.images ?? path.join(os.tmpdir(), 'glance-bench-photos');

console.log(`making or reusing ${Math.min(count, 48)} photo-like 4032x3024 JPEGs in ${imageDir} ...`);
const photos = await writePhotoLikeJpegs(imageDir, Math.min(count, 48));
const files = Array.from({ length: count }, (_, i) => photos[i % photos.length]!);

const model = await ClipModel.load(opts.model, { variant, towers: ['vision'], ...(threads ? { threads } : {}) });
const { height, width } = model.info.imageSize;
const raw = await ort.InferenceSession.create(path.join(model.info.dir, towerFile('vision', variant)), {
  graphOptimizationLevel: 'all',
  ...(threads ? { intraOpNumThreads: threads } : {}),
});

// (p) preprocessing alone, two at a time, which also gives the ready tensors for (a)
const prep = await timed(async () => {
  const out: Float32Array[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      out[i] = await model.preprocess(files[i]!);
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
});
const tensors = prep.value;
const p = files.length / prep.seconds;

async function rawRate(batch: number): Promise<number> {
  const size = 3 * height * width;
  const run = async (from: number) => {
    const n = Math.min(batch, files.length - from);
    const data = new Float32Array(n * size);
    for (let i = 0; i < n; i++) data.set(tensors[from + i]!, i * size);
    const r = await raw.run({ [raw.inputNames[0]!]: new ort.Tensor('float32', data, [n, 3, height, width]) });
    for (const t of Object.values(r)) t.dispose();
  };
  await run(0); // warm-up
  const t = await timed(async () => {
    for (let from = 0; from < files.length; from += batch) await run(from);
  });
  return files.length / t.seconds;
}

async function pipelineRate(batch: number): Promise<number> {
  const t = await timed(async () => {
    let ok = 0;
    for await (const b of encodeImages(model, files, { batchSize: batch })) ok += b.filter((r) => r.embedding).length;
    if (ok !== files.length) throw new Error(`only ${ok} of ${files.length} images encoded`);
  });
  return files.length / t.seconds;
}

console.log(
  `model ${model.info.dir} (${variant}), ${files.length} images per measure, ${os.cpus().length} cores, ` +
    `ORT threads ${threads ?? 'default'}, node ${process.version}`,
);
const rows: (string | number)[][] = [];
const results: Record<string, number>[] = [];
for (const batch of batches) {
  await pipelineRate(batch); // warm-up: page cache, allocator
  const a = await rawRate(batch);
  const b = await pipelineRate(batch);
  const ceiling = 1 / (1 / a + 1 / p);
  rows.push([String(batch), a, p, b, b / a, ceiling, b / ceiling]);
  results.push({ batch, a, p, b, ratio: b / a, ceiling, ofCeiling: b / ceiling });
}
console.log(
  table(
    ['batch', '(a) model img/s', '(p) preprocess img/s', '(b) pipeline img/s', 'b/a', 'ceiling img/s', 'b/ceiling'],
    rows,
  ),
);
if (opts.json) console.log(JSON.stringify({ variant, threads: threads ?? null, count: files.length, results }));
await model.release();
await raw.release();
