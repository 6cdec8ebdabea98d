// Pre-flight checks of GGUF files before anything native touches them. llama.cpp (through llama.node) does not fail
// gracefully on a bad file: a missing, empty, truncated or foreign model file is a segfault of the whole process,
// and a projector that does not fit the model is a bare "Failed to initialize multimodal context" whose reason only
// reaches stderr. These checks read the header only (node-llama-cpp's GGUF reader, no native code) and turn each
// problem into an error a person can act on.
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { type GgufFileInfo, readGgufFileInfo } from 'node-llama-cpp';

export type GgufCheckCode =
  | 'file-missing'
  | 'not-gguf'
  | 'truncated'
  | 'not-a-text-model'
  | 'not-a-projector'
  | 'projector-mismatch'
  | 'mmproj-missing';

export interface GgufCheckDetails {
  /** Truncated files: the size the header promises, and the size on disk. */
  expectedBytes?: number;
  foundBytes?: number;
  /** Mismatched projector: the model's embedding width, and the projector's output width. */
  expected?: number;
  found?: number;
  /** Wrong kind of file: the general.architecture it has. */
  architecture?: string;
}

export class GgufCheckError extends Error {
  override readonly name = 'GgufCheckError';
  constructor(
    readonly code: GgufCheckCode,
    message: string,
    /** The file the problem is about. */
    readonly file: string,
    readonly details: GgufCheckDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ChatModelFacts {
  /** general.architecture, e.g. 'llama', 'qwen2', 'gemma3'. */
  architecture: string;
  /** Width of the token embeddings: what a projector must output. */
  nEmbd: number;
  /** The context length the model was trained with. */
  contextLength: number;
  /** tokenizer.chat_template (Jinja), or null: LLaVA-1.5 files have none and want the 'vicuna' template by name. */
  chatTemplate: string | null;
  /** general.name */
  name: string | null;
  fileSize: number;
  nLayers: number;
  /** Attention heads (the largest, where the file gives one per layer). */
  nHead: number;
  /** Key-value heads (grouped-query attention); nHead when the file does not say. */
  nHeadKv: number;
  /** Width of one key head and of one value head. */
  headDimK: number;
  headDimV: number;
  /** Rows of the token embedding (vocabulary size), or null if the file has no token_embd tensor. */
  nVocab: number | null;
  /** Bytes of KV cache per context position with an F16 cache: 2 bytes x sum over layers of kv heads x (k + v dims). */
  kvBytesPerToken: number;
  /** Bytes of all tensor data (the weights to load). */
  tensorBytes: number;
  /** general.file_type (llama_ftype: 1 F16, 7 Q8_0, 15 Q4_K_M, ...) or null. */
  fileType: number | null;
  /** split.count for a model split in several files (the others are not checked), else 1. */
  splitCount: number;
}

export interface ProjectorFacts {
  /** clip.vision.projector_type or clip.projector_type; 'mlp' (LLaVA-1.5) when the file does not say. */
  projectorType: string;
  /** Width of the embeddings the projector outputs: must equal the text model's nEmbd. */
  outputSize: number;
  /** Where outputSize comes from: the projector's last tensor (as llama.cpp decides) or clip.vision.projection_dim. */
  outputSizeFrom: 'tensor' | 'key';
  imageSize: number;
  patchSize: number;
  fileSize: number;
  imageMean?: number[];
  imageStd?: number[];
  name: string | null;
  /** Image positions one image takes for the fixed-size projectors (mlp, mlp_norm: (imageSize / patchSize)^2). */
  imageTokens: number | null;
  tensorBytes: number;
}

type Role = 'model' | 'projector';

// ggml types: [elements per block, bytes per block]. Unknown types only bound the data end by their offset.
const GGML_BLOCK: Record<number, readonly [number, number]> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 36], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  16: [256, 66], // IQ2_XXS
  17: [256, 74], // IQ2_XS
  18: [256, 98], // IQ3_XXS
  19: [256, 50], // IQ1_S
  20: [32, 18], // IQ4_NL
  21: [256, 110], // IQ3_S
  22: [256, 82], // IQ2_S
  23: [256, 136], // IQ4_XS
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  29: [256, 56], // IQ1_M
  30: [1, 2], // BF16
  34: [256, 54], // TQ1_0
  35: [256, 66], // TQ2_0
  39: [32, 17], // MXFP4
};

