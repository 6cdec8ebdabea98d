// The models Glance knows by name. An entry says where a model comes from and what Glance needs to know about it
// that its files do not say. For CLIP that is the trained logit scale: config.json's `logit_scale_init_value`
// (2.6592, i.e. e^2.6592 = 14.3) is the value before training; OpenAI's models end training at the clamp, 100.

/** Decimal, as the hub counts ("4.08 GB"): sizes here are the hub's figures in MB. */
const MB = 1_000_000;

export interface ClipCatalogEntry {
  id: string;
  kind: 'clip';
  name: string;
  /** Hugging Face repository of the ONNX export. */
  repo: string;
  /** The commit of `repo` that was reviewed: downloads resolve files at it, never at a moving branch. */
  revision: string;
  licence: string;
  /** What the licence means for a person choosing the model, in plain words; absent when it needs no note. */
  licenceNote?: string;
  /** exp(logit_scale) of the trained model: the temperature of zero-shot softmax. */
  logitScale: number;
  goodAt: string;
  files: CatalogFile[];
}

export interface CatalogFile {
  /** Path in the hub repository. */
  file: string;
  /** Approximate size in bytes, for display and the free-space check (the hub's own figure is used to verify). */
  size: number;
  /**
   * SHA-256 of the reviewed build of the file, from a published source (noted beside it). Download and verify refuse
   * any other bytes, whatever the hub reports. Absent: the first verified download's hash is recorded in the model's
   * manifest and required afterwards (trust on first use).
   */
  sha256?: string;
}

export interface ChatCatalogEntry {
  id: string;
  kind: 'chat';
  name: string;
  repo: string;
  /** The commit of `repo` that was reviewed: downloads resolve files at it, never at a moving branch. */
  revision: string;
  licence: string;
  /** What the licence means for a person choosing the model, in plain words; absent when it needs no note. */
  licenceNote?: string;
  goodAt: string;
  model: CatalogFile;
  /** The vision projector: without it a vision model would silently run text-only. */
  mmproj: CatalogFile;
  /** A llama.cpp template name for models whose GGUF carries none (LLaVA-1.5). */
  chatTemplate?: string;
  /** Reads small text (screenshots, documents) well. */
  readsText: boolean;
}

/**
 * A text encoder trained into a CLIP model's image space: queries in its languages search photos already indexed with
 * that CLIP model, with no re-index. Its pipeline after the transformer (pooling, projection) is the
 * sentence-transformers one the repository's modules describe; those facts are here, the weights are read from the
 * repository's own files.
 */
export interface TextCatalogEntry {
  id: string;
  kind: 'text';
  name: string;
  repo: string;
  /** The commit of `repo` that was reviewed: downloads resolve files at it, never at a moving branch. */
  revision: string;
  licence: string;
  licenceNote?: string;
  goodAt: string;
  /** The CLIP catalog model whose image embeddings this encoder's output matches. */
  pairsWith: string;
  /** ISO 639-1 codes of the languages it was trained on (its model card). */
  languages: readonly string[];
  /** sentence-transformers' max_seq_length: longer queries are cut to this many tokens. */
  maxTokens: number;
  /** 1_Pooling: mean of the token embeddings under the attention mask. */
  pooling: 'mean';
  /** 2_Dense: a linear layer (weights in `denseFile`, tensor `linear.weight` [out, in]), identity activation. */
  dense: { in: number; out: number; bias: boolean };
  /** The transformer's ONNX export (input_ids, attention_mask -> last_hidden_state). */
  onnxFile: string;
  denseFile: string;
  files: CatalogFile[];
}

export type CatalogEntry = ClipCatalogEntry | ChatCatalogEntry | TextCatalogEntry;

