// The local API's backend inside the engine process: chat completions on the window's chat service (its queue,
// its loaded models), embeddings from CLIP, search over the library. Everything a request names is resolved here
// against what Glance has: catalog ids of installed models, library photo ids; never a path.
import { statSync } from 'node:fs';
import path from 'node:path';
import { ClipModel } from '../../../native-models/clip/model.ts';
import type { VisionChatLoadOptions } from '../../../native-models/llava/vision-chat.ts';
import type { ChatService } from '../chat/chat-service.ts';
import { embedInOrder, type Library } from '../library/library.ts';
import type { ApiBackend, ApiImage, ApiModel } from './schema.ts';
import { ApiError } from './schema.ts';

/** The token budget of an answer when the request sets none (the CLI's default too). */
export const DEFAULT_MAX_TOKENS = 1024;

export interface EngineBackendOptions {
  chat: ChatService;
  library: () => Library;
  /** The chat models a request may name: id → load options (installed catalog models, or the files `serve` was given). */
  chatModels: () => Map<string, VisionChatLoadOptions>;
  /** The id "default" stands for (the settings' chat model, or the one `serve` was given); null: the first. */
  defaultChat: () => string | null;
  /** The settings' search language, for a search request that names none. */
  searchLanguage: () => 'auto' | 'en' | 'multi';
  /** A CLIP model folder for embeddings (`serve --clip-model DIR`); default: the library's own model. */
  clipDir?: string;
}

export function engineBackend(o: EngineBackendOptions): ApiBackend {
  let clip: Promise<ClipModel> | null = null;
  const ownClip = () => {
    clip ??= ClipModel.load(o.clipDir!);
    return clip;
  };
  const clipId = () => (o.clipDir ? path.basename(o.clipDir) : o.library().modelId);
  const created = (file: string) => {
    try {
      return Math.floor(statSync(file).mtimeMs / 1000);
    } catch {
      return 0;
    }
  };
  /** A request's image as the chat service takes it: bytes, or a library photo's file (by id, never by path). */
  const imageInput = (image: ApiImage) => {
    if ('bytes' in image) return image.bytes;
    return o.library().photoDetail(image.photoId).row.path;
  };
  const resolveChat = (id: string): { id: string; load: VisionChatLoadOptions } => {
    const models = o.chatModels();
    const wanted = id === 'default' ? (o.defaultChat() ?? [...models.keys()][0]) : id;
    const load = wanted ? models.get(wanted) : undefined;
    if (!load) {
      const known = [...models.keys()];
      throw new ApiError(
        404,
        'not_found_error',
        'model_not_found',
        known.length === 0
          ? 'no chat model is installed: download one in Glance (Models) or with `glance models download`'
          : `there is no chat model "${id}" here: use one of ${known.join(', ')} (or "default")`,
      );
    }
    return { id: wanted!, load };
  };

  return {
    async models() {
      const chat: ApiModel[] = [...o.chatModels()].map(([id, load]) => ({
        id,
        object: 'model',
        created: created(load.model),
        owned_by: 'glance',
        kind: 'chat',
      }));
      const dir = o.clipDir ?? null;
      const clipModel: ApiModel = {
        id: clipId(),
        object: 'model',
        created: dir ? created(dir) : 0,
        owned_by: 'glance',
        kind: 'clip',
      };
      return [...chat, clipModel];
    },

    async chat(r) {
      const { id, load } = resolveChat(r.model);
      const maxTokens = r.maxTokens ?? DEFAULT_MAX_TOKENS;
      const result = await o.chat.completion({
        turns: r.messages.map((m) => ({ role: m.role, text: m.text, images: m.images.map(imageInput) })),
        model: load,
        options: {
          maxTokens,
          ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
          ...(r.seed !== undefined ? { seed: r.seed } : {}),
        },
        ...(r.onToken ? { onToken: r.onToken } : {}),
        signal: r.signal,
      });
      return {
        model: id,
        text: result.text,
        promptTokens: result.stats.promptTokens + result.stats.cachedTokens,
        generatedTokens: result.stats.generatedTokens,
        maxTokens,
      };
    },

    async embed(r) {
      const id = clipId();
      if (r.model !== undefined && r.model !== id && r.model !== 'default') {
        throw new ApiError(
          404,
          'not_found_error',
          'model_not_found',
          `embeddings come from the CLIP model "${id}" (or "default"), not "${r.model}"`,
        );
      }
      if (!o.clipDir) {
        const vectors = await o
          .library()
          .embed(
            r.inputs.map((x) =>
              'text' in x ? { text: x.text } : 'bytes' in x.image ? x.image : { photoId: x.image.photoId },
            ),
          );
        return { model: id, vectors, tokens: 0 };
      }
      const model = await ownClip();
      const vectors = await embedInOrder(
        r.inputs,
        (texts) => model.encodeTexts(texts),
        async (x) => (await model.encodeImageTensors([await model.preprocess(imageInput(x.image))]))[0]!,
      );
      return { model: id, vectors, tokens: 0 };
    },

    async search(q) {
      const lib = o.library();
      let folder: string | undefined;
      if (q.folder_id !== undefined) {
        folder = lib.folders().find((f) => f.id === q.folder_id)?.path;
        if (!folder) throw new ApiError(404, 'not_found_error', 'not_found', `there is no folder ${q.folder_id}`);
      }
      const hits = await lib.search({
        ...(q.query ? { text: q.query } : {}),
        ...(q.tags ? { tags: q.tags } : {}),
        ...(folder ? { folder } : {}),
        ...(q.from !== undefined ? { from: q.from } : {}),
        ...(q.to !== undefined ? { to: q.to } : {}),
        limit: q.limit ?? 20,
        lang: q.lang ?? o.searchLanguage(),
      });
      return hits.map((h) => ({
        id: h.id,
        path: h.path,
        score: h.score,
        taken_at: h.takenAt,
        tags: lib.tags(h.id).tags.map((t) => t.name),
        caption: lib.caption(h.id)?.text ?? null,
      }));
    },
  };
}
