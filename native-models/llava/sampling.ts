// How Glance samples an answer, per model family, in one place. Without this the binding's own defaults applied
// (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05) with a random seed nobody saw, so no answer could be
// reproduced. Every completion now runs with settings written here (or the caller's temperature and seed), and
// reports them, seed included: the same prompt, image, model and settings give the same tokens.
import { randomInt } from 'node:crypto';

export type ModelFamily = 'llava-1.5' | 'smolvlm' | 'qwen2.5-vl' | 'gemma-3' | 'other';

export interface SamplingDefaults {
  temperature: number;
  /** 0 = no top-k cut. */
  topK: number;
  /** 1 = no nucleus cut. */
  topP: number;
  /** 0 = no min-p cut. */
  minP: number;
  /** 1 = no repetition penalty. */
  repeatPenalty: number;
}

/** The settings one completion actually ran with. */
export interface SamplingSettings extends SamplingDefaults {
  family: ModelFamily;
  /** 0 … 2^31-1. At temperature 0 the answer is greedy and the seed changes nothing. */
  seed: number;
}

/**
 * Each family's recommended settings, from its model card or the generation config its authors publish. Min-p is
 * off everywhere: none of these authors use it, and the binding's default of 0.05 would be a silent fifth knob.
 */
export const FAMILY_SAMPLING: Readonly<Record<ModelFamily, SamplingDefaults>> = {
  // LLaVA-1.5: the authors' own demo and CLI (llava/serve) sample at temperature 0.2, top-p 0.7.
  'llava-1.5': { temperature: 0.2, topK: 0, topP: 0.7, minP: 0, repeatPenalty: 1 },
  // SmolVLM-Instruct: the model card calls generate() with its defaults, i.e. greedy decoding.
  smolvlm: { temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1 },
  // Qwen2.5-VL-Instruct: generation_config.json: temperature 0.1, top-k 1, top-p 0.001, repetition penalty 1.05.
  'qwen2.5-vl': { temperature: 0.1, topK: 1, topP: 0.001, minP: 0, repeatPenalty: 1.05 },
  // Gemma 3 (it): generation_config.json samples with top-k 64, top-p 0.95 at temperature 1.0, as the card advises.
  'gemma-3': { temperature: 1, topK: 64, topP: 0.95, minP: 0, repeatPenalty: 1 },
  // Anything else: a conservative choice for questions about pictures (factual answers, little invention).
  other: { temperature: 0.2, topK: 40, topP: 0.95, minP: 0, repeatPenalty: 1 },
};

export const MAX_SEED = 2 ** 31 - 1; // the binding reads the seed as int32; -1 (0xFFFFFFFF) would mean "random"
export const MAX_TEMPERATURE = 5;

/** The family from what the files say: the projector type names the vision tower, the text model tells LLaVA apart. */
export function familyOf(model: { architecture: string }, projector: { projectorType: string }): ModelFamily {
  const p = projector.projectorType;
  if (p === 'idefics3') return 'smolvlm';
  if (p.startsWith('qwen2.5vl') || p.startsWith('qwen2vl') || p === 'qwen2.5o') return 'qwen2.5-vl';
  if (p === 'gemma3') return 'gemma-3';
  if ((p === 'mlp' || p === 'mlp_norm') && model.architecture === 'llama') return 'llava-1.5';
  return 'other';
}

/** The settings for one completion: the family's, with the caller's temperature and seed; a fresh seed if none. */
export function samplingFor(
  family: ModelFamily,
  overrides: { temperature?: number | undefined; seed?: number | undefined } = {},
  newSeed: () => number = () => randomInt(0, MAX_SEED + 1),
): SamplingSettings {
  const t = overrides.temperature;
  if (t !== undefined && !(Number.isFinite(t) && t >= 0 && t <= MAX_TEMPERATURE)) {
    throw new RangeError(`temperature must be a number from 0 to ${MAX_TEMPERATURE} (got ${t})`);
  }
  const s = overrides.seed;
  if (s !== undefined && !(Number.isInteger(s) && s >= 0 && s <= MAX_SEED)) {
    throw new RangeError(`seed must be a whole number from 0 to ${MAX_SEED} (got ${s})`);
  }
  return { family, ...FAMILY_SAMPLING[family], ...(t !== undefined ? { temperature: t } : {}), seed: s ?? newSeed() };
}

/**
 * The binding's completion options for these settings, every sampler named so that none of its defaults apply. One
 * of them is harmful: llama.node defaults XTC to probability 0.1 with threshold 0, which on one token in ten keeps
 * only the least likely candidate left after top-k/top-p, so even temperature 0 was neither greedy nor repeatable.
 */
export function bindingSampling(s: SamplingSettings): Record<string, number> {
  return {
    temperature: s.temperature,
    top_k: s.topK,
    top_p: s.topP,
    min_p: s.minP,
    penalty_repeat: s.repeatPenalty,
    seed: s.seed,
    xtc_probability: 0,
    typical_p: 1,
    top_n_sigma: -1,
    mirostat: 0,
    dry_multiplier: 0,
    penalty_freq: 0,
    penalty_present: 0,
  };
}
