// Pre-flight checks of GGUF files before anything native touches them. llama.cpp (through llama.node) does not fail
// gracefully on a bad file: a missing, empty, truncated, foreign or incomplete model file is a segfault of the whole
// process, and a projector that does not fit the model is a bare "Failed to initialize multimodal context" whose
// reason only reaches stderr. These checks read the header only, with a reader bounded by the file's size
// (gguf-reader.ts), know what llama.cpp reads from each projector type (projector-requirements.ts), and turn each
// problem into an error a person can act on.
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatBytes } from '../../common/format.ts';
import {
  GGUF_TYPE,
  type GgufEntry,
  GgufFormatError,
  type GgufHeader,
  ggufTypeName,
  readGgufHeader,
} from './gguf-reader.ts';
import {
  AUDIO_PROJECTOR_TYPES,
  COMMON_BLOCK_TENSORS,
  COMMON_KEYS,
  FIXED_SIZE_PROJECTORS,
  type KeyType,
  KNOWN_PROJECTOR_TYPES,
  PROJECTOR_OUTPUT,
  PROJECTOR_REQUIREMENTS,
} from './projector-requirements.ts';

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
  /** A GGUF version llama.cpp does not read: the one the file has. */
  version?: number;
  /** An incomplete projector or model: the first key or tensor llama.cpp reads that it lacks. */
  missing?: string;
  /** The projector type the file declares. */
  projectorType?: string;
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
  /** clip.projector_type or clip.vision.projector_type ('mlp' is LLaVA-1.5; an mlp with mm.3 reads as 'mlp_norm'). */
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
  /** clip.vision.image_grid_pinpoints (LLaVA-1.6's tile grid): with it an mlp projector reads more than imageSize. */
  gridPinpoints?: number[];
  /** clip.vision.preproc_image_size: the longest edge idefics3 (SmolVLM) scales an image to before tiling it. */
  preprocImageSize?: number;
}

type Role = 'model' | 'projector';

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

// The app's one byte formatter (common/format.ts), re-exported for this module's callers.
export { formatBytes } from '../../common/format.ts';

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

function metaNumber(h: GgufHeader, key: string): number | undefined {
  const v = h.kv.get(key)?.value;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** A per-layer count that may be one number or an array of numbers. */
function metaCounts(h: GgufHeader, key: string): number[] | undefined {
  const v = h.kv.get(key)?.value;
  if (typeof v === 'number' || typeof v === 'bigint') return [Number(v)];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' || typeof x === 'bigint')) {
    return v.map(Number);
  }
  return undefined;
}

function metaString(h: GgufHeader, key: string): string | undefined {
  const v = h.kv.get(key)?.value;
  return typeof v === 'string' ? v : undefined;
}

function metaNumbers(h: GgufHeader, key: string): number[] | undefined {
  const v = h.kv.get(key)?.value;
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
}

interface Header {
  header: GgufHeader;
  fileSize: number;
  tensorBytes: number;
}

/** What a GgufFormatError means for a person, as a GgufCheckError. */
function formatProblem(err: GgufFormatError, file: string, role: Role, fileSize: number): GgufCheckError {
  const base = path.basename(file);
  switch (err.problem) {
    case 'header-truncated':
      return new GgufCheckError(
        'truncated',
        `${base}: ${what(role)} is truncated (it ends inside its header, after ${formatBytes(fileSize)}): ` +
          'delete it and download it again',
        file,
        { foundBytes: fileSize },
        { cause: err },
      );
    case 'version':
      return new GgufCheckError(
        'not-gguf',
        `${base}: ${what(role)} cannot be used: ${err.message}: ` +
          (err.version === 1
            ? 'download a current conversion of the model'
            : 'it is damaged or was written by a newer tool; download it again'),
        file,
        err.version === undefined ? {} : { version: err.version },
        { cause: err },
      );
    default:
      return new GgufCheckError(
        'not-gguf',
        `${base}: ${what(role)} is damaged (${err.message}): delete it and download it again`,
        file,
        {},
        { cause: err },
      );
  }
}

