// What ask and chat share: model options, and an engine process started for the command and stopped after it.
import path from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { MAX_SEED, MAX_TEMPERATURE } from '../../native-models/llava/sampling.ts';
import { chooseChatModel } from '../engine/chat/model-choice.ts';
import { glancePaths, resolveHome } from '../engine/paths.ts';
import { EngineSupervisor } from '../engine/process/supervisor.ts';
import { type CliIo, UsageError } from './io.ts';
import { positiveNumber } from './library-context.ts';

export const CHAT_OPTIONS = {
  home: { type: 'string' },
  model: { type: 'string' },
  mmproj: { type: 'string' },
  template: { type: 'string' },
  ctx: { type: 'string' },
  'gpu-layers': { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  seed: { type: 'string' },
  system: { type: 'string' },
  json: { type: 'boolean' },
} satisfies NonNullable<ParseArgsConfig['options']>;

export const CHAT_OPTIONS_HELP = `  --model ID|FILE        a catalog model (glance models list) or a .gguf file (default: the installed one)
  --mmproj FILE          the vision projector for --model FILE (required with a file)
  --template NAME        chat template override (e.g. vicuna, chatml); default: the model's own
  --ctx N                context size in tokens (default 4096)
  --gpu-layers N|auto    layers on the GPU (default auto: from a memory estimate)
  --max-tokens N         longest answer (default 1024)
  --temperature T        sampling temperature, 0 (always the likeliest word) to 5; default: the model family's
  --seed N               sampler seed (0 to 2147483647) to reproduce an answer; default: a fresh one, shown by --json
  --system TEXT          a system prompt
  --json                 print JSON instead of streaming text
  --home DIR             Glance's data folder (default: GLANCE_HOME, else the app-data folder)`;

export interface ChatValues {
  home?: string | undefined;
  model?: string | undefined;
  mmproj?: string | undefined;
  template?: string | undefined;
  ctx?: string | undefined;
  'gpu-layers'?: string | undefined;
  'max-tokens'?: string | undefined;
  temperature?: string | undefined;
  seed?: string | undefined;
}

/** The model and options of a command's flags; `prefer`: the installed catalog model to use when none is named. */
export function modelFromValues(values: ChatValues, io: CliIo, o: { prefer?: string } = {}) {
  const gpu = values['gpu-layers'];
  let gpuLayers: number | 'auto' | undefined;
  if (gpu !== undefined) {
    gpuLayers = gpu === 'auto' ? 'auto' : Number(gpu);
    if (gpuLayers !== 'auto' && !(Number.isInteger(gpuLayers) && gpuLayers >= 0)) {
      throw new UsageError('--gpu-layers takes a whole number or "auto"');
    }
  }
  const contextSize = positiveNumber('ctx', values.ctx);
  const home = resolveHome(values.home, io.env);
  const choice = chooseChatModel(
    glancePaths(home),
    {
      ...(values.model ? { model: values.model } : {}),
      ...(values.mmproj ? { mmproj: values.mmproj } : {}),
      ...(values.template ? { template: values.template } : {}),
      ...(contextSize ? { contextSize } : {}),
      ...(gpuLayers !== undefined ? { gpuLayers } : {}),
    },
    o.prefer,
  );
  const { label, ...model } = choice;
  return {
    home,
    label,
    model,
    options: {
      maxTokens: positiveNumber('max-tokens', values['max-tokens']) ?? 1024,
      ...samplingFromValues(values),
    },
  };
}

/** --temperature and --seed, checked here so that a typo is a usage error, not a failed answer. */
export function samplingFromValues(values: ChatValues): { temperature?: number; seed?: number } {
  const out: { temperature?: number; seed?: number } = {};
  if (values.temperature !== undefined) {
    const t = Number(values.temperature);
    if (values.temperature.trim() === '' || !(t >= 0 && t <= MAX_TEMPERATURE)) {
      throw new UsageError(`--temperature must be a number from 0 to ${MAX_TEMPERATURE} (got "${values.temperature}")`);
    }
    out.temperature = t;
  }
  if (values.seed !== undefined) {
    const n = Number(values.seed);
    if (!/^\d+$/.test(values.seed.trim()) || !(n <= MAX_SEED)) {
      throw new UsageError(`--seed must be a whole number from 0 to ${MAX_SEED} (got "${values.seed}")`);
    }
    out.seed = n;
  }
  return out;
}

export const absolute = (files: string[]) => files.map((f) => path.resolve(f));

export function startEngine(home: string, onToken: (conversationId: number, token: string) => void) {
  return new EngineSupervisor({ home, events: { chatToken: (e) => onToken(e.conversationId, e.token) } });
}
