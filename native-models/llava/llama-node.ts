// VisionChat on @fugood/llama.node (llama.cpp with libmtmd). The rules this file keeps, from how the binding fails:
// files are checked before loadModel (a bad file segfaults it; see gguf-check.ts), images arrive already
// normalised by the app (a bad image leaves the context stuck), one completion at a time, and release() only
// after the running completion has ended (releasing during one segfaults).
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { type Backend, candidateBackends, estimateGpuLayers, VARIANT } from './backend.ts';
import { checkPair } from './gguf-check.ts';
import { ProjectorInputs, projectorLimit } from './image-input.ts';
import { bindingSampling, FAMILY_SAMPLING, familyOf, type ModelFamily, samplingFor } from './sampling.ts';
import { chooseTemplate, describeTemplate, type TemplateChoice } from './templates.ts';
import {
  type BackendInfo,
  type ChatTurn,
  type CompletionOptions,
  type CompletionResult,
  type VisionChat,
  VisionChatError,
  type VisionChatLoadOptions,
} from './vision-chat.ts';

// The part of the binding Glance uses, typed here: the package ships TypeScript sources, not declarations, and
// loading it lazily keeps the native library out of every process that only imports this file.
interface Completion {
  text: string;
  interrupted: boolean;
  context_full: boolean;
  tokens_predicted: number;
  tokens_evaluated: number;
  timings: { prompt_n: number; prompt_ms: number; predicted_n: number; predicted_per_second: number };
}
interface Context {
  ctx: { getBackendDevicesInfo(): { type: string; maxMemorySize: number }[] };
  getUsedDevices(): string[];
  initMultimodal(o: { path: string; use_gpu?: boolean }): boolean;
  completion(options: Record<string, unknown>, onToken?: (t: { token: string }) => void): Promise<Completion>;
  stopCompletion(): void;
  release(): Promise<void>;
}
interface Binding {
  loadModel(options: Record<string, unknown>): Promise<Context>;
}
let binding: Binding | undefined;
const loadModel = (options: Record<string, unknown>) => {
  binding ??= createRequire(import.meta.url)('@fugood/llama.node') as Binding;
  return binding.loadModel(options);
};

export const DEFAULT_CONTEXT = 4096;
/** llama.cpp's default batch. A smaller context must get a batch no larger than itself: llama.cpp clamps n_batch to
 * n_ctx while the binding still feeds prompts in chunks of its own n_batch, and a chunk above the clamp aborts the
 * process (GGML_ASSERT n_tokens_all <= n_batch) instead of reporting a full context. */
const DEFAULT_BATCH = 512;

/**
 * Free memory of the largest GPU in bytes. When the binding cannot say, null, with the reason added to `notes`:
 * the layers then stay where they were loaded (all on the GPU) instead of a failed query reading as "no memory".
 */
export function gpuFreeBytes(ctx: Pick<Context, 'ctx'>, notes: string[]): number | null {
  try {
    const devices = ctx.ctx.getBackendDevicesInfo();
    return Math.max(0, ...devices.filter((d) => d.type !== 'cpu').map((d) => d.maxMemorySize || 0));
  } catch (err) {
    notes.push(
      `the GPU's free memory could not be read (${(err as Error).message}): all layers were put on the GPU; ` +
        'if it runs out of memory, set GPU layers in Settings',
    );
    return null;
  }
}