/** Everything common to both roles: exists, is a GGUF llama.cpp can open, header and tensor data complete. */
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

  let header: GgufHeader;
  try {
    header = await readGgufHeader(file);
  } catch (err) {
    if (err instanceof GgufFormatError) throw formatProblem(err, file, role, fileSize);
    throw new GgufCheckError(
      'not-gguf',
      `${base}: ${what(role)} cannot be read (${(err as Error).message})`,
      file,
      {},
      { cause: err },
    );
  }

  if (header.tensors.length === 0) {
    throw new GgufCheckError(
      role === 'model' ? 'not-a-text-model' : 'not-a-projector',
      `${base} holds no weights (a vocabulary-only GGUF?): choose the ${role === 'model' ? 'model' : 'mmproj'} file itself`,
      file,
    );
  }
  if (header.dataEnd > fileSize) {
    throw new GgufCheckError(
      'truncated',
      `${base}: ${what(role)} is truncated (${sizes(header.dataEnd, fileSize)}): delete it and download it again`,
      file,
      { expectedBytes: header.dataEnd, foundBytes: fileSize },
    );
  }
  let total = 0;
  for (const t of header.tensors) total += t.bytes ?? 0;
  return { header, fileSize, tensorBytes: total };
}

function architectureOf(h: GgufHeader): string | undefined {
  return metaString(h, 'general.architecture');
}

/** Reads the model's header and checks that it is a whole GGUF text model llama.cpp can chat with. */
export async function checkChatModel(file: string): Promise<ChatModelFacts> {
  const { header: h, fileSize, tensorBytes: total } = await readHeader(file, 'model');
  const base = path.basename(file);
  const arch = architectureOf(h);
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
    const v = metaNumber(h, `${arch}.${key}`);
    if (v === undefined || !(v > 0)) {
      throw new GgufCheckError(
        'not-a-text-model',
        `${base} lacks ${arch}.${key}, which llama.cpp needs to run it: it is not a complete text model`,
        file,
        { missing: `${arch}.${key}` },
      );
    }
    return v;
  };
  const nEmbd = need('embedding_length');
  const contextLength = need('context_length');
  const nLayers = need('block_count');
  // Every layer is a block of tensors (blk.N.*): a count beyond the tensors the file holds is damage, and sizing the
  // KV cache below would walk each claimed layer (a minute for 2^32 of them).
  if (nLayers > h.tensors.length) {
    throw new GgufCheckError(
      'not-a-text-model',
      `${base} claims ${nLayers.toLocaleString('en-US')} layers (${arch}.block_count) but holds ` +
        `${h.tensors.length.toLocaleString('en-US')} tensors: it is damaged; download it again`,
      file,
    );
  }
  const heads = metaCounts(h, `${arch}.attention.head_count`) ?? [0];
  const nHead = Math.max(...heads);
  const kvHeads = metaCounts(h, `${arch}.attention.head_count_kv`) ?? heads;
  const headDimK = metaNumber(h, `${arch}.attention.key_length`) ?? (nHead > 0 ? nEmbd / nHead : 0);
  const headDimV = metaNumber(h, `${arch}.attention.value_length`) ?? headDimK;
  let kvPerLayerSum = 0;
  for (let l = 0; l < nLayers; l++) {
    const kv = kvHeads.length === 1 ? kvHeads[0]! : (kvHeads[l] ?? 0);
    kvPerLayerSum += kv * (headDimK + headDimV);
  }
  const embd = h.tensors.find((t) => t.name === 'token_embd.weight');
  const vocabFromKey = metaNumber(h, `${arch}.vocab_size`);
  const nVocab = embd?.dims[1] !== undefined ? embd.dims[1] : (vocabFromKey ?? null);
  return {
    architecture: arch,
    nEmbd,
    contextLength,
    chatTemplate: metaString(h, 'tokenizer.chat_template') ?? null,
    name: metaString(h, 'general.name') ?? null,
    fileSize,
    nLayers,
    nHead,
    nHeadKv: Math.max(...kvHeads),
    headDimK,
    headDimV,
    nVocab,
    kvBytesPerToken: 2 * kvPerLayerSum,
    tensorBytes: total,
    fileType: metaNumber(h, 'general.file_type') ?? null,
    splitCount: metaNumber(h, 'split.count') ?? 1,
  };
}