// Where llama.cpp's clip_n_mmproj_embd() reads the output width of each vision projector type: [tensor, ne index].
const PROJECTOR_OUTPUT: Record<string, readonly [string, number]> = {
  mlp: ['mm.2.weight', 1],
  pixtral: ['mm.2.weight', 1],
  lightonocr: ['mm.2.weight', 1],
  lfm2: ['mm.2.weight', 1],
  kimivl: ['mm.2.weight', 1],
  mlp_norm: ['mm.3.bias', 0],
  ldp: ['mm.model.mb_block.1.block.2.1.bias', 0],
  ldpv2: ['mm.model.peg.0.bias', 0],
  resampler: ['resampler.proj.weight', 0],
  qwen2vl_merger: ['mm.1.bias', 0],
  'qwen2.5vl_merger': ['mm.1.bias', 0],
  gemma3: ['mm.input_projection.weight', 0],
  idefics3: ['mm.model.fc.weight', 1],
  llama4: ['mm.model.fc.weight', 1],
  internvl: ['mm.3.weight', 1],
};

const FIXED_SIZE_PROJECTORS = new Set(['mlp', 'mlp_norm']);

// Architectures llama.cpp loads that cannot chat: encoders for embeddings and the like.
const NOT_CHAT_ARCHITECTURES = new Set([
  'bert',
  'nomic-bert',
  'nomic-bert-moe',
  'neo-bert',
  'modern-bert',
  'jina-bert-v2',
  't5encoder',
  'wavtokenizer-dec',
]);

const BIG_ARRAYS = [
  'tokenizer.ggml.tokens',
  'tokenizer.ggml.scores',
  'tokenizer.ggml.token_type',
  'tokenizer.ggml.merges',
];

