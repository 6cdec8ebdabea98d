// A CLIP model folder in the layout of the common ONNX exports, run with onnxruntime-node:
//   onnx/vision_model{,_fp16,_quantized}.onnx   pixel_values → image_embeds
//   onnx/text_model{,_fp16,_quantized}.onnx     input_ids (+ attention_mask) → text_embeds
//   tokenizer.json, preprocessor_config.json, config.json
// Input and output names, element types and fixed sizes are read from each session's metadata and checked against
// the folder's configs, so an export that does not fit fails on load with a sentence that names the mismatch.
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../errors.ts';
import { fromF16Array, toF16Array } from './float16.ts';
import { type ImageInput, type PreprocessOptions, preprocessImage } from './preprocess.ts';
import { type PreprocessConfig, parsePreprocessConfig } from './preprocess-config.ts';
import { type Provider, startSession } from './providers.ts';
import { CLIP_CONTEXT_LENGTH, ClipTokenizer } from './tokenizer.ts';
import { l2normalize } from './vector.ts';

export const VARIANTS = ['fp32', 'fp16', 'quantized'] as const;
export type Variant = (typeof VARIANTS)[number];
const SUFFIX: Record<Variant, string> = { fp32: '', fp16: '_fp16', quantized: '_quantized' };

export type Tower = 'vision' | 'text';

export interface ClipLoadOptions {
  variant?: Variant;
  provider?: Provider;
  /**
   * ONNX Runtime intra-op threads; default: every core (availableParallelism). ONNX Runtime's own default ran one
   * thread on the 2-core test machine: indexing 12.4 photos/s there against 15.5 with two.
   */
  threads?: number;
  /** Which towers to start now; the other starts on first use. Default: both. */
  towers?: Tower[];
}

export interface ClipModelInfo {
  dir: string;
  variant: Variant;
  /** Input size of the vision tower (3 x height x width). */
  imageSize: { height: number; width: number };
  contextLength: number;
  /** Sentences for the user: provider fallbacks and the like. */
  notes: string[];
}

export const REQUIRED_FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json'] as const;

export function towerFile(tower: Tower, variant: Variant): string {
  return path.join('onnx', `${tower}_model${SUFFIX[variant]}.onnx`);
}

const exists = (p: string) =>
  stat(p).then(
    (s) => s.isFile() && s.size > 0,
    () => false,
  );

