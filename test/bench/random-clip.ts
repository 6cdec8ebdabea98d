// A CLIP ViT-B/32 with random weights, in the layout of the common ONNX exports, written with the repo's own ONNX
// writer: the shapes and compute of openai/clip-vit-base-patch32 (pre-LN transformers with quick_gelu; vision: 32-px
// patches, CLS pooling and post-layernorm; text: causal mask plus padding mask, pooling at the end token, which has
// the highest id), so it times like the real model while its answers mean nothing. For benchmarks only.
//
//   npm run bench:make-model [-- OUT_DIR]        (default /tmp/clip-random; kept when already made; make-model.ts)
//
// Writes onnx/{vision,text}_model.onnx (fp32, dynamic batch; text also dynamic length), their int8 `_quantized`
// variants (the pattern of onnxruntime's quantize_dynamic: DynamicQuantizeLinear + MatMulInteger for every MatMul
// by a weight), config.json, preprocessor_config.json and tokenizer.json (the real CLIP vocabulary).
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clipTokenizerPath } from '../fixtures/clip-tokenizer-json.ts';
import { buildModel, GraphBuilder } from '../fixtures/onnx-writer.ts';

export interface TowerShape {
  width: number;
  layers: number;
  heads: number;
}

export interface RandomClipShape {
  vision: TowerShape & { patch: number; image: number };
  text: TowerShape & { vocab: number; context: number };
  projection: number;
}

/** openai/clip-vit-base-patch32. */
export const VIT_B_32: RandomClipShape = {
  vision: { width: 768, layers: 12, heads: 12, patch: 32, image: 224 },
  text: { width: 512, layers: 12, heads: 8, vocab: 49408, context: 77 },
  projection: 512,
};

const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];
const FLOAT32_LOWEST = -3.4028234663852886e38;
/** Bumped when the graph changes, so that an older folder is made again. */
const VERSION = 1;

/** Uniform values with standard deviation `std` (the Python maker draws normal(0, 0.02): the cost is the same). */
function randomTensor(seed: { s: number }, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  const a = std * Math.sqrt(3);
  let x = seed.s >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296) * 2 * a - a;
  }
  seed.s = x >>> 0 || 1;
  return out;
}

/** Builds one tower's graph: nodes and initializers, with fresh names. */
class Graph extends GraphBuilder {
  private readonly quantizedInputs = new Map<string, [string, string, string]>();

  constructor(
    private readonly seed: { s: number },
    private readonly quantized: boolean,
  ) {
    super();
  }

  random(base: string, dims: number[], std = 0.02): string {
    const n = dims.reduce((a, b) => a * b, 1);
    return this.const(base, { type: 'float32', dims, data: randomTensor(this.seed, n, std) });
  }