// Pins. A revision is a 40-hex commit of the repo; the SHA-256 of an LFS file is its LFS object id, the same value the
// hub publishes as X-Linked-Etag. Each value below was read from a public source, named beside it: repositories that
// download these exact files pinned to a commit and check them (found by code search, cited by the search index's
// file id). `main` is left only where no commit could be found; those entries, and files without a sha256, are
// trusted on first use: the first verified download's hashes go into the model's manifest and are required afterwards.

export const DEFAULT_CHAT_ID = 'llava-1.5-7b';

export const CHAT_CATALOG: readonly ChatCatalogEntry[] = [
  {
    id: DEFAULT_CHAT_ID,
    kind: 'chat',
    name: 'LLaVA 1.5 7B (Q4_K_M)',
    repo: 'mys/ggml_llava-v1.5-7b',
    // Commit: download scripts pinning this repo (index files 69134613423, 68908554781, 69249304936). Hashes: the
    // model's from 69249304936 (at this commit), the projector's from 68833789429 (at this commit); both also listed
    // by a mirror of this repo's files (22425836585).
    revision: '9b713a64048c7f982ec3969e60e9f61f7a2730c2',
    licence: 'Llama 2 Community License',
    goodAt: 'describing photos and answering questions about them; reads small text poorly (336 px input)',
    model: {
      file: 'ggml-model-q4_k.gguf',
      size: 4081 * MB,
      sha256: '7ac9c2f7b8d76cc7f3118cdf0953ebab7a7a9b12bad5dbe237219d2ab61765ea',
    },
    mmproj: {
      file: 'mmproj-model-f16.gguf',
      size: 624 * MB,
      sha256: 'b7c8ff0f58fca47d28ba92c4443adf8653f3349282cb8d9e6911f22d9b3814fe',
    },
    chatTemplate: 'vicuna',
    readsText: false,
  },
  {
    id: 'smolvlm-500m',
    kind: 'chat',
    name: 'SmolVLM 500M Instruct (Q8_0)',
    repo: 'ggml-org/SmolVLM-500M-Instruct-GGUF',
    // Commit and hashes (436,806,912 and 108,783,360 bytes): several independent pinned lists agree (index files
    // 67530320264, 65775294710, 60833780222, 71541690244, the last quoting the repo's own listing at this commit).
    revision: '72e986006ef53e37cdd3f6d4241c90b0f01df376',
    licence: 'Apache-2.0',
    goodAt: 'fast and light (under 1 GB): quick captions on any machine',
    model: {
      file: 'SmolVLM-500M-Instruct-Q8_0.gguf',
      size: 437 * MB,
      sha256: '9d4612de6a42214499e301494a3ecc2be0abdd9de44e663bda63f1152fad1bf4',
    },
    mmproj: {
      file: 'mmproj-SmolVLM-500M-Instruct-Q8_0.gguf',
      size: 109 * MB,
      sha256: 'd1eb8b6b23979205fdf63703ed10f788131a3f812c7b1f72e0119d5d81295150',
    },
    readsText: false,
  },
  {
    id: 'qwen2.5-vl-3b',
    kind: 'chat',
    name: 'Qwen2.5-VL 3B Instruct (Q4_K_M)',
    repo: 'ggml-org/Qwen2.5-VL-3B-Instruct-GGUF',
    // Commit: a pinned Go catalog (index file 70975106863: revision, bytes and SHA-256 of both files). Hashes
    // (1,929,901,056 and 844,757,728 bytes) confirmed by other lists (59298966358, 69074198278; the model's also by
    // 56109301394, checked there against the hub's X-Linked-Etag).
    revision: '5037fcf163dd95d1e41d1974465f0898ed108ca2',
    licence: 'Qwen Research License',
    licenceNote:
      'Research and non-commercial use only: the Qwen Research License does not allow using this model in a product or for work you are paid for.',
    goodAt: 'screenshots and documents: reads small text, charts and UI at high resolution',
    model: {
      file: 'Qwen2.5-VL-3B-Instruct-Q4_K_M.gguf',
      size: 1930 * MB,
      sha256: 'd02fe9b69ad8cadbbd228e387667af66612c44bed29ffc8eb1e7caf9ac486c12',
    },
    mmproj: {
      file: 'mmproj-Qwen2.5-VL-3B-Instruct-Q8_0.gguf',
      size: 845 * MB,
      sha256: '980c9b2f78c04e6cff93d277ada09e768394f112d75db3b4e9dea8a69f9fb904',
    },
    readsText: true,
  },
  {
    id: 'gemma-3-4b',
    kind: 'chat',
    name: 'Gemma 3 4B it (Q4_K_M)',
    repo: 'ggml-org/gemma-3-4b-it-GGUF',
    // UNPINNED: no commit or SHA-256 of these files found in a public source. Resolves `main`; trusted on first use.
    revision: 'main',
    licence: 'Gemma Terms of Use',
    goodAt: 'stronger answers and multilingual; reads text well',
    model: { file: 'gemma-3-4b-it-Q4_K_M.gguf', size: 2490 * MB },
    mmproj: { file: 'mmproj-model-f16.gguf', size: 851 * MB },
    readsText: true,
  },
];

