// A sentence-transformers text encoder trained into a CLIP model's image space (clip-ViT-B-32-multilingual-v1):
// the whole pipeline its modules.json describes, so that its vectors are the ones the reference library computes:
//   0. Transformer: tokenizer.json (WordPiece) -> the ONNX export (input_ids, attention_mask -> last_hidden_state);
//   1. Pooling: mean of the token vectors where attention_mask is 1;
//   2. Dense: the hub's own weights (2_Dense/model.safetensors, `linear.weight` [out, in], `linear.bias` if any),
//      identity activation;
// then L2-normalised, as Glance stores CLIP's image vectors, so a dot product is the cosine.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../errors.ts';
import { readSafetensors } from '../safetensors.ts';
import { WordPieceTokenizer } from './tokenizer.ts';

export interface TextEncoderFiles {
  /** The transformer's ONNX export, relative to the folder. */
  onnxFile: string;
  /** The Dense module's safetensors, relative to the folder. */
  denseFile: string;
  /** Tokens per text at most (sentence-transformers' max_seq_length). */
  maxTokens: number;
}

export class MultilingualTextEncoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: WordPieceTokenizer,
    private readonly weight: Float32Array,
    private readonly bias: Float32Array | null,
    /** Hidden size (the Dense layer's input) and output size. */
    readonly hidden: number,
    readonly dim: number,
    private readonly maxTokens: number,
  ) {}

  /** Loads the folder's files; every missing or mismatched piece is an error naming the file and what to do. */
  static async load(
    dir: string,
    files: TextEncoderFiles,
    o: { threads?: number } = {},
  ): Promise<MultilingualTextEncoder> {
    const need = (rel: string) => {
      const file = path.join(dir, rel);
      if (!existsSync(file)) {
        throw new ModelError(
          'model-file-missing',
          `${file} is missing: download the multilingual text model again (glance models download)`,
        );
      }
      return file;
    };
    const tokenizer = await WordPieceTokenizer.load(need('tokenizer.json'));
    // the whole file (1.5 MB): the weight, and the bias when the layer has one (this model's has none)
    const dense = await readSafetensors(need(files.denseFile));
    const w = dense.tensors.get('linear.weight');
    if (w === undefined || w.shape.length !== 2) {
      throw new ModelError(
        'model-config-invalid',
        `${files.denseFile} has no linear.weight matrix (it has ${[...dense.tensors.keys()].join(', ') || 'nothing'}): not a sentence-transformers Dense module`,
      );
    }
    const [dim, hidden] = w.shape as [number, number];
    const b = dense.tensors.get('linear.bias') ?? null;
    if (b && (b.shape.length !== 1 || b.shape[0] !== dim)) {
      throw new ModelError(
        'model-config-invalid',
        `${files.denseFile}: linear.bias has shape [${b.shape}], not [${dim}]`,
      );
    }
    await checkPooling(dir);
    const onnx = need(files.onnxFile);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(onnx, {
        ...(o.threads ? { intraOpNumThreads: o.threads } : {}),
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new ModelError(
        'model-file-corrupt',
        `${onnx} could not be loaded by ONNX Runtime (${(err as Error).message}): delete the model and download it again`,
        { cause: err },
      );
    }
    for (const input of ['input_ids', 'attention_mask']) {
      if (!session.inputNames.includes(input)) {
        throw new ModelError(
          'model-io-mismatch',
          `${onnx} has no input "${input}" (it has ${session.inputNames.join(', ')}): not a sentence-transformers text export`,
        );
      }
    }
    return new MultilingualTextEncoder(session, tokenizer, w.data, b?.data ?? null, hidden, dim, files.maxTokens);
  }

  /** L2-normalised embeddings, one per text, in order. */
  async encode(texts: string[], batchSize = 32): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += batchSize) {
      const b = this.tokenizer.encodeBatch(texts.slice(start, start + batchSize), this.maxTokens);
      const dims = [b.rows, b.length];
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', b.ids, dims),
        attention_mask: new ort.Tensor('int64', b.mask, dims),
      };
      const result = await this.session.run(feeds);
      const hiddenOut = result.last_hidden_state ?? result[this.session.outputNames[0]!]!;
      const [rows, length, hidden] = hiddenOut.dims as [number, number, number];
      if (hidden !== this.hidden || rows !== b.rows || length !== b.length) {
        throw new ModelError(
          'model-io-mismatch',
          `the text model's output is [${hiddenOut.dims}], expected [${b.rows}, ${b.length}, ${this.hidden}]`,
        );
      }
      const h = hiddenOut.data as Float32Array;
      for (let r = 0; r < rows; r++) out.push(this.project(meanPool(h, b.mask, r, length, hidden)));
    }
    return out;
  }

  /** Dense (W x + b), then L2 normalisation. */
  private project(pooled: Float64Array): Float32Array {
    const y = new Float32Array(this.dim);
    let norm = 0;
    for (let o = 0; o < this.dim; o++) {
      let s = this.bias ? this.bias[o]! : 0;
      const row = o * this.hidden;
      for (let i = 0; i < this.hidden; i++) s += this.weight[row + i]! * pooled[i]!;
      y[o] = s;
      norm += s * s;
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let o = 0; o < this.dim; o++) y[o] = y[o]! * inv;
    return y;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The mean of row r's token vectors where the mask is 1 (sentence-transformers clamps the count to at least 1e-9). */
function meanPool(h: Float32Array, mask: BigInt64Array, r: number, length: number, hidden: number): Float64Array {
  const sum = new Float64Array(hidden);
  let count = 0;
  for (let t = 0; t < length; t++) {
    if (mask[r * length + t] === 0n) continue;
    count++;
    const at = (r * length + t) * hidden;
    for (let i = 0; i < hidden; i++) sum[i]! += h[at + i]!;
  }
  const n = Math.max(count, 1e-9);
  for (let i = 0; i < hidden; i++) sum[i] = sum[i]! / n;
  return sum;
}

/** A 1_Pooling/config.json, when the folder has one, must ask for mean pooling: the only mode Glance computes. */
async function checkPooling(dir: string): Promise<void> {
  const file = path.join(dir, '1_Pooling', 'config.json');
  if (!existsSync(file)) return;
  const c = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const modes = Object.entries(c)
    .filter(([k, v]) => k.startsWith('pooling_mode_') && v === true)
    .map(([k]) => k);
  if (modes.length !== 1 || modes[0] !== 'pooling_mode_mean_tokens') {
    throw new ModelError(
      'model-config-invalid',
      `${file} asks for ${modes.join(', ') || 'no'} pooling: Glance computes mean pooling only`,
    );
  }
}