  /** x @ W (+ b): fp32, or int8 weights with the activations quantized per call, as quantize_dynamic writes it. */
  linear(x: string, inDim: number, outDim: number, bias = true): string {
    let y: string;
    if (!this.quantized) {
      y = this.op('MatMul', [x, this.random('weight', [inDim, outDim])]);
    } else {
      const w = randomTensor(this.seed, inDim * outDim, 0.02);
      const absMax = w.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-8);
      const scale = absMax / 127;
      const q = Int8Array.from(w, (v) => Math.max(-127, Math.min(127, Math.round(v / scale))));
      const wq = this.const('weight_q', { type: 'int8', dims: [inDim, outDim], data: q });
      const ws = this.scalar(scale);
      const wzp = this.const('weight_zp', { type: 'int8', dims: [], data: Int8Array.of(0) });
      let dq = this.quantizedInputs.get(x);
      if (!dq) {
        const base = this.name('dq');
        dq = [`${base}_q`, `${base}_s`, `${base}_zp`];
        this.nodes.push({ op: 'DynamicQuantizeLinear', inputs: [x], outputs: [...dq] });
        this.quantizedInputs.set(x, dq);
      }
      const [aq, as, azp] = dq;
      const i32 = this.op('MatMulInteger', [aq, wq, azp, wzp]);
      const f = this.op('Cast', [i32], { to: 1 });
      y = this.op('Mul', [f, this.op('Mul', [as, ws])]);
    }
    return bias ? this.op('Add', [y, this.random('bias', [outDim])]) : y;
  }

  layerNorm(x: string, width: number): string {
    const scale = this.const('ln_scale', { type: 'float32', dims: [width], data: new Float32Array(width).fill(1) });
    const bias = this.const('ln_bias', { type: 'float32', dims: [width], data: new Float32Array(width) });
    return this.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: { float: 1e-5 } });
  }

  /** One pre-LN transformer layer; `mask` is added to the attention logits ([N,1,S,S] or none). */
  layer(x: string, { width, heads }: TowerShape, mask?: string): string {
    const d = width / heads;
    const h = this.layerNorm(x, width);
    const split = (t: string) => this.op('Reshape', [t, this.ints([0, 0, heads, d])]);
    const q = this.op('Transpose', [split(this.op('Mul', [this.linear(h, width, width), this.scalar(d ** -0.5)]))], {
      perm: [0, 2, 1, 3],
    });
    const k = this.op('Transpose', [split(this.linear(h, width, width))], { perm: [0, 2, 3, 1] });
    const v = this.op('Transpose', [split(this.linear(h, width, width))], { perm: [0, 2, 1, 3] });
    let logits = this.op('MatMul', [q, k]);
    if (mask) logits = this.op('Add', [logits, mask]);
    const attn = this.op('MatMul', [this.op('Softmax', [logits], { axis: -1 }), v]);
    const merged = this.op('Reshape', [this.op('Transpose', [attn], { perm: [0, 2, 1, 3] }), this.ints([0, 0, width])]);
    const x1 = this.op('Add', [x, this.linear(merged, width, width)]);
    const fc1 = this.linear(this.layerNorm(x1, width), width, width * 4);
    const gelu = this.op('Mul', [fc1, this.op('Sigmoid', [this.op('Mul', [fc1, this.scalar(1.702)])])]);
    return this.op('Add', [x1, this.linear(gelu, width * 4, width)]);
  }
}

export function visionModel(shape: RandomClipShape, quantized: boolean, seed = 1): Uint8Array {
  const { width, patch, image } = shape.vision;
  const g = new Graph({ s: seed }, quantized);
  const grid = image / patch;
  const patches = g.op('Conv', ['pixel_values', g.random('patch_embedding', [width, 3, patch, patch])], {
    kernel_shape: [patch, patch],
    strides: [patch, patch],
  });
  const tokens = g.op('Transpose', [g.op('Reshape', [patches, g.ints([0, width, grid * grid])])], { perm: [0, 2, 1] });
  // the class token, repeated for each image of the batch
  const batch = g.op('Slice', [g.op('Shape', ['pixel_values']), g.ints([0]), g.ints([1])]);
  const cls = g.op('Expand', [
    g.random('class_embedding', [1, 1, width]),
    g.op('Concat', [batch, g.ints([1, width])], { axis: 0 }),
  ]);
  let x = g.op('Add', [
    g.op('Concat', [cls, tokens], { axis: 1 }),
    g.random('position_embedding', [grid * grid + 1, width]),
  ]);
  x = g.layerNorm(x, width);
  for (let i = 0; i < shape.vision.layers; i++) x = g.layer(x, shape.vision);
  const pooled = g.layerNorm(
    g.op('Gather', [x, g.const('zero', { type: 'int64', dims: [], data: BigInt64Array.of(0n) })], { axis: 1 }),
    width,
  );
  g.linear(pooled, width, shape.projection, false);
  g.output('image_embeds');
  return buildModel({
    graphName: 'clip_vision_random',
    nodes: g.nodes,
    inputs: [{ name: 'pixel_values', type: 'float32', shape: ['batch_size', 3, image, image] }],
    outputs: [{ name: 'image_embeds', type: 'float32', shape: ['batch_size', shape.projection] }],
    initializers: g.initializers,
  });
}