export const DEFAULT_CLIP_ID = 'clip-vit-base-patch32';

export const CLIP_CATALOG: readonly ClipCatalogEntry[] = [
  {
    id: DEFAULT_CLIP_ID,
    kind: 'clip',
    name: 'CLIP ViT-B/32 (OpenAI)',
    repo: 'Xenova/clip-vit-base-patch32',
    // Commit: pinned by many projects (index files 71548223712, 70300709682, 57350957928, 59789298818). Hashes: both
    // ONNX files from 71548223712 and 70300709682 (which agree); tokenizer.json from 70300709682; config.json (4,524
    // bytes) and preprocessor_config.json (520 bytes) from 57350957928.
    revision: 'd15189d7028b43f1d3e65039190477f6af591c2a',
    licence: 'MIT',
    licenceNote:
      "OpenAI's model card puts deployed use out of scope: CLIP is meant for research, and OpenAI does not support using it in a product or service.",
    logitScale: 100,
    goodAt: 'fast photo tagging and text search; about 600 MB',
    files: [
      { file: 'config.json', size: 5000, sha256: '493ef57ff783e42d1530c91b53469b7fdf8db8a9c1408e86998fcb7899a4f495' },
      {
        file: 'preprocessor_config.json',
        size: 1000,
        sha256: '6f638fb9401a6d6296feff533ee7efe657b787c49f954f82f5906b36ef2a1b1f',
      },
      {
        file: 'tokenizer.json',
        size: 2_300_000,
        sha256: 'f7f3b7af117d467b58374797691a6438d3e6b9e9cef800dfd5dced7f697a90cd',
      },
      {
        file: 'onnx/vision_model.onnx',
        size: 351 * MB,
        sha256: 'fd6e1402a588279d1723c7534d4bcba5bc0b14b47dfab0e46f8c47b8270d7d40',
      },
      {
        file: 'onnx/text_model.onnx',
        size: 254 * MB,
        sha256: '3f6571f5bad13a97c469c1622e1cfc4d9aef78b79fdbfcff804ca357bfada8cc',
      },
    ],
  },
  {
    id: 'clip-vit-base-patch16',
    kind: 'clip',
    name: 'CLIP ViT-B/16 (OpenAI)',
    repo: 'Xenova/clip-vit-base-patch16',
    // UNPINNED: no commit or SHA-256 of these files found in a public source. Resolves `main`; trusted on first use.
    revision: 'main',
    licence: 'MIT',
    licenceNote:
      "OpenAI's model card puts deployed use out of scope: CLIP is meant for research, and OpenAI does not support using it in a product or service.",
    logitScale: 100,
    goodAt: 'finer detail than B/32 at about 4x the image cost',
    files: [
      { file: 'config.json', size: 5000 },
      { file: 'preprocessor_config.json', size: 1000 },
      { file: 'tokenizer.json', size: 2_300_000 },
      { file: 'onnx/vision_model.onnx', size: 345 * MB },
      { file: 'onnx/text_model.onnx', size: 254 * MB },
    ],
  },
];

