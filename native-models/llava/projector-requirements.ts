// What llama.cpp's multimodal library (tools/mtmd/clip.cpp) reads from a vision projector, per projector type.
// A key it reads with get_u32/get_f32 is an exception when absent ("Failed to initialize multimodal context") and
// an abort when of another type; image mean/std are asserted; a tensor it needs but loads as optional is a null
// pointer that segfaults the engine when the first graph is built. Read from llama.cpp's clip.cpp, clip-impl.h and
// models/{llava,siglip,qwen2vl}.cpp (the version @fugood/llama.node 1.7.15 bundles).

/** Audio projector types: llama.cpp loads them, but they hear rather than see. */
export const AUDIO_PROJECTOR_TYPES: ReadonlySet<string> = new Set([
  'ultravox',
  'qwen2a',
  'qwen3a',
  'glma',
  'voxtral',
  'meralion',
  'musicflamingo',
  'lfm2a',
  'gemma3na',
  'gemma4a',
  'parakeet',
]);

/** Projector type names llama.cpp knows (PROJECTOR_TYPE_NAMES in clip-impl.h). */
export const KNOWN_PROJECTOR_TYPES: ReadonlySet<string> = new Set([
  'mlp',
  'ldp',
  'ldpv2',
  'resampler',
  'adapter',
  'qwen2vl_merger',
  'qwen2.5vl_merger',
  'qwen3vl_merger',
  'step3vl',
  'gemma3',
  'gemma3nv',
  'gemma4v',
  'phi4',
  'idefics3',
  'pixtral',
  'internvl',
  'llama4',
  'qwen2.5o',
  'lfm2',
  'kimivl',
  'paddleocr',
  'lightonocr',
  'cogvlm',
  'janus_pro',
  'dots_ocr',
  'deepseekocr',
  'glm4v',
  'youtuvl',
  'yasa2',
  'kimik25',
  'nemotron_v2_vl',
  'hunyuanocr',
  'hunyuanvl',
  // audio projectors: llama.cpp knows them, Glance refuses them as not vision
  ...AUDIO_PROJECTOR_TYPES,
]);

export type KeyType = 'u32' | 'f32' | 'f32-array-3';

/** Keys every vision projector must carry (load_hparams reads them for any type). */
export const COMMON_KEYS: readonly (readonly [string, KeyType])[] = [
  ['clip.vision.embedding_length', 'u32'],
  ['clip.vision.attention.head_count', 'u32'],
  ['clip.vision.feed_forward_length', 'u32'],
  ['clip.vision.block_count', 'u32'],
  ['clip.vision.projection_dim', 'u32'],
  ['clip.vision.attention.layer_norm_epsilon', 'f32'],
  ['clip.vision.image_size', 'u32'],
  ['clip.vision.patch_size', 'u32'],
  ['clip.vision.image_mean', 'f32-array-3'],
  ['clip.vision.image_std', 'f32-array-3'],
];

/** Tensors of vision block N that load_tensors requires for every type. */
export const COMMON_BLOCK_TENSORS = ['attn_out.weight', 'ffn_up.weight', 'ffn_down.weight'];

export interface ProjectorRequirements {
  /** The model family, for messages: "not a LLaVA-1.5 projector". */
  label: string;
  keys: readonly (readonly [string, KeyType])[];
  /** Tensors outside the blocks. */
  tensors: readonly string[];
  /** Tensors of each vision block 0..block_count-1 beyond COMMON_BLOCK_TENSORS. */
  blockTensors: readonly string[];
}

const QKV = ['attn_q.weight', 'attn_k.weight', 'attn_v.weight'];

const QWEN25VL: ProjectorRequirements = {
  label: 'Qwen2.5-VL',
  keys: [['clip.vision.n_wa_pattern', 'u32']],
  // two patch embeddings (temporal merge), no learned positions (M-RoPE), and q/k/v biases added unconditionally
  tensors: ['v.patch_embd.weight', 'v.patch_embd.weight.1', 'mm.0.weight', 'mm.0.bias', 'mm.2.weight', 'mm.2.bias'],
  blockTensors: [...QKV, 'attn_q.bias', 'attn_k.bias', 'attn_v.bias'],
};

/**
 * The projector types Glance's catalog uses, checked in full. mlp is LLaVA-1.5's two-layer MLP (with an mm.3 tensor
 * llama.cpp switches to mlp_norm, Yi-VL's); qwen2.5o is read as qwen2.5vl_merger for vision.
 */