export async function loadLlamaNodeChat(o: VisionChatLoadOptions): Promise<VisionChat> {
  const { model, projector } = await checkPair(o.model, o.mmproj);
  const template = chooseTemplate(o.chatTemplate, model, projector);
  const family = familyOf(model, projector);
  const contextSize = o.contextSize ?? Math.min(DEFAULT_CONTEXT, model.contextLength || DEFAULT_CONTEXT);
  const notes: string[] = [];
  const projectorBytes = (await stat(o.mmproj)).size;

  // Every load of this pair, the GPU-fit reload too, with the same context, batch and threads.
  const load = (backend: Backend, layers: number) =>
    loadModel({
      model: o.model,
      n_ctx: contextSize,
      n_batch: Math.min(DEFAULT_BATCH, contextSize),
      n_gpu_layers: layers,
      ...(o.threads ? { n_threads: o.threads } : {}),
      n_parallel: 1,
      lib_variant: VARIANT[backend],
    });
  for (const backend of candidateBackends()) {
    let layers = 0;
    if (backend !== 'cpu') layers = typeof o.gpuLayers === 'number' ? o.gpuLayers : 999;
    let ctx: Context | null = null;
    try {
      ctx = await load(backend, layers);
      const free =
        backend !== 'cpu' && (o.gpuLayers === undefined || o.gpuLayers === 'auto') ? gpuFreeBytes(ctx, notes) : null;
      if (free !== null) {
        // With the device's memory known, reload with the layers that fit if everything does not.
        const fit = estimateGpuLayers({
          modelBytes: model.fileSize,
          projectorBytes,
          layers: model.nLayers,
          kvBytes: model.kvBytesPerToken * contextSize,
          gpuFreeBytes: free,
        });
        if (fit <= model.nLayers) {
          await ctx.release();
          ctx = null;
          if (fit === 0) throw new Error('not enough free GPU memory for even one layer');
          layers = fit;
          ctx = await load(backend, layers);
        }
      }
      if (!ctx.initMultimodal({ path: o.mmproj, use_gpu: backend !== 'cpu' })) {
        throw new VisionChatError(
          'load-failed',
          `the vision projector ${o.mmproj} could not be started with ${o.model} (llama.cpp refused the pair)`,
        );
      }
      const used = safe(() => ctx!.getUsedDevices()) ?? [];
      // A GPU build whose libraries are missing loads anyway and runs on the CPU: call that a failed GPU load.
      if (backend !== 'cpu' && used.length > 0 && used.every((d) => /cpu/i.test(d))) {
        throw new Error(`the ${backend} build found no usable GPU (are its runtime libraries installed?)`);
      }
      const devices = used.join(', ') || (backend === 'cpu' ? 'CPU' : backend);
      return new LlamaNodeChat(ctx, template, family, new ProjectorInputs(projectorLimit(projector)), {
        backend,
        device: devices,
        gpuLayers: backend === 'cpu' ? 0 : layers,
        notes,
        chatTemplate: describeTemplate(template),
        sampling: { family, ...FAMILY_SAMPLING[family] },
      });
    } catch (err) {
      if (ctx) await ctx.release().catch(() => {});
      if (err instanceof VisionChatError || backend === 'cpu') {
        if (err instanceof VisionChatError) throw err;
        throw new VisionChatError('load-failed', `the model could not be loaded: ${(err as Error).message}`, {
          cause: err,
        });
      }
      notes.push(
        `${backend.toUpperCase()} could not load the model (${(err as Error).message}); trying the next backend`,
      );
    }
  }
  throw new VisionChatError('load-failed', 'no backend could load the model');
}

const tooLong = (detail: string) =>
  `the conversation no longer fits the model's context (${detail}): start a new conversation or raise the context size`;
const r0 = (msg: string) => msg.split('\n')[0]!.slice(0, 120);

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

class LlamaNodeChat implements VisionChat {
  private running: Promise<unknown> | null = null;
  private released = false;

  constructor(
    private readonly ctx: Context,
    private readonly template: TemplateChoice,
    private readonly family: ModelFamily,
    private readonly inputs: ProjectorInputs,
    readonly info: BackendInfo & { backend: Backend },
  ) {}

  /** stop() came while the images were being prepared, before there was a completion to stop. */
  private stopAsked = false;

