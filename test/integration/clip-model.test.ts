// The CLIP runtime against the tiny fixture model, whose weights the test knows: every number the runtime gives is
// recomputed here with plain TypeScript math, independent of ONNX Runtime.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipModel } from '../../native-models/clip/model.ts';
import { encodeImages } from '../../native-models/clip/pipeline.ts';
import { labelEmbeddings, zeroShotProbabilities } from '../../native-models/clip/zero-shot.ts';
import { ModelError } from '../../native-models/errors.ts';
import { type TinyClip, type TinyClipWeights, writeCorruptOnnx, writeTinyClip } from '../fixtures/tiny-clip.ts';

let tmp: string;
let tiny: TinyClip;
let model: ClipModel;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-clip-'));
  tiny = await writeTinyClip(path.join(tmp, 'tiny'), { variants: ['fp32', 'fp16', 'quantized'] });
  model = await ClipModel.load(tiny.dir);
});

afterAll(async () => {
  await model?.release();
  await rm(tmp, { recursive: true, force: true });
});

// ---- the reference: plain math over the fixture's weights ----

function normalize(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
}

function refImage(w: TinyClipWeights, pixels: Float32Array): number[] {
  const plane = 3 * w.imageSize * w.imageSize;
  const out: number[] = [];
  for (let d = 0; d < w.dim; d++) {
    let s = w.bias[d]!;
    for (let i = 0; i < plane; i++) s += w.kernel[d * plane + i]! * pixels[i]!;
    out.push(s);
  }
  return normalize(out);
}

function refText(w: TinyClipWeights, ids: number[]): number[] {
  const sum = new Array(w.dim).fill(0);
  for (const id of ids) {
    const row = w.tokenEmbedding.get(id);
    if (row) {
      row.forEach((x, d) => {
        sum[d] += x;
      });
    }
  }
  return normalize(sum);
}

function refProbabilities(image: number[], labels: number[][], scale: number): number[] {
  const logits = labels.map((l) => scale * l.reduce((s, x, i) => s + x * image[i]!, 0));
  const m = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

function randomTensor(seed: number, n: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648) * 4 - 2;
  }
  return out;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

// ---- tests ----

describe('vision tower', () => {
  it('matches the reference for a batch of several images within 1e-5', async () => {
    const size = 3 * tiny.fp32.imageSize ** 2;
    const tensors = [1, 2, 3, 4, 5].map((s) => randomTensor(s, size));
    const got = await model.encodeImageTensors(tensors);
    expect(got).toHaveLength(5);
    got.forEach((e, i) => {
      expect(maxDiff(e, refImage(tiny.fp32, tensors[i]!))).toBeLessThan(1e-5);
    });
    // batch order matters: each row is its own image, not a neighbour's
    expect(maxDiff(got[0]!, got[1]!)).toBeGreaterThan(1e-2);
  });

  it('gives the same answer alone and in a batch', async () => {
    const size = 3 * tiny.fp32.imageSize ** 2;
    const t = randomTensor(9, size);
    const [alone] = await model.encodeImageTensors([t]);
    const batch = await model.encodeImageTensors([randomTensor(8, size), t]);
    expect(maxDiff(alone!, batch[1]!)).toBeLessThan(1e-6);
  });

  it('encodes files through the pipeline, equal to the reference on the preprocessed tensor', async () => {
    const files: string[] = [];
    for (const [i, rgb] of [
      [255, 0, 0],
      [10, 200, 30],
      [40, 40, 220],
    ].entries()) {
      const f = path.join(tmp, `pipe-${i}.png`);
      await sharp({
        create: { width: 50 + i * 20, height: 40, channels: 3, background: { r: rgb[0]!, g: rgb[1]!, b: rgb[2]! } },
      })
        .png()
        .toFile(f);
      files.push(f);
    }
    const results = [];
    for await (const batch of encodeImages(model, files, { batchSize: 2 })) results.push(...batch);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2]);
    for (const r of results) {
      const px = await model.preprocess(r.input);
      expect(maxDiff(r.embedding!, refImage(tiny.fp32, px))).toBeLessThan(1e-5);
    }
  });
});

describe('text tower', () => {
  it('matches the reference, batched and padded to the longest prompt', async () => {
    const texts = ['a photo of something red', 'blue', 'a green and yellow picture of a purple thing'];
    const got = await model.encodeTexts(texts);
    texts.forEach((t, i) => {
      expect(maxDiff(got[i]!, refText(tiny.fp32, model.tokenizer.encode(t)))).toBeLessThan(1e-5);
    });
  });

  it('is unaffected by padding (the mask reaches the model)', async () => {
    const [alone] = await model.encodeTexts(['red']);
    const [padded] = await model.encodeTexts(['red', 'a very long prompt about a white and black and orange cat']);
    expect(maxDiff(alone!, padded!)).toBeLessThan(1e-6);
  });

  it('splits large prompt lists into batches without changing answers', async () => {
    const texts = Array.from({ length: 70 }, (_, i) => (i % 2 ? `a red thing number ${i}` : `blue ${i}`));
    const big = await model.encodeTexts(texts, 16);
    const one = await model.encodeTexts(texts);
    big.forEach((e, i) => {
      expect(maxDiff(e, one[i]!)).toBeLessThan(1e-6);
    });
  });
});