export const MULTILINGUAL_TEXT_ID = 'clip-vit-b-32-multilingual';

export const TEXT_CATALOG: readonly TextCatalogEntry[] = [
  {
    id: MULTILINGUAL_TEXT_ID,
    kind: 'text',
    name: 'Multilingual text for CLIP ViT-B/32 (sentence-transformers)',
    repo: 'sentence-transformers/clip-ViT-B-32-multilingual-v1',
    // Commit and all three hashes: a pinned manifest of these exact files (index file 70810113650; the same commit
    // and the ONNX file's hash again in 70266920551). The int8 ONNX export (quint8, AVX2-tuned; ONNX Runtime runs the
    // same operators on any CPU) is 135 MB against 541 MB for float32, whose hash no public source lists.
    revision: '58edf8cada9e398793dca955574a48cbb7f18be2',
    licence: 'Apache-2.0',
    goodAt: 'searching with words in 50+ languages ("Hund am Strand", "perro en la playa") without re-indexing',
    pairsWith: DEFAULT_CLIP_ID,
    // the model card's training languages
    languages: [
      'ar',
      'bg',
      'ca',
      'cs',
      'da',
      'de',
      'el',
      'en',
      'es',
      'et',
      'fa',
      'fi',
      'fr',
      'fr-ca',
      'gl',
      'gu',
      'he',
      'hi',
      'hr',
      'hu',
      'hy',
      'id',
      'it',
      'ja',
      'ka',
      'ko',
      'ku',
      'lt',
      'lv',
      'mk',
      'mn',
      'mr',
      'ms',
      'my',
      'nb',
      'nl',
      'pl',
      'pt',
      'pt-br',
      'ro',
      'ru',
      'sk',
      'sl',
      'sq',
      'sr',
      'sv',
      'th',
      'tr',
      'uk',
      'ur',
      'vi',
      'zh-cn',
      'zh-tw',
    ],
    maxTokens: 128,
    // the modules the model card prints: Pooling (mean tokens), Dense (768 -> 512, bias False, Identity); the
    // safetensors file's size (1,572,984 bytes: one 512 x 768 float32 tensor and its header) agrees: no bias
    pooling: 'mean',
    dense: { in: 768, out: 512, bias: false },
    onnxFile: 'onnx/model_quint8_avx2.onnx',
    denseFile: '2_Dense/model.safetensors',
    files: [
      {
        file: 'tokenizer.json',
        size: 1_961_847,
        sha256: '5b4e1a8171c81dfd666ae40265b9530c6e0b3d53923fe8ac493dcc84229adf81',
      },
      {
        file: '2_Dense/model.safetensors',
        size: 1_572_984,
        sha256: 'd12568dc7300970a4d3dbb49068ad16cd89b99840b74b026f8e48071e9414f74',
      },
      {
        file: 'onnx/model_quint8_avx2.onnx',
        size: 135_377_779,
        sha256: 'fbc8fbeaa5237d96bd1bf430057c70d34de8334a463e933a5faa305f6caeed9c',
      },
    ],
  },
];

/** The OpenAI CLIP value, used for a folder that is not a catalog model (the user can override it). */
export const DEFAULT_LOGIT_SCALE = 100;

/** The plain-words licence note to show where a person chooses this model (null: none needed). */
export function licenceNote(entry: CatalogEntry): string | null {
  return entry.licenceNote ?? null;
}

/** A revision that names one commit, not a branch or tag that can move. */
export const isCommit = (revision: string): boolean => /^[0-9a-f]{40}$/.test(revision);

/** Every model Glance can download, tagging first. */
export const ALL_MODELS: readonly CatalogEntry[] = [...CLIP_CATALOG, ...TEXT_CATALOG, ...CHAT_CATALOG];
