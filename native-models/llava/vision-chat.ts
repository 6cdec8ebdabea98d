// The one interface the chat service talks to. Today @fugood/llama.node implements it (llama.cpp with libmtmd);
// the day node-llama-cpp takes images, switching the binding is one new file behind this interface.
import type { SamplingDefaults, SamplingSettings } from './sampling.ts';

export interface VisionChatLoadOptions {
  model: string;
  mmproj: string;
  /** Context size in tokens. */
  contextSize?: number;
  /** Layers to offload to the GPU; 'auto' chooses from a memory estimate. */
  gpuLayers?: number | 'auto';
  threads?: number;
  /** A llama.cpp template name or Jinja template; null: the model's own, or the right one for its family. */
  chatTemplate?: string | null;
}

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  text: string;
  /** Paths of images already normalised by the app (decoded, upright, bounded, PNG or JPEG); sized for the projector
   * by the implementation (image-input.ts). */
  images?: string[];
}

export interface CompletionStats {
  /** Prompt tokens evaluated for this turn (what the KV cache did not already hold). */
  promptTokens: number;
  /** Prompt tokens taken from the KV cache. */
  cachedTokens: number;
  generatedTokens: number;
  timeToFirstTokenMs: number;
  /** Generation rate after the first token. */
  tokensPerSecond: number;
  totalMs: number;
  /** The sampling settings this answer was written with, seed included: with them the answer can be reproduced. */
  sampling?: SamplingSettings;
}

export interface CompletionResult {
  text: string;
  stats: CompletionStats;
  /** True when stop() ended the generation early. */
  stopped: boolean;
}

export interface CompletionOptions {
  onToken?: (token: string) => void;
  maxTokens?: number;
  /** Overrides the model family's temperature (sampling.ts); 0 is greedy. */
  temperature?: number;
  /** Fixes the sampler's seed (0 … 2^31-1); without it a fresh one is drawn and reported in the stats. */
  seed?: number;
  /**
   * A GBNF grammar (llama.cpp's grammar format) the answer must match: tokens it does not allow are never sampled,
   * so a yes/no question answers exactly yes or no instead of a sentence to be parsed. Only grammars known to parse
   * (short-answer.ts's constants): with llama.node one that llama.cpp cannot parse fails the completion, and releasing
   * that context afterwards aborts the process.
   */
  grammar?: string;
}

export interface BackendInfo {
  /** 'cpu', 'cuda', 'vulkan' or 'metal'. */
  backend: string;
  device: string;
  gpuLayers: number;
  /** Sentences for the user: a GPU load that fell back to CPU, and the like. */
  notes: string[];
  chatTemplate: string;
  /** The model family's sampling defaults (sampling.ts), before a request's temperature and seed. */
  sampling?: SamplingDefaults & { family: string };
}

export interface VisionChat {
  readonly info: BackendInfo;
  /** One completion at a time: a second call while one runs is refused, never interleaved. */
  complete(turns: ChatTurn[], options?: CompletionOptions): Promise<CompletionResult>;
  /** Ends the running completion early; its promise resolves with what was generated. */
  stop(): void;
  /** Frees the model. Waits for a running completion to end first (releasing during one crashes llama.cpp). */
  release(): Promise<void>;
}

export class VisionChatError extends Error {
  override readonly name = 'VisionChatError';
  constructor(
    /** 'context-stuck': the binding refuses every completion on this context; nothing was generated (load it again). */
    readonly code: 'busy' | 'load-failed' | 'completion-failed' | 'released' | 'context-stuck',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