describe('zero-shot classification', () => {
  const labels = ['a photo of something red', 'a photo of something green', 'a photo of something blue'];

  it('calls a red picture red, with the probabilities of the reference', async () => {
    const file = path.join(tmp, 'red.jpg');
    await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 250, g: 5, b: 5 } } })
      .jpeg({ quality: 95 })
      .toFile(file);
    const textEmb = await labelEmbeddings(model, labels);
    const [image] = await model.encodeImageTensors([await model.preprocess(file)]);
    const probs = zeroShotProbabilities(image!, textEmb, 100);
    expect(probs[0]).toBeGreaterThan(0.99);
    const ref = refProbabilities(
      refImage(tiny.fp32, await model.preprocess(file)),
      labels.map((l) => refText(tiny.fp32, model.tokenizer.encode(l))),
      100,
    );
    expect(maxDiff(probs, ref)).toBeLessThan(1e-5);
  });

  it('averages normalized prompt embeddings over templates', async () => {
    const templates = ['a photo of something {}.', '{} paint', 'the colour {} on a wall'];
    const [ens] = await labelEmbeddings(model, ['orange'], templates);
    const parts = templates.map((t) => refText(tiny.fp32, model.tokenizer.encode(t.replace('{}', 'orange'))));
    const mean = normalize(parts[0]!.map((_, d) => parts.reduce((s, p) => s + p[d]!, 0)));
    expect(maxDiff(ens!, mean)).toBeLessThan(1e-5);
  });
});

describe('variants', () => {
  it('fp16 exports take and give half floats and agree with fp32', async () => {
    const fp16 = await ClipModel.load(tiny.dir, { variant: 'fp16' });
    try {
      const t = randomTensor(3, 3 * tiny.fp32.imageSize ** 2);
      const [a] = await fp16.encodeImageTensors([t]);
      expect(maxDiff(a!, refImage(tiny.fp32, t))).toBeLessThan(1e-2);
      const [txt] = await fp16.encodeTexts(['a red car']);
      expect(maxDiff(txt!, refText(tiny.fp32, fp16.tokenizer.encode('a red car')))).toBeLessThan(1e-2);
    } finally {
      await fp16.release();
    }
  });

  it('the quantized variant loads the _quantized files', async () => {
    const q = await ClipModel.load(tiny.dir, { variant: 'quantized' });
    try {
      const t = randomTensor(4, 3 * tiny.fp32.imageSize ** 2);
      const [a] = await q.encodeImageTensors([t]);
      expect(maxDiff(a!, refImage(tiny.quantized!, t))).toBeLessThan(1e-5);
      expect(maxDiff(refImage(tiny.quantized!, t), refImage(tiny.fp32, t))).toBeGreaterThan(1e-5);
    } finally {
      await q.release();
    }
  });
});

describe('model folders that do not fit', () => {
  async function copyTiny(name: string): Promise<string> {
    const dir = path.join(tmp, name);
    await cp(tiny.dir, dir, { recursive: true });
    return dir;
  }

  async function loadError(dir: string, opts = {}): Promise<ModelError> {
    const err = await ClipModel.load(dir, opts).then(
      (m) => {
        void m.release();
        return null;
      },
      (e) => e,
    );
    expect(err).toBeInstanceOf(ModelError);
    return err as ModelError;
  }

  it('a missing folder', async () => {
    const err = await loadError(path.join(tmp, 'nowhere'));
    expect(err.code).toBe('model-folder-missing');
  });

  it('a missing model file is named, with the variants that are there', async () => {
    const dir = await copyTiny('no-text');
    await rm(path.join(dir, 'onnx', 'text_model.onnx'));
    await rm(path.join(dir, 'tokenizer.json'));
    const err = await loadError(dir);
    expect(err.code).toBe('model-file-missing');
    expect(err.message).toContain(path.join('onnx', 'text_model.onnx'));
    expect(err.message).toContain('tokenizer.json');
    expect(err.message).toMatch(/--variant (fp16|quantized)/);
  });

  it('a corrupt ONNX file', async () => {
    const dir = await copyTiny('corrupt');
    await writeCorruptOnnx(path.join(dir, 'onnx', 'vision_model.onnx'));
    const err = await loadError(dir);
    expect(err.code).toBe('model-file-corrupt');
    expect(err.message).toContain('vision_model.onnx');
    expect(err.message).toMatch(/download the model again/);
  });

  it('a preprocessor_config.json that does not fit the vision model', async () => {
    const dir = await copyTiny('mismatch');
    const cfgFile = path.join(dir, 'preprocessor_config.json');
    const cfg = JSON.parse(await readFile(cfgFile, 'utf8'));
    cfg.crop_size = { height: 224, width: 224 };
    cfg.size = { shortest_edge: 224 };
    await writeFile(cfgFile, JSON.stringify(cfg));
    const err = await loadError(dir);
    expect(err.code).toBe('model-io-mismatch');
    expect(err.message).toMatch(/224/);
  });

  it('a broken preprocessor_config.json', async () => {
    const dir = await copyTiny('badcfg');
    await writeFile(path.join(dir, 'preprocessor_config.json'), '{"size": "big", "crop_size": 32}');
    const err = await loadError(dir);
    expect(err.code).toBe('model-config-invalid');
    expect(err.message).toMatch(/"size"/);
  });

  it('swapped towers (a text model where the vision model belongs)', async () => {
    const dir = await copyTiny('swapped');
    await cp(path.join(dir, 'onnx', 'text_model.onnx'), path.join(dir, 'onnx', 'vision_model.onnx'));
    const err = await loadError(dir);
    expect(err.code).toBe('model-io-mismatch');
    expect(err.message).toMatch(/pixel_values/);
  });
});