/** Whether a key holds what llama.cpp reads it as (it asserts the type: another type aborts the process). */
function hasType(e: GgufEntry, type: KeyType): boolean {
  if (type === 'u32') return e.type === GGUF_TYPE.u32;
  if (type === 'f32') return e.type === GGUF_TYPE.f32;
  return e.type === GGUF_TYPE.array && e.itemType === GGUF_TYPE.f32 && (e.length ?? 0) >= 3;
}

function typeOf(e: GgufEntry): string {
  if (e.type !== GGUF_TYPE.array) return ggufTypeName(e.type);
  return `array of ${e.length} ${ggufTypeName(e.itemType ?? -1)}`;
}

const KEY_TYPE_NAME: Record<KeyType, string> = { u32: 'u32', f32: 'f32', 'f32-array-3': 'array of 3 f32' };

/** Reads the projector's header and checks that it is a whole vision projector (mmproj) llama.cpp can load. */
export async function checkProjector(file: string): Promise<ProjectorFacts> {
  const { header: h, fileSize, tensorBytes: total } = await readHeader(file, 'projector');
  const base = path.basename(file);
  const arch = architectureOf(h);
  if (arch !== 'clip') {
    const looksLikeModel = arch !== undefined && metaNumber(h, `${arch}.embedding_length`) !== undefined;
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
  const declared = metaString(h, 'clip.projector_type') || metaString(h, 'clip.vision.projector_type');
  const audio = h.kv.get('clip.has_audio_encoder')?.value === true || AUDIO_PROJECTOR_TYPES.has(declared ?? '');
  if (h.kv.get('clip.has_vision_encoder')?.value !== true) {
    throw new GgufCheckError(
      'not-a-projector',
      audio
        ? `${base} is an audio projector, not a vision one: pictures need the vision mmproj file`
        : `${base} has no vision encoder (clip.has_vision_encoder is not true): choose the vision mmproj file`,
      file,
    );
  }
  if (!declared) {
    throw new GgufCheckError(
      'not-a-projector',
      `${base}: the projector does not say what kind it is (no clip.projector_type), so llama.cpp cannot load it: ` +
        'it is incomplete or made by an old converter; download the mmproj file published with the model again',
      file,
      { missing: 'clip.projector_type' },
    );
  }
  if (!KNOWN_PROJECTOR_TYPES.has(declared) || AUDIO_PROJECTOR_TYPES.has(declared)) {
    throw new GgufCheckError(
      'not-a-projector',
      AUDIO_PROJECTOR_TYPES.has(declared)
        ? `${base} is an audio projector (${declared}), not a vision one: pictures need the vision mmproj file`
        : `${base}: projector type "${declared}" is not one this version of llama.cpp supports: ` +
            'choose a model from the catalog, or one whose projector llama.cpp reads (LLaVA-1.5, SmolVLM, Qwen2.5-VL, Gemma 3, ...)',
      file,
      { projectorType: declared },
    );
  }
  const names = new Set(h.tensors.map((t) => t.name));
  // llama.cpp turns an mlp projector with an mm.3 tensor into Yi-VL's mlp_norm
  const projectorType = declared === 'mlp' && names.has('mm.3.weight') ? 'mlp_norm' : declared;
  const req = PROJECTOR_REQUIREMENTS[projectorType];
  const label = req?.label ?? projectorType;
  const lacks = (name: string): GgufCheckError =>
    new GgufCheckError(
      'not-a-projector',
      `${base}: the projector lacks ${name}: it is incomplete or not a ${label} projector; download it again`,
      file,
      { missing: name, projectorType },
    );

  for (const [key, type] of [...COMMON_KEYS, ...(req?.keys ?? [])]) {
    const e = h.kv.get(key);
    if (!e) throw lacks(key);
    if (!hasType(e, type)) {
      throw new GgufCheckError(
        'not-a-projector',
        `${base}: the projector's ${key} is a ${typeOf(e)} where llama.cpp reads a ${KEY_TYPE_NAME[type]}: ` +
          `it is damaged or not a ${label} projector; download it again`,
        file,
        { missing: key, projectorType },
      );
    }
  }
  const num = (key: string) => metaNumber(h, key) ?? 0;
  for (const key of ['clip.vision.embedding_length', 'clip.vision.attention.head_count', 'clip.vision.patch_size']) {
    if (!(num(key) > 0)) {
      throw new GgufCheckError(
        'not-a-projector',
        `${base}: the projector's ${key} is ${num(key)}, which llama.cpp cannot use: it is damaged; download it again`,
        file,
        { projectorType },
      );
    }
  }

  for (const name of req?.tensors ?? []) if (!names.has(name)) throw lacks(name);
  // Gemma 3n's MobileNet has no transformer blocks; every other vision encoder needs these in each block.
  const blockTensors = projectorType === 'gemma3nv' ? [] : [...COMMON_BLOCK_TENSORS, ...(req?.blockTensors ?? [])];
  // (stops at the first block that is missing: bounded by the tensors the file holds, whatever block_count claims)
  const blocks = blockTensors.length > 0 ? num('clip.vision.block_count') : 0;
  for (let b = 0; b < blocks; b++) {
    for (const t of blockTensors) if (!names.has(`v.blk.${b}.${t}`)) throw lacks(`v.blk.${b}.${t}`);
  }

  let outputSize: number | undefined;
  let outputSizeFrom: 'tensor' | 'key' = 'tensor';
  const where = PROJECTOR_OUTPUT[projectorType];
  if (where) {
    const [name, index] = where;
    const d = h.tensors.find((x) => x.name === name)?.dims[index];
    if (d === undefined) throw lacks(name); // clip_n_mmproj_embd() reads it unchecked: a segfault
    outputSize = d;
  } else {
    outputSize = num('clip.vision.projection_dim');
    outputSizeFrom = 'key';
  }
  const imageSize = num('clip.vision.image_size');
  const patchSize = num('clip.vision.patch_size');
  if (!(imageSize > 0)) {
    throw new GgufCheckError(
      'not-a-projector',
      `${base} has clip.vision.image_size ${imageSize}: it is not a complete vision projector`,
      file,
      { projectorType },
    );
  }
  const facts: ProjectorFacts = {
    projectorType,
    outputSize,
    outputSizeFrom,
    imageSize,
    patchSize,
    fileSize,
    name: metaString(h, 'general.name') ?? null,
    imageTokens: FIXED_SIZE_PROJECTORS.has(projectorType) ? (imageSize / patchSize) ** 2 : null,
    tensorBytes: total,
  };
  const mean = metaNumbers(h, 'clip.vision.image_mean');
  const std = metaNumbers(h, 'clip.vision.image_std');
  if (mean) facts.imageMean = mean;
  if (std) facts.imageStd = std;
  const pinpoints = metaNumbers(h, 'clip.vision.image_grid_pinpoints');
  if (pinpoints?.length) facts.gridPinpoints = pinpoints;
  const preproc = h.kv.get('clip.vision.preproc_image_size')?.value;
  if (typeof preproc === 'number' && preproc > 0) facts.preprocImageSize = preproc;
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