/** "4.1 GB", "512.0 MB", "60.9 kB", "17 bytes". */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} byte${n === 1 ? '' : 's'}`;
}

function sizes(expected: number, found: number): string {
  let a = formatBytes(expected);
  let b = formatBytes(found);
  if (a === b) {
    a = `${expected.toLocaleString('en-US')} bytes`;
    b = `${found.toLocaleString('en-US')} bytes`;
  }
  return `expected ${a}, found ${b}`;
}

function what(role: Role): string {
  return role === 'model' ? 'the model file' : 'the projector (mmproj) file';
}

/** A metadata value by its flat GGUF key ('clip.vision.image_size'); node-llama-cpp nests keys by their dots. */
function meta(info: GgufFileInfo, key: string): unknown {
  let node: unknown = info.metadata;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function metaNumber(info: GgufFileInfo, key: string): number | undefined {
  const v = meta(info, key);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** A per-layer count that may be one number or an array of numbers. */
function metaCounts(info: GgufFileInfo, key: string): number[] | undefined {
  const v = meta(info, key);
  if (typeof v === 'number' || typeof v === 'bigint') return [Number(v)];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' || typeof x === 'bigint')) {
    return v.map(Number);
  }
  return undefined;
}

function metaString(info: GgufFileInfo, key: string): string | undefined {
  const v = meta(info, key);
  return typeof v === 'string' ? v : undefined;
}

function metaNumbers(info: GgufFileInfo, key: string): number[] | undefined {
  const v = meta(info, key);
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
}

function tensorBytes(dims: readonly (number | bigint)[], ggmlType: number): number | undefined {
  const block = GGML_BLOCK[ggmlType];
  if (!block) return undefined;
  const [perBlock, bytesPerBlock] = block;
  let n = 1;
  for (const d of dims) n *= Number(d);
  return (n / perBlock) * bytesPerBlock;
}

interface Header {
  info: GgufFileInfo;
  fileSize: number;
  tensorBytes: number;
}

/** Everything common to both roles: exists, is a GGUF, header and tensor data complete. */
async function readHeader(file: string, role: Role): Promise<Header> {
  const missing: GgufCheckCode = role === 'model' ? 'file-missing' : 'mmproj-missing';
  let fileSize: number;
  try {
    const st = await stat(file);
    if (st.isDirectory()) {
      throw new GgufCheckError('not-gguf', `${file} is a folder, not ${what(role)}: choose the .gguf file in it`, file);
    }
    fileSize = st.size;
  } catch (err) {
    if (err instanceof GgufCheckError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const hint =
        role === 'model'
          ? 'download the model or choose another file'
          : 'download the projector (the mmproj .gguf published beside the model) or choose another file';
      throw new GgufCheckError(missing, `${what(role)} ${file} does not exist: ${hint}`, file, {}, { cause: err });
    }
    throw new GgufCheckError(
      missing,
      `${what(role)} ${file} cannot be read (${code ?? String(err)})`,
      file,
      {},
      {
        cause: err,
      },
    );
  }
  const base = path.basename(file);
  if (fileSize === 0) {
    throw new GgufCheckError(
      'truncated',
      `${base}: ${what(role)} is empty (0 bytes), probably an interrupted download: delete it and download it again`,
      file,
      { foundBytes: 0 },
    );
  }

  const magic = Buffer.alloc(4);
  const fh = await open(file, 'r');
  let read: number;
  try {
    ({ bytesRead: read } = await fh.read(magic, 0, 4, 0));
  } finally {
    await fh.close();
  }
  const head = magic.subarray(0, read).toString('latin1');
  if (head !== 'GGUF') {
    if (read < 4 && 'GGUF'.startsWith(head)) {
      throw new GgufCheckError(
        'truncated',
        `${base}: ${what(role)} is truncated (${formatBytes(fileSize)}): delete it and download it again`,
        file,
        { foundBytes: fileSize },
      );
    }
    throw new GgufCheckError(
      'not-gguf',
      `${base} is not a GGUF file (llama.cpp models and projectors end in .gguf and start with "GGUF"): choose the .gguf file`,
      file,
    );
  }

  let info: GgufFileInfo;
  try {
    info = await readGgufFileInfo(file, {
      sourceType: 'filesystem',
      readTensorInfo: true,
      spliceSplitFiles: false,
      logWarnings: false,
      ignoreKeys: BIG_ARRAYS,
    });
  } catch (err) {
    throw new GgufCheckError(
      'not-gguf',
      `${base}: ${what(role)} starts like a GGUF file but its header cannot be read (${(err as Error).message}): ` +
        'delete it and download it again',
      file,
      {},
      { cause: err },
    );
  }

  const tensors = info.tensorInfo ?? [];
  if (tensors.length === 0) {
    throw new GgufCheckError(
      role === 'model' ? 'not-a-text-model' : 'not-a-projector',
      `${base} holds no weights (a vocabulary-only GGUF?): choose the ${role === 'model' ? 'model' : 'mmproj'} file itself`,
      file,
    );
  }
  // Reading past the end yields zeros rather than an error, so a header cut short parses; its end gives it away.
  const infoEnd = info.infoEndOffset ?? 0;
  if (infoEnd > fileSize || tensors.some((t) => t.name === '')) {
    throw new GgufCheckError(
      'truncated',
      `${base}: ${what(role)} is truncated (it ends inside its header, after ${formatBytes(fileSize)}): ` +
        'delete it and download it again',
      file,
      { foundBytes: fileSize },
    );
  }
  let expectedEnd = infoEnd;
  let total = 0;
  for (const t of tensors) {
    const bytes = tensorBytes(t.dimensions, t.ggmlType);
    if (bytes !== undefined) total += bytes;
    expectedEnd = Math.max(expectedEnd, Number(t.fileOffset) + (bytes ?? 1));
  }
  if (expectedEnd > fileSize) {
    throw new GgufCheckError(
      'truncated',
      `${base}: ${what(role)} is truncated (${sizes(expectedEnd, fileSize)}): delete it and download it again`,
      file,
      { expectedBytes: expectedEnd, foundBytes: fileSize },
    );
  }
  return { info, fileSize, tensorBytes: total };
}

function architectureOf(info: GgufFileInfo): string | undefined {
  return metaString(info, 'general.architecture');
}

/** Reads the model's header and checks that it is a whole GGUF text model llama.cpp can chat with. */
export async function checkChatModel(file: string): Promise<ChatModelFacts> {
  const { info, fileSize, tensorBytes: total } = await readHeader(file, 'model');
  const base = path.basename(file);
  const arch = architectureOf(info);
  if (!arch) {
    throw new GgufCheckError(
      'not-a-text-model',
      `${base} does not say what model it is (no general.architecture)`,
      file,
    );
  }
  if (arch === 'clip') {
    throw new GgufCheckError(
      'not-a-text-model',
      `${base} is a vision projector (mmproj), not the chat model: the two files may be swapped; ` +
        'the model is the larger .gguf file',
      file,
      { architecture: arch },
    );
  }
  if (NOT_CHAT_ARCHITECTURES.has(arch)) {
    throw new GgufCheckError(
      'not-a-text-model',
      `${base} is a ${arch} encoder (for embeddings), not a chat model: choose a chat model`,
      file,
      { architecture: arch },
    );
  }
  const need = (key: string): number => {
    const v = metaNumber(info, `${arch}.${key}`);
    if (v === undefined || !(v > 0)) {
      throw new GgufCheckError(
        'not-a-text-model',
        `${base} lacks ${arch}.${key}, which llama.cpp needs to run it: it is not a complete text model`,
        file,
      );
    }
    return v;
  };
  const nEmbd = need('embedding_length');
  const contextLength = need('context_length');
  const nLayers = need('block_count');
  const heads = metaCounts(info, `${arch}.attention.head_count`) ?? [0];
  const nHead = Math.max(...heads);
  const kvHeads = metaCounts(info, `${arch}.attention.head_count_kv`) ?? heads;
  const headDimK = metaNumber(info, `${arch}.attention.key_length`) ?? (nHead > 0 ? nEmbd / nHead : 0);
  const headDimV = metaNumber(info, `${arch}.attention.value_length`) ?? headDimK;
  let kvPerLayerSum = 0;
  for (let l = 0; l < nLayers; l++) {
    const kv = kvHeads.length === 1 ? kvHeads[0]! : (kvHeads[l] ?? 0);
    kvPerLayerSum += kv * (headDimK + headDimV);
  }
  const embd = info.tensorInfo?.find((t) => t.name === 'token_embd.weight');
  const vocabFromKey = metaNumber(info, `${arch}.vocab_size`);
  const nVocab = embd?.dimensions[1] !== undefined ? Number(embd.dimensions[1]) : (vocabFromKey ?? null);
  return {
    architecture: arch,
    nEmbd,
    contextLength,
    chatTemplate: metaString(info, 'tokenizer.chat_template') ?? null,
    name: metaString(info, 'general.name') ?? null,
    fileSize,
    nLayers,
    nHead,
    nHeadKv: Math.max(...kvHeads),
    headDimK,
    headDimV,
    nVocab,
    kvBytesPerToken: 2 * kvPerLayerSum,
    tensorBytes: total,
    fileType: metaNumber(info, 'general.file_type') ?? null,
    splitCount: metaNumber(info, 'split.count') ?? 1,
  };
}

/** Reads the projector's header and checks that it is a whole CLIP vision projector (mmproj). */
export async function checkProjector(file: string): Promise<ProjectorFacts> {
  const { info, fileSize, tensorBytes: total } = await readHeader(file, 'projector');
  const base = path.basename(file);
  const arch = architectureOf(info);
  if (arch !== 'clip') {
    const looksLikeModel = arch !== undefined && metaNumber(info, `${arch}.embedding_length`) !== undefined;
    throw new GgufCheckError(
      'not-a-projector',
      looksLikeModel
        ? `${base} is a text model (${arch}), not a vision projector: the two files may be swapped; ` +
            'the projector is the smaller file, usually named mmproj-….gguf'
        : `${base} is not a vision projector (architecture ${arch ?? 'unknown'}, expected clip): choose the mmproj .gguf file`,
      file,
      looksLikeModel ? { architecture: arch } : {},
    );
  }
  if (meta(info, 'clip.has_vision_encoder') !== true) {
    const audio = meta(info, 'clip.has_audio_encoder') === true;
    throw new GgufCheckError(
      'not-a-projector',
      audio
        ? `${base} is an audio projector, not a vision one: pictures need the vision mmproj file`
        : `${base} has no vision encoder (clip.has_vision_encoder is not true): choose the vision mmproj file`,
      file,
    );
  }
  const projectorType =
    metaString(info, 'clip.vision.projector_type') ?? metaString(info, 'clip.projector_type') ?? 'mlp';
  const tensors = info.tensorInfo ?? [];
  let outputSize: number | undefined;
  let outputSizeFrom: 'tensor' | 'key' = 'tensor';
  const where = PROJECTOR_OUTPUT[projectorType];
  if (where) {
    const [name, index] = where;
    const t = tensors.find((x) => x.name === name);
    const d = t?.dimensions[index];
    if (d !== undefined) outputSize = Number(d);
    else if (projectorType === 'mlp' || projectorType === 'mlp_norm') {
      throw new GgufCheckError(
        'not-a-projector',
        `${base} is an incomplete ${projectorType} projector (no ${name} tensor): llama.cpp would crash on it; ` +
          'download the mmproj file again',
        file,
      );
    }
  }
  if (outputSize === undefined) {
    outputSize = metaNumber(info, 'clip.vision.projection_dim');
    outputSizeFrom = 'key';
  }
  if (outputSize === undefined) {
    throw new GgufCheckError(
      'not-a-projector',
      `${base}: cannot tell what the ${projectorType} projector outputs (no known output tensor, no clip.vision.projection_dim)`,
      file,
    );
  }
  const imageSize = metaNumber(info, 'clip.vision.image_size') ?? 0;
  const patchSize = metaNumber(info, 'clip.vision.patch_size') ?? 0;
  if (!(imageSize > 0) || !(patchSize > 0)) {
    throw new GgufCheckError(
      'not-a-projector',
      `${base} lacks clip.vision.image_size or clip.vision.patch_size: it is not a complete vision projector`,
      file,
    );
  }
  const facts: ProjectorFacts = {
    projectorType,
    outputSize,
    outputSizeFrom,
    imageSize,
    patchSize,
    fileSize,
    name: metaString(info, 'general.name') ?? null,
    imageTokens: FIXED_SIZE_PROJECTORS.has(projectorType) ? (imageSize / patchSize) ** 2 : null,
    tensorBytes: total,
  };
  const mean = metaNumbers(info, 'clip.vision.image_mean');
  const std = metaNumbers(info, 'clip.vision.image_std');
  if (mean) facts.imageMean = mean;
  if (std) facts.imageStd = std;
  return facts;
}

/** Both files, then whether they belong together: swapped files and a projector of another model are caught here. */
export async function checkPair(
  model: string,
  mmproj: string,
): Promise<{ model: ChatModelFacts; projector: ProjectorFacts }> {
  const [m, p] = await Promise.allSettled([checkChatModel(model), checkProjector(mmproj)]);
  if (m.status === 'rejected' && p.status === 'rejected') {
    const me = m.reason;
    const pe = p.reason;
    if (
      me instanceof GgufCheckError &&
      pe instanceof GgufCheckError &&
      me.details.architecture === 'clip' &&
      pe.code === 'not-a-projector' &&
      pe.details.architecture !== undefined
    ) {
      throw new GgufCheckError(
        'not-a-text-model',
        `the model and projector files are swapped: ${path.basename(model)} is the projector (mmproj) and ` +
          `${path.basename(mmproj)} is the model`,
        model,
        { architecture: 'clip' },
      );
    }
  }
  if (m.status === 'rejected') throw m.reason;
  if (p.status === 'rejected') throw p.reason;
  const facts = { model: m.value, projector: p.value };
  if (facts.projector.outputSizeFrom === 'tensor' && facts.projector.outputSize !== facts.model.nEmbd) {
    throw new GgufCheckError(
      'projector-mismatch',
      `${path.basename(mmproj)} belongs to another model: it outputs ${facts.projector.outputSize}-wide embeddings, ` +
        `${path.basename(model)} expects ${facts.model.nEmbd}: download the mmproj file published with this model`,
      mmproj,
      { expected: facts.model.nEmbd, found: facts.projector.outputSize },
    );
  }
  return facts;
}
