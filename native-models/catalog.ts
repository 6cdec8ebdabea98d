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
}

export interface ChatCatalogEntry {
  id: string;
  kind: 'chat';
  name: string;
  repo: string;
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

export type CatalogEntry = ClipCatalogEntry | ChatCatalogEntry;

export const DEFAULT_CHAT_ID = 'llava-1.5-7b';

export const CHAT_CATALOG: readonly ChatCatalogEntry[] = [
  {
    id: DEFAULT_CHAT_ID,
    kind: 'chat',
    name: 'LLaVA 1.5 7B (Q4_K_M)',
    repo: 'mys/ggml_llava-v1.5-7b',
    licence: 'Llama 2 Community License',
    goodAt: 'describing photos and answering questions about them; reads small text poorly (336 px input)',
    model: { file: 'ggml-model-q4_k.gguf', size: 4081 * MB },
    mmproj: { file: 'mmproj-model-f16.gguf', size: 624 * MB },
    chatTemplate: 'vicuna',
    readsText: false,
  },
  {
    id: 'smolvlm-500m',
    kind: 'chat',
    name: 'SmolVLM 500M Instruct (Q8_0)',
    repo: 'ggml-org/SmolVLM-500M-Instruct-GGUF',
    licence: 'Apache-2.0',
    goodAt: 'fast and light (under 1 GB): quick captions on any machine',
    model: { file: 'SmolVLM-500M-Instruct-Q8_0.gguf', size: 437 * MB },
    mmproj: { file: 'mmproj-SmolVLM-500M-Instruct-Q8_0.gguf', size: 109 * MB },
    readsText: false,
  },
  {
    id: 'qwen2.5-vl-3b',
    kind: 'chat',
    name: 'Qwen2.5-VL 3B Instruct (Q4_K_M)',
    repo: 'ggml-org/Qwen2.5-VL-3B-Instruct-GGUF',
    licence: 'Qwen Research License',
    licenceNote:
      'Research and non-commercial use only: the Qwen Research License does not allow using this model in a product or for work you are paid for.',
    goodAt: 'screenshots and documents: reads small text, charts and UI at high resolution',
    model: { file: 'Qwen2.5-VL-3B-Instruct-Q4_K_M.gguf', size: 1930 * MB },
    mmproj: { file: 'mmproj-Qwen2.5-VL-3B-Instruct-Q8_0.gguf', size: 845 * MB },
    readsText: true,
  },
  {
    id: 'gemma-3-4b',
    kind: 'chat',
    name: 'Gemma 3 4B it (Q4_K_M)',
    repo: 'ggml-org/gemma-3-4b-it-GGUF',
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
    licence: 'MIT',
    licenceNote:
      "OpenAI's model card puts deployed use out of scope: CLIP is meant for research, and OpenAI does not support using it in a product or service.",
    logitScale: 100,
    goodAt: 'fast photo tagging and text search; about 600 MB',
    files: [
      { file: 'config.json', size: 5000 },
      { file: 'preprocessor_config.json', size: 1000 },
      { file: 'tokenizer.json', size: 2_300_000 },
      { file: 'onnx/vision_model.onnx', size: 351 * MB },
      { file: 'onnx/text_model.onnx', size: 254 * MB },
    ],
  },
  {
    id: 'clip-vit-base-patch16',
    kind: 'clip',
    name: 'CLIP ViT-B/16 (OpenAI)',
    repo: 'Xenova/clip-vit-base-patch16',
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

/** The OpenAI CLIP value, used for a folder that is not a catalog model (the user can override it). */
export const DEFAULT_LOGIT_SCALE = 100;

/** The plain-words licence note to show where a person chooses this model (null: none needed). */
export function licenceNote(entry: CatalogEntry): string | null {
  return entry.licenceNote ?? null;
}

/** Every model Glance can download, tagging first. */
export const ALL_MODELS: readonly CatalogEntry[] = [...CLIP_CATALOG, ...CHAT_CATALOG];
