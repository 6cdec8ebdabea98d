// Which files a chat request runs: a catalog model installed in the data folder, or explicit files. A vision
// model is always a pair; a model without its projector (mmproj) is refused here with what is missing, because
// a vision model silently running text-only answers questions about images it never saw.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CHAT_CATALOG, type ChatCatalogEntry, DEFAULT_CHAT_ID } from '../../../native-models/catalog.ts';
import type { VisionChatLoadOptions } from '../../../native-models/llava/vision-chat.ts';
import { type GlancePaths, modelDir } from '../paths.ts';

export class ModelChoiceError extends Error {
  override readonly name = 'ModelChoiceError';
  constructor(
    readonly code: 'mmproj-missing' | 'model-not-installed' | 'unknown-model' | 'no-chat-model',
    message: string,
  ) {
    super(message);
  }
}

export interface ModelArgs {
  /** A catalog id or a .gguf file. */
  model?: string;
  mmproj?: string;
  template?: string;
  contextSize?: number;
  gpuLayers?: number | 'auto';
}

export function installedChatModels(paths: GlancePaths): ChatCatalogEntry[] {
  return CHAT_CATALOG.filter((e) => {
    const dir = modelDir(paths, e.id);
    return existsSync(path.join(dir, e.model.file)) && existsSync(path.join(dir, e.mmproj.file));
  });
}

/**
 * The files to run. Without `args.model`: the installed catalog model `prefer` names (the default chat model; SmolVLM
 * for captions, where speed matters most), else the first installed one.
 */
export function chooseChatModel(
  paths: GlancePaths,
  args: ModelArgs,
  prefer: string = DEFAULT_CHAT_ID,
): VisionChatLoadOptions & { label: string } {
  const extra = {
    ...(args.contextSize ? { contextSize: args.contextSize } : {}),
    ...(args.gpuLayers !== undefined ? { gpuLayers: args.gpuLayers } : {}),
  };
  if (args.model && (args.model.endsWith('.gguf') || args.model.includes(path.sep))) {
    if (!args.mmproj) {
      throw new ModelChoiceError(
        'mmproj-missing',
        `${args.model} needs its vision projector: pass --mmproj FILE.gguf (the mmproj file published with the model). ` +
          'Without it the model cannot see images.',
      );
    }
    return {
      model: path.resolve(args.model),
      mmproj: path.resolve(args.mmproj),
      chatTemplate: args.template ?? null,
      label: path.basename(args.model),
      ...extra,
    };
  }
  let entry: ChatCatalogEntry | undefined;
  if (args.model) {
    entry = CHAT_CATALOG.find((e) => e.id === args.model);
    if (!entry) {
      throw new ModelChoiceError(
        'unknown-model',
        `unknown chat model "${args.model}": use one of ${CHAT_CATALOG.map((e) => e.id).join(', ')}, or --model FILE.gguf --mmproj FILE.gguf`,
      );
    }
  } else {
    const installed = installedChatModels(paths);
    entry = installed.find((e) => e.id === prefer) ?? installed.find((e) => e.id === DEFAULT_CHAT_ID) ?? installed[0];
    if (!entry) {
      throw new ModelChoiceError(
        'no-chat-model',
        `no chat model is installed: glance models download ${DEFAULT_CHAT_ID} (or smolvlm-500m for a light one), ` +
          'or pass --model FILE.gguf --mmproj FILE.gguf',
      );
    }
  }
  const dir = modelDir(paths, entry.id);
  const model = path.join(dir, entry.model.file);
  const mmproj = args.mmproj ? path.resolve(args.mmproj) : path.join(dir, entry.mmproj.file);
  if (!existsSync(model)) {
    throw new ModelChoiceError(
      'model-not-installed',
      `${entry.id} is not installed: glance models download ${entry.id}`,
    );
  }
  if (!existsSync(mmproj)) {
    throw new ModelChoiceError(
      'mmproj-missing',
      `${entry.id} is installed without its vision projector (${entry.mmproj.file}): glance models download ${entry.id} fetches it`,
    );
  }
  return { model, mmproj, chatTemplate: args.template ?? entry.chatTemplate ?? null, label: entry.id, ...extra };
}