export const PROJECTOR_REQUIREMENTS: Readonly<Record<string, ProjectorRequirements>> = {
  mlp: {
    label: 'LLaVA-1.5',
    keys: [],
    tensors: ['v.patch_embd.weight', 'v.position_embd.weight', 'mm.0.weight', 'mm.0.bias', 'mm.2.weight', 'mm.2.bias'],
    blockTensors: QKV,
  },
  mlp_norm: {
    label: 'LLaVA (Yi-VL mlp_norm)',
    keys: [],
    tensors: [
      'v.patch_embd.weight',
      'v.position_embd.weight',
      'mm.0.weight',
      'mm.0.bias',
      'mm.1.weight',
      'mm.1.bias',
      'mm.3.weight',
      'mm.3.bias',
      'mm.4.weight',
      'mm.4.bias',
    ],
    blockTensors: QKV,
  },
  idefics3: {
    label: 'SmolVLM/Idefics3',
    // pixel shuffle asserts a scale factor above 1, and it has no default
    keys: [['clip.vision.projector.scale_factor', 'u32']],
    tensors: ['v.patch_embd.weight', 'v.position_embd.weight', 'mm.model.fc.weight'],
    blockTensors: QKV,
  },
  'qwen2.5vl_merger': QWEN25VL,
  'qwen2.5o': QWEN25VL,
  qwen2vl_merger: {
    label: 'Qwen2-VL',
    keys: [],
    tensors: ['v.patch_embd.weight', 'v.patch_embd.weight.1', 'mm.0.weight', 'mm.0.bias', 'mm.2.weight', 'mm.2.bias'],
    blockTensors: [...QKV, 'attn_q.bias', 'attn_k.bias', 'attn_v.bias'],
  },
  gemma3: {
    label: 'Gemma 3',
    keys: [],
    tensors: ['v.patch_embd.weight', 'v.position_embd.weight', 'mm.input_projection.weight', 'mm.soft_emb_norm.weight'],
    blockTensors: QKV,
  },
};

/**
 * Where clip_n_mmproj_embd() reads the width of the embeddings a projector outputs: [tensor, ne index]. Types not
 * listed fall back to clip.vision.projection_dim, which is not trusted enough to refuse a pair.
 */
export const PROJECTOR_OUTPUT: Readonly<Record<string, readonly [string, number]>> = {
  mlp: ['mm.2.weight', 1],
  mlp_norm: ['mm.3.bias', 0],
  phi4: ['mm.2.weight', 1],
  pixtral: ['mm.2.weight', 1],
  lightonocr: ['mm.2.weight', 1],
  dots_ocr: ['mm.2.weight', 1],
  lfm2: ['mm.2.weight', 1],
  kimivl: ['mm.2.weight', 1],
  paddleocr: ['mm.2.weight', 1],
  kimik25: ['mm.2.weight', 1],
  yasa2: ['mm.2.weight', 1],
  ldp: ['mm.model.mb_block.1.block.2.1.bias', 0],
  ldpv2: ['mm.model.peg.0.bias', 0],
  resampler: ['resampler.proj.weight', 0],
  adapter: ['adapter.linear.dense_4h_to_h.weight', 1],
  // mm_1_b in clip.cpp is the tensor named mm.2.bias for these
  qwen2vl_merger: ['mm.2.bias', 0],
  'qwen2.5vl_merger': ['mm.2.bias', 0],
  'qwen2.5o': ['mm.2.bias', 0],
  youtuvl: ['mm.2.bias', 0],
  janus_pro: ['mm.1.bias', 0],
  step3vl: ['mm.model.fc.weight', 1],
  gemma3: ['mm.input_projection.weight', 0],
  gemma3nv: ['mm.input_projection.weight', 0],
  gemma4v: ['mm.input_projection.weight', 1],
  idefics3: ['mm.model.fc.weight', 1],
  llama4: ['mm.model.fc.weight', 1],
  internvl: ['mm.model.mlp.3.weight', 1],
  nemotron_v2_vl: ['mm.model.mlp.3.weight', 1],
  hunyuanocr: ['mm.model.fc.weight', 1],
  hunyuanvl: ['mm.model.fc.weight', 1],
  cogvlm: ['mm.down.weight', 1],
  deepseekocr: ['mm.model.fc.weight', 1],
  glm4v: ['mm.down.weight', 1],
};

/** Projectors whose image always takes (image_size / patch_size)^2 positions. */
export const FIXED_SIZE_PROJECTORS: ReadonlySet<string> = new Set(['mlp', 'mlp_norm']);