async function readJson(dir: string, name: string): Promise<unknown> {
  const file = path.join(dir, name);
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ModelError('model-config-invalid', `${name} in ${dir} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

interface TowerIo {
  session: ort.InferenceSession;
  provider: Provider;
  input: string;
  inputType: 'float32' | 'float16' | 'int64' | 'int32';
  mask?: string;
  output: string;
  /** Largest batch the export accepts (1 when its batch axis is fixed). */
  maxBatch: number;
}

function tensorMeta(list: readonly ort.InferenceSession.ValueMetadata[], name: string) {
  const m = list.find((x) => x.name === name);
  return m?.isTensor ? m : undefined;
}

function pickOutput(session: ort.InferenceSession, preferred: string, file: string): string {
  if (session.outputNames.includes(preferred)) return preferred;
  const rank2 = session.outputMetadata.filter((m) => m.isTensor && m.shape.length === 2);
  if (session.outputNames.length === 1 && rank2.length === 1) return rank2[0]!.name;
  throw new ModelError(
    'model-io-mismatch',
    `${file} has no "${preferred}" output (it has ${session.outputNames.join(', ')}): ` +
      'use an ONNX export with projected embeddings, like the Hugging Face CLIP exports',
  );
}

/** The intra-op threads of a session when none are asked for: every core. */
export const defaultThreads = () => availableParallelism();

export class ClipModel {
  private towers = new Map<Tower, Promise<TowerIo>>();
  private constructor(
    readonly info: ClipModelInfo,
    readonly preprocessConfig: PreprocessConfig,
    readonly tokenizer: ClipTokenizer,
    private readonly options: ClipLoadOptions,
  ) {}

  /** Checks the folder and starts the requested towers. Every problem is a ModelError that names it. */
  static async load(dir: string, options: ClipLoadOptions = {}): Promise<ClipModel> {
    const variant = options.variant ?? 'fp32';
    const folder = path.resolve(dir);
    const st = await stat(folder).catch(() => null);
    if (!st?.isDirectory()) {
      throw new ModelError('model-folder-missing', `no CLIP model folder at ${folder}`);
    }
    const needed = [...REQUIRED_FILES, towerFile('vision', variant), towerFile('text', variant)];
    const present = await Promise.all(needed.map((f) => exists(path.join(folder, f))));
    const missing = needed.filter((_, i) => !present[i]);
    if (missing.length > 0) {
      const others = (
        await Promise.all(
          VARIANTS.filter((v) => v !== variant).map(async (v) =>
            (await exists(path.join(folder, towerFile('vision', v)))) ? v : null,
          ),
        )
      ).filter((v): v is Variant => v !== null);
      const hint = others.length
        ? ` (this folder has the ${others.join(' and ')} variant: pass --variant ${others[0]})`
        : '';
      throw new ModelError(
        'model-file-missing',
        `${folder} is not a complete CLIP model folder: missing or empty ${missing.join(', ')}${hint}`,
      );
    }

    const preprocessConfig = parsePreprocessConfig(
      await readJson(folder, 'preprocessor_config.json'),
      path.join(folder, 'preprocessor_config.json'),
    );
    const config = (await readJson(folder, 'config.json')) as { text_config?: { max_position_embeddings?: unknown } };
    const ctx = config?.text_config?.max_position_embeddings;
    const contextLength = typeof ctx === 'number' && ctx > 1 ? ctx : CLIP_CONTEXT_LENGTH;
    const tokenizer = await ClipTokenizer.load(path.join(folder, 'tokenizer.json'), contextLength);

    const info: ClipModelInfo = {
      dir: folder,
      variant,
      imageSize: preprocessConfig.output,
      contextLength,
      notes: [],
    };
    const model = new ClipModel(info, preprocessConfig, tokenizer, options);
    await Promise.all((options.towers ?? ['vision', 'text']).map((t) => model.tower(t)));
    return model;
  }

  /** Starts a tower now (sessions take a second or two to create) rather than on first use. */
  async warm(t: Tower): Promise<void> {
    await this.tower(t);
  }

  /** The provider each started tower runs on. */
  async providers(): Promise<Partial<Record<Tower, Provider>>> {
    const out: Partial<Record<Tower, Provider>> = {};
    for (const [t, io] of this.towers) out[t] = (await io).provider;
    return out;
  }

  private tower(t: Tower): Promise<TowerIo> {
    let io = this.towers.get(t);
    if (!io) {
      io = this.startTower(t);
      this.towers.set(t, io);
      // A failed start is not cached: the next call tries again (the user may have fixed the file).
      io.catch(() => this.towers.delete(t));
    }
    return io;
  }

  private async startTower(t: Tower): Promise<TowerIo> {
    const rel = towerFile(t, this.info.variant);
    const file = path.join(this.info.dir, rel);
    const sessionOptions: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
    sessionOptions.intraOpNumThreads = this.options.threads ?? defaultThreads();
    let started: Awaited<ReturnType<typeof startSession>>;
    try {
      started = await startSession(file, this.options.provider ?? 'cpu', sessionOptions);
    } catch (err) {
      const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      throw new ModelError(
        'model-file-corrupt',
        `${rel} in ${this.info.dir} is damaged or not an ONNX model (${why}): delete it and download the model again`,
        { cause: err },
      );
    }
    if (started.fallback) this.info.notes.push(`${t} model: ${started.fallback}`);
    const io = t === 'vision' ? this.visionIo(started.session, rel) : this.textIo(started.session, rel);
    return { ...io, session: started.session, provider: started.provider };
  }

  private visionIo(session: ort.InferenceSession, file: string): Omit<TowerIo, 'session' | 'provider'> {
    const name = session.inputNames.includes('pixel_values') ? 'pixel_values' : session.inputNames[0];
    const meta = name ? tensorMeta(session.inputMetadata, name) : undefined;
    if (!name || !meta || session.inputNames.length !== 1) {
      throw new ModelError(
        'model-io-mismatch',
        `${file} should take one image input "pixel_values"; it takes ${session.inputNames.join(', ') || 'nothing'}`,
      );
    }
    if (meta.type !== 'float32' && meta.type !== 'float16') {
      throw new ModelError(
        'model-io-mismatch',
        `${file}: input "${name}" is ${meta.type}, expected float32 or float16`,
      );
    }
    const [batch, channels, h, w] = meta.shape;
    const { height, width } = this.info.imageSize;
    const fits = (d: unknown, n: number) => typeof d !== 'number' || d === n;
    if (meta.shape.length !== 4 || !fits(channels, 3) || !fits(h, height) || !fits(w, width)) {
      throw new ModelError(
        'model-io-mismatch',
        `${file} takes "${name}" of shape [${meta.shape.join(', ')}], but preprocessor_config.json makes ` +
          `[batch, 3, ${height}, ${width}]: the model and its preprocessor_config.json do not belong together`,
      );
    }
    return {
      input: name,
      inputType: meta.type,
      output: pickOutput(session, 'image_embeds', file),
      maxBatch: typeof batch === 'number' ? batch : Number.POSITIVE_INFINITY,
    };
  }

  private textIo(session: ort.InferenceSession, file: string): Omit<TowerIo, 'session' | 'provider'> {
    const meta = tensorMeta(session.inputMetadata, 'input_ids');
    if (!meta) {
      throw new ModelError(
        'model-io-mismatch',
        `${file} has no "input_ids" input (it takes ${session.inputNames.join(', ')})`,
      );
    }
    if (meta.type !== 'int64' && meta.type !== 'int32') {
      throw new ModelError('model-io-mismatch', `${file}: "input_ids" is ${meta.type}, expected int64 or int32`);
    }
    const others = session.inputNames.filter((n) => n !== 'input_ids' && n !== 'attention_mask');
    if (others.length > 0) {
      throw new ModelError('model-io-mismatch', `${file} needs inputs Glance does not provide: ${others.join(', ')}`);
    }
    const batch = meta.shape[0];
    return {
      input: 'input_ids',
      inputType: meta.type,
      ...(session.inputNames.includes('attention_mask') ? { mask: 'attention_mask' } : {}),
      output: pickOutput(session, 'text_embeds', file),
      maxBatch: typeof batch === 'number' ? batch : Number.POSITIVE_INFINITY,
    };
  }

  /** Preprocesses one image with this model's preprocessor_config.json. */
  preprocess(input: ImageInput, options?: PreprocessOptions): Promise<Float32Array> {
    return preprocessImage(input, this.preprocessConfig, options);
  }

  /** L2-normalized image embeddings for ready tensors (3 x H x W each), run as one batch where the export allows. */
  async encodeImageTensors(tensors: Float32Array[]): Promise<Float32Array[]> {
    const io = await this.tower('vision');
    const { height, width } = this.info.imageSize;
    const size = 3 * height * width;
    const out: Float32Array[] = [];
    for (let start = 0; start < tensors.length; start += Math.min(io.maxBatch, tensors.length)) {
      const chunk = tensors.slice(start, start + Math.min(io.maxBatch, tensors.length));
      const data = new Float32Array(chunk.length * size);
      chunk.forEach((t, i) => {
        if (t.length !== size) throw new Error(`image tensor ${start + i} has ${t.length} values, expected ${size}`);
        data.set(t, i * size);
      });
      const feed =
        io.inputType === 'float16'
          ? new ort.Tensor('float16', toF16Array(data), [chunk.length, 3, height, width])
          : new ort.Tensor('float32', data, [chunk.length, 3, height, width]);
      out.push(...(await this.run(io, { [io.input]: feed }, chunk.length)));
    }
    return out;
  }

  /** L2-normalized text embeddings, batched and padded to the longest prompt of each batch. */
  async encodeTexts(texts: string[], batchSize = 64): Promise<Float32Array[]> {
    const io = await this.tower('text');
    const step = Math.min(io.maxBatch, batchSize);
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += step) {
      const b = this.tokenizer.encodeBatch(texts.slice(start, start + step));
      const dims = [b.rows, b.length];
      const ids =
        io.inputType === 'int32'
          ? new ort.Tensor('int32', Int32Array.from(b.ids, Number), dims)
          : new ort.Tensor('int64', b.ids, dims);
      const feeds: Record<string, ort.Tensor> = { [io.input]: ids };
      if (io.mask)
        feeds[io.mask] =
          io.inputType === 'int32'
            ? new ort.Tensor('int32', Int32Array.from(b.mask, Number), dims)
            : new ort.Tensor('int64', b.mask, dims);
      out.push(...(await this.run(io, feeds, b.rows)));
    }
    return out;
  }

  private async run(io: TowerIo, feeds: Record<string, ort.Tensor>, rows: number): Promise<Float32Array[]> {
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await io.session.run(feeds);
    } catch (err) {
      throw new ModelError('model-run-failed', `the model failed to run: ${(err as Error).message.split('\n')[0]}`, {
        cause: err,
      });
    }
    const t = result[io.output]!;
    const values = t.type === 'float16' ? fromF16Array(t.data as Uint16Array) : (t.data as Float32Array);
    const dim = values.length / rows;
    const out: Float32Array[] = [];
    for (let r = 0; r < rows; r++) out.push(l2normalize(values.subarray(r * dim, (r + 1) * dim)));
    for (const v of Object.values(result)) v.dispose();
    return out;
  }

  async release(): Promise<void> {
    const towers = [...this.towers.values()];
    this.towers.clear();
    await Promise.all(towers.map(async (p) => (await p.catch(() => null))?.session.release()));
  }
}
