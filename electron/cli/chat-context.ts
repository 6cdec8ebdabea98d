// What ask and chat share: model options, and an engine process started for the command and stopped after it.
import path from 'node:path';
import type { ParseArgsConfig } from 'node:util';
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
  system: { type: 'string' },
  json: { type: 'boolean' },
} satisfies NonNullable<ParseArgsConfig['options']>;

export const CHAT_OPTIONS_HELP = `  --model ID|FILE        a catalog model (glance models list) or a .gguf file (default: the installed one)
  --mmproj FILE          the vision projector for --model FILE (required with a file)
  --template NAME        chat template override (e.g. vicuna, chatml); default: the model's own
  --ctx N                context size in tokens (default 4096)
  --gpu-layers N|auto    layers on the GPU (default auto: from a memory estimate)
  --max-tokens N         longest answer (default 1024)
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
}

export function modelFromValues(values: ChatValues, io: CliIo) {
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
  const choice = chooseChatModel(glancePaths(home), {
    ...(values.model ? { model: values.model } : {}),
    ...(values.mmproj ? { mmproj: values.mmproj } : {}),
    ...(values.template ? { template: values.template } : {}),
    ...(contextSize ? { contextSize } : {}),
    ...(gpuLayers !== undefined ? { gpuLayers } : {}),
  });
  const { label, ...model } = choice;
  return { home, label, model, maxTokens: positiveNumber('max-tokens', values['max-tokens']) ?? 1024 };
}

export const absolute = (files: string[]) => files.map((f) => path.resolve(f));

export function startEngine(home: string, onToken: (conversationId: number, token: string) => void) {
  return new EngineSupervisor({ home, events: { chatToken: (e) => onToken(e.conversationId, e.token) } });
}
