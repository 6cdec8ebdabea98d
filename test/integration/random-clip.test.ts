// The benchmarks' random-weight CLIP, written by the repo's own ONNX writer, runs in ONNX Runtime as an export does:
// checked at a small width (the full ViT-B/32 is the same graph with bigger numbers: npm run bench:make-model).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipModel } from '../../native-models/clip/model.ts';
import { type RandomClipShape, VIT_B_32, writeRandomClip } from '../bench/random-clip.ts';

const SMALL: RandomClipShape = {
  vision: { ...VIT_B_32.vision, width: 64, layers: 2, heads: 4 },
  text: { ...VIT_B_32.text, width: 32, layers: 2, heads: 4 },
  projection: 16,
};

let tmp: string;
let dir: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-random-clip-'));
  dir = await writeRandomClip(path.join(tmp, 'clip'), SMALL);
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const maxDiff = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

const cosine = (a: Float32Array, b: Float32Array) => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
};

describe('the random-weight CLIP for benchmarks', () => {
  it('loads in both variants with the export I/O; padding does not change a prompt, int8 stays near fp32', async () => {
    const out: Record<string, { text: Float32Array[]; alone: Float32Array; image: Float32Array[] }> = {};
    for (const variant of ['fp32', 'quantized'] as const) {
      const model = await ClipModel.load(dir, { variant });
      try {
        const text = await model.encodeTexts(['a cat', 'a photo of a small red cat sitting on a mat']);
        const [alone] = await model.encodeTexts(['a cat']);
        const size = 3 * 224 * 224;
        const pixels = Float32Array.from({ length: 2 * size }, (_, i) => Math.sin(i / 97));
        const image = await model.encodeImageTensors([pixels.subarray(0, size), pixels.subarray(size)]);
        out[variant] = { text, alone: alone!, image };
      } finally {
        await model.release();
      }
    }
    const { fp32, quantized } = out as Record<'fp32' | 'quantized', (typeof out)[string]>;
    expect(fp32.text.map((v) => v.length)).toEqual([16, 16]);
    expect(fp32.image.map((v) => v.length)).toEqual([16, 16]);
    // the short prompt, padded to the long one's length, pools at its own end token behind the padding mask
    expect(maxDiff(fp32.text[0]!, fp32.alone)).toBeLessThan(1e-5);
    expect(maxDiff(fp32.text[0]!, fp32.text[1]!)).toBeGreaterThan(0.01);
    // random weights make every image look alike (the class token dominates), but not identical
    expect(maxDiff(fp32.image[0]!, fp32.image[1]!)).toBeGreaterThan(1e-6);
    for (let i = 0; i < 2; i++) {
      expect(cosine(quantized.text[i]!, fp32.text[i]!)).toBeGreaterThan(0.99);
      expect(cosine(quantized.image[i]!, fp32.image[i]!)).toBeGreaterThan(0.99);
    }
  });

  it('keeps a folder it already made', async () => {
    const file = path.join(dir, 'onnx', 'vision_model.onnx');
    const before = (await stat(file)).mtimeMs;
    await writeRandomClip(dir, SMALL);
    expect((await stat(file)).mtimeMs).toBe(before);
  });
});
