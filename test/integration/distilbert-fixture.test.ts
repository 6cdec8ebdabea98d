// The random-weight DistilBERT (the multilingual CLIP text transformer's graph), written by the repo's own ONNX
// writer, runs in ONNX Runtime with the export's I/O and agrees with a plain forward pass; checked at a small size.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distilBertForward, erf } from '../fixtures/distilbert-reference.ts';
import {
  DISTILBERT_TINY,
  type DistilBertShape,
  type DistilBertWeights,
  writeDistilBertOnnx,
} from '../fixtures/tiny-distilbert.ts';

const SHAPE: DistilBertShape = { ...DISTILBERT_TINY, vocab: 300 };

let tmp: string;
let session: ort.InferenceSession;
let weights: DistilBertWeights;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-distilbert-'));
  const written = await writeDistilBertOnnx(tmp, { shape: SHAPE, seed: 7 });
  weights = written.weights;
  session = await ort.InferenceSession.create(written.file);
});
afterAll(async () => {
  await session?.release();
  await rm(tmp, { recursive: true, force: true });
});

async function run(ids: number[][], mask: number[][]): Promise<ort.Tensor> {
  const dims = [ids.length, ids[0]!.length];
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.flat(), BigInt), dims),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask.flat(), BigInt), dims),
  };
  const out = await session.run(feeds);
  return out.last_hidden_state!;
}

/** The hidden vector of token t in row b of a [batch, sequence, hidden] output. */
function token(out: ort.Tensor, b: number, t: number): Float32Array {
  const [, T, H] = out.dims as [number, number, number];
  return (out.data as Float32Array).subarray((b * T + t) * H, (b * T + t + 1) * H);
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

// two sequences of different lengths, the shorter padded (with a non-zero id, as a tokenizer's pad token may be)
const IDS = [
  [101, 7, 250, 33, 299, 18, 64, 102],
  [101, 45, 0, 102, 1, 1, 1, 1],
];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0, 0, 0],
];

describe('the random-weight DistilBERT fixture', () => {
  it('has the export I/O names and dims', async () => {
    expect(session.inputNames).toEqual(['input_ids', 'attention_mask']);
    expect(session.outputNames).toEqual(['last_hidden_state']);
    const out = await run(IDS, MASK);
    expect(out.type).toBe('float32');
    expect(out.dims).toEqual([2, 8, SHAPE.hidden]);
  });

  it('agrees with the plain forward pass', async () => {
    const out = await run(IDS, MASK);
    const want = distilBertForward(SHAPE, weights, IDS, MASK);
    let worst = 0;
    for (let b = 0; b < IDS.length; b++) {
      for (let t = 0; t < IDS[b]!.length; t++) {
        // padded positions too: their queries still attend to the unmasked keys
        worst = Math.max(worst, maxDiff(token(out, b, t), want[b]![t]!));
      }
    }
    expect(worst).toBeLessThan(1e-4);
    // outputs are LayerNorm'd: not all zero, not all alike
    expect(maxDiff(token(out, 0, 1), token(out, 0, 2))).toBeGreaterThan(0.1);
  });

  it('ignores the ids at masked positions and matches the unpadded sequence', async () => {
    const base = await run(IDS, MASK);
    const changed = IDS.map((row) => [...row]);
    changed[1]![5] = 123;
    changed[1]![7] = 299;
    const other = await run(changed, MASK);
    const alone = await run([IDS[1]!.slice(0, 4)], [[1, 1, 1, 1]]);
    for (let t = 0; t < 4; t++) {
      expect(maxDiff(token(base, 1, t), token(other, 1, t))).toBeLessThan(1e-6);
      expect(maxDiff(token(base, 1, t), token(alone, 0, t))).toBeLessThan(1e-5);
    }
    // an unmasked id does change the others
    const unmaskedChange = IDS.map((row) => [...row]);
    unmaskedChange[1]![2] = 5;
    const moved = await run(unmaskedChange, MASK);
    expect(maxDiff(token(base, 1, 0), token(moved, 1, 0))).toBeGreaterThan(1e-3);
  });

  it("the reference's erf is right", () => {
    // erf(0.5), erf(1), erf(2), erf(3.5) to double precision
    expect(erf(0)).toBe(0);
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(erf(3.5)).toBeCloseTo(0.9999992569016276, 14);
  });
});