  async complete(turns: ChatTurn[], options: CompletionOptions = {}): Promise<CompletionResult> {
    if (this.released) throw new VisionChatError('released', 'the model was released');
    if (this.running) throw new VisionChatError('busy', 'the model is already answering; wait for it or stop it');
    const sampling = samplingFor(this.family, { temperature: options.temperature, seed: options.seed });
    const start = performance.now();
    this.stopAsked = false;
    // The images as this projector should get them (image-input.ts); the model counts as busy meanwhile.
    const prepared = Promise.all(
      turns.map(async (t) => ({
        role: t.role,
        content: t.images?.length
          ? [
              ...(await Promise.all(t.images.map((f) => this.inputs.get(f)))).map((url) => ({
                type: 'image_url',
                image_url: { url },
              })),
              { type: 'text', text: t.text },
            ]
          : t.text,
      })),
    );
    this.running = prepared;
    let messages: Awaited<typeof prepared>;
    try {
      messages = await prepared;
    } catch (err) {
      this.running = null;
      throw new VisionChatError('completion-failed', `an image could not be read: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (this.released) {
      this.running = null; // release() came meanwhile: the context is gone or going
      throw new VisionChatError('released', 'the model was released');
    }
    let first = 0;
    let received = '';
    let pieces = 0;
    const { task } = this.startCompletion(() => ({
      task: this.ctx.completion(
        {
          messages,
          ...(this.template.kind === 'model' ? { jinja: true } : {}),
          ...(this.template.kind === 'named' ? { jinja: false, chat_template: this.template.name } : {}),
          ...(this.template.kind === 'jinja' ? { jinja: true, chat_template: this.template.source } : {}),
          n_predict: options.maxTokens ?? 1024,
          ...bindingSampling(sampling),
          // Grammar-constrained sampling (short answers): llama.cpp masks every token the grammar does not allow.
          ...(options.grammar ? { grammar: options.grammar } : {}),
        },
        (t) => {
          if (!first) first = performance.now();
          if (t.token) {
            pieces++;
            received += t.token;
            options.onToken?.(t.token);
          }
        },
      ),
    }));
    this.running = task;
    if (this.stopAsked) this.ctx.stopCompletion();
    let r: Completion;
    try {
      r = await task;
    } catch (err) {
      const msg = (err as Error).message;
      throw new VisionChatError(
        'completion-failed',
        /context/i.test(msg) ? tooLong(r0(msg)) : `the model could not answer: ${msg}`,
        { cause: err },
      );
    } finally {
      this.running = null;
    }
    // The promise can settle before the binding's last token callbacks have run: let them arrive, so that every
    // token reaches the caller before the answer does.
    for (const until = performance.now() + 200; received.length < r.text.length && performance.now() < until; ) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (r.context_full && !r.text) {
      // With images in play llama.cpp does not trim an overlong prompt: it answers nothing and the context is
      // stuck. Failing here makes the chat service release it.
      throw new VisionChatError('completion-failed', tooLong(`${r.tokens_evaluated} tokens`));
    }
    return {
      text: r.text,
      stopped: r.interrupted,
      stats: {
        promptTokens: r.timings.prompt_n,
        // tokens_evaluated counts the whole prompt and the answer; what was not processed came from the cache
        cachedTokens: Math.max(0, r.tokens_evaluated - r.tokens_predicted - r.timings.prompt_n),
        // tokens_predicted leaves out the first token when the prompt was evaluated (it is sampled from the prompt's
        // last step): the callbacks, one a token, count them all
        generatedTokens: Math.max(r.tokens_predicted, pieces),
        timeToFirstTokenMs: (first || performance.now()) - start,
        tokensPerSecond: r.timings.predicted_per_second || 0,
        totalMs: performance.now() - start,
        sampling,
      },
    };
  }

  /**
   * Starts a native completion. llama.node's Completion() queues its worker before it registers the callback that
   * clears the context's "in progress" mark; a completion that ends within that gap (a cached prompt, a token or two,
   * a busy machine) leaves the mark set for good, and every later completion on the context is refused with
   * "Another completion is in progress" (seen in CI). Nothing of ours runs then (one completion at a time is
   * enforced above), so the context is stuck: said with its own code, so that the chat service loads the model
   * again and runs the request on the fresh context.
   */
  private startCompletion<T extends object>(start: () => T): T {
    try {
      return start();
    } catch (err) {
      this.running = null;
      if (/Another completion is in progress/.test((err as Error)?.message ?? '')) {
        throw new VisionChatError(
          'context-stuck',
          "the model's context still marks an answer that ended as running (a llama.node race): it is loaded again",
          { cause: err },
        );
      }
      throw err;
    }
  }

  stop(): void {
    if (!this.running) return;
    this.stopAsked = true;
    this.ctx.stopCompletion();
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.running) {
      this.ctx.stopCompletion();
      await this.running.catch(() => {});
    }
    await this.ctx.release();
  }
}