export function textModel(shape: RandomClipShape, quantized: boolean, seed = 2): Uint8Array {
  const { width, vocab, context } = shape.text;
  const g = new Graph({ s: seed }, quantized);
  const length = g.op('Slice', [g.op('Shape', ['input_ids']), g.ints([1]), g.ints([2])]);
  const positions = g.op('Slice', [g.random('position_embedding', [context, width]), g.ints([0]), length, g.ints([0])]);
  let x = g.op('Add', [g.op('Gather', [g.random('token_embedding', [vocab, width]), 'input_ids']), positions]);
  // causal: a token sees only those before it; padding: nobody sees a padded position
  const causalTable = new Float32Array(context * context);
  for (let i = 0; i < context; i++) causalTable.fill(FLOAT32_LOWEST, i * context + i + 1, (i + 1) * context);
  const causal = g.op('Slice', [
    g.const('causal', { type: 'float32', dims: [context, context], data: causalTable }),
    g.ints([0, 0]),
    g.op('Concat', [length, length], { axis: 0 }),
    g.ints([0, 1]),
  ]);
  const keep = g.op('Cast', ['attention_mask'], { to: 1 });
  const pad = g.op('Mul', [g.op('Sub', [g.scalar(1), keep]), g.scalar(FLOAT32_LOWEST)]);
  const mask = g.op('Add', [causal, g.op('Unsqueeze', [pad, g.ints([1, 2])])]);
  for (let i = 0; i < shape.text.layers; i++) x = g.layer(x, shape.text, mask);
  x = g.layerNorm(x, width);
  const eos = g.op('ArgMax', [g.op('Cast', ['input_ids'], { to: 6 })], { axis: 1, keepdims: 0 });
  const pooled = g.op('GatherND', [x, g.op('Unsqueeze', [eos, g.ints([1])])], { batch_dims: 1 });
  g.linear(pooled, width, shape.projection, false);
  g.output('text_embeds');
  const ids = ['input_ids', 'attention_mask'].map((name) => ({
    name,
    type: 'int64' as const,
    shape: ['batch_size', 'sequence_length'],
  }));
  return buildModel({
    graphName: 'clip_text_random',
    nodes: g.nodes,
    inputs: ids,
    outputs: [{ name: 'text_embeds', type: 'float32', shape: ['batch_size', shape.projection] }],
    initializers: g.initializers,
  });
}

/** Writes the model folder, unless one made by this version of the writer is there. Returns the folder. */
export async function writeRandomClip(
  dir: string,
  shape: RandomClipShape = VIT_B_32,
  opts: { quantized?: boolean; log?: (line: string) => void } = {},
): Promise<string> {
  const stamp = path.join(dir, 'glance-random-clip.json');
  const want = JSON.stringify({ version: VERSION, shape, quantized: opts.quantized ?? true });
  if ((await readFile(stamp, 'utf8').catch(() => null)) === want) return dir;
  await mkdir(path.join(dir, 'onnx'), { recursive: true });
  const put = async (name: string, bytes: Uint8Array | string) => {
    const file = path.join(dir, name);
    await writeFile(`${file}.tmp`, bytes);
    await rename(`${file}.tmp`, file);
    opts.log?.(`wrote ${file}`);
  };
  for (const quantized of opts.quantized === false ? [false] : [false, true]) {
    const suffix = quantized ? '_quantized' : '';
    await put(`onnx/vision_model${suffix}.onnx`, visionModel(shape, quantized));
    await put(`onnx/text_model${suffix}.onnx`, textModel(shape, quantized));
  }
  const config = {
    model_type: 'clip',
    projection_dim: shape.projection,
    logit_scale_init_value: 2.6592,
    text_config: {
      max_position_embeddings: shape.text.context,
      vocab_size: shape.text.vocab,
      hidden_size: shape.text.width,
    },
    vision_config: { image_size: shape.vision.image, patch_size: shape.vision.patch, hidden_size: shape.vision.width },
    note: 'random weights for timing only',
  };
  await put('config.json', JSON.stringify(config, null, 2));
  const size = shape.vision.image;
  const preprocessor = {
    crop_size: { height: size, width: size },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: MEAN,
    image_std: STD,
    image_processor_type: 'CLIPImageProcessor',
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: size },
  };
  await put('preprocessor_config.json', JSON.stringify(preprocessor, null, 2));
  await copyFile(await clipTokenizerPath(), path.join(dir, 'tokenizer.json'));
  await writeFile(stamp, want);
  return dir;
}
