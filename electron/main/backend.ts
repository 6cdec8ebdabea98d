// The handlers behind every channel: the contract's shapes on one side, engine calls on the other. Paths stay on
// this side: the window gets names, ids and glance:// URLs, and sends ids back.
import path from 'node:path';
import type { CaptionProgress } from '../engine/captions/caption-job.ts';
import type { Message } from '../engine/chat/chat-service.ts';
import type { ShownCaption } from '../engine/library/captions.ts';
import type { SearchHit } from '../engine/library/library.ts';
import type { EngineSettings, ImageArg } from '../engine/process/contract.ts';
import type { EngineSupervisor } from '../engine/process/supervisor.ts';
import type {
  CaptionProgressView,
  CaptionView,
  MessageView,
  PhotoHit,
  SettingsView,
  VocabularyCategoryView,
} from '../ipc/contract.ts';
import type { CaptureFlowApi } from './capture/flow-api.ts';
import type { Handlers } from './router.ts';

export interface BackendDeps {
  engine: Pick<EngineSupervisor, 'call' | 'state'>;
  /** The native folder picker; null when the user cancels. */
  pickFolder: () => Promise<string | null>;
  /** The screenshot-and-ask flow (capture/flow.ts). */
  capture: CaptureFlowApi;
  /** Re-registers the global shortcut when the setting changes; returns a sentence when the system refuses it. */
  applyHotkey?: (accelerator: string) => string | null;
  dataFolder: string;
}

export const thumbUrl = (photoId: number) => `glance://thumb/${photoId}`;
export const attachmentUrl = (hash: string) => `glance://attachment/${hash}`;

const hit = (h: SearchHit): PhotoHit => ({
  id: h.id,
  name: path.basename(h.path),
  score: h.score,
  takenAt: h.takenAt,
  thumbnail: thumbUrl(h.id),
});

const message = (m: Message): MessageView => ({
  id: m.id,
  role: m.role,
  text: m.text,
  images: m.images.map((i) => ({ url: attachmentUrl(i.hash), width: i.width, height: i.height })),
  stats: m.stats
    ? {
        promptTokens: m.stats.promptTokens,
        generatedTokens: m.stats.generatedTokens,
        tokensPerSecond: m.stats.tokensPerSecond,
        timeToFirstTokenMs: m.stats.timeToFirstTokenMs,
        ...(m.stats.stopped !== undefined ? { stopped: m.stats.stopped } : {}),
      }
    : null,
  createdAt: m.createdAt,
});

/** An image from the window: bytes, or a library photo by id (never a path). */
const imageArg = (i: { bytes: Uint8Array } | { photoId: number }): ImageArg =>
  'bytes' in i ? i.bytes : { photoId: i.photoId };

const model = (id: string | undefined) => (id ? { catalogId: id } : {});

const caption = (c: ShownCaption | null | undefined): CaptionView | null =>
  c ? { text: c.text, model: c.model, createdAt: c.createdAt, edited: c.edited } : null;

/** The job's progress as the window sees it: photo names, not paths to act on (paths only to show). */
export function captionProgressView(p: CaptionProgress): CaptionProgressView {
  return {
    state: p.state,
    done: p.done,
    total: p.total,
    failed: p.failed,
    photosPerSecond: p.photosPerSecond,
    etaSeconds: p.etaSeconds,
    current: p.current ? { photoId: p.current.photoId, name: path.basename(p.current.path) } : null,
    model: p.model,
    ...(p.error !== undefined ? { error: p.error } : {}),
    ...(p.failures
      ? {
          failures: p.failures.map((f) => ({
            ...(f.photoId !== undefined ? { photoId: f.photoId } : {}),
            name: path.basename(f.path),
            path: f.path,
            message: f.message,
          })),
        }
      : {}),
  };
}

export function createBackend(deps: BackendDeps) {
  const { engine } = deps;
  const settings = async (): Promise<SettingsView> => {
    const s: EngineSettings & { notice?: string } = await engine.call('settingsGet');
    return {
      hotkey: s.hotkey,
      dataFolder: deps.dataFolder,
      threads: s.threads,
      gpuLayers: s.gpuLayers,
      chatModel: s.chatModel,
      captionNewPhotos: s.captionNewPhotos,
      localApi: s.localApi,
      localApiPort: s.localApiPort,
      localApiOrigins: s.localApiOrigins,
      searchLanguage: s.searchLanguage,
      tagThreshold: await engine.call('tagsThreshold').catch(() => 0.03),
      ...(s.notice ? { notice: s.notice } : {}),
    };
  };

  const handlers: Handlers = {
    'library.folders': () => engine.call('libFolders'),
    'library.addFolder': async () => {
      const dir = await deps.pickFolder();
      return dir ? engine.call('libAddFolder', { path: dir }) : null;
    },
    'library.removeFolder': (a) => engine.call('libRemoveFolder', a),
    'library.index': () => engine.call('libIndex'),
    'library.pause': () => engine.call('libPause'),
    'library.resume': () => engine.call('libResume'),
    'library.cancel': () => engine.call('libCancel'),
    'library.errors': () => engine.call('libErrors'),
    'library.photo': async (a) => {
      const d = await engine.call('libPhoto', a);
      return {
        id: d.row.id,
        name: path.basename(d.row.path),
        path: d.row.path,
        width: d.row.width,
        height: d.row.height,
        takenAt: d.row.taken_at,
        tags: d.tags,
        candidates: d.candidates,
        caption: caption(d.caption),
      };
    },
    'library.search': async (a) => (await engine.call('libSearch', a)).map(hit),
    'library.duplicates': async (a) =>
      (await engine.call('libDuplicates', a)).map((g) => ({ similarity: g.similarity, photos: g.photos.map(hit) })),
    'library.cancelDuplicates': () => engine.call('libDuplicatesCancel'),
    'captions.start': async (a) =>
      captionProgressView(
        await engine.call('captionsStart', {
          ...(a?.folderIds ? { folderIds: a.folderIds } : {}),
          // no catalog id: the engine takes the chat model chosen in Settings
          model: {},
          ...(a?.redo ? { redo: true } : {}),
        }),
      ),
    'captions.pause': async () => {
      await engine.call('captionsPause');
      return null;
    },
    'captions.resume': async () => {
      await engine.call('captionsResume');
      return null;
    },
    'captions.cancel': async () => {
      await engine.call('captionsCancel');
      return null;
    },
    'captions.status': async () => {
      const p = await engine.call('captionsStatus');
      return p ? captionProgressView(p) : null;
    },
    'captions.set': async (a) => caption(await engine.call('captionsSet', { photoId: a.photoId, text: a.text })),
    'ask.short': async (a) => {
      const r = await engine.call('askShort', { image: imageArg(a.image), question: a.question, model: {} });
      // a short answer (the default of askShort) is never 'free'
      return { answer: r.answer, kind: r.kind === 'free' ? 'phrase' : r.kind };
    },
    'look.caption': async (a) => {
      const r = await engine.call('captionImage', { image: imageArg(a.image), model: {} });
      return { text: r.text };
    },
    'look.classify': async (a) => {
      const r = await engine.call('look', { image: a.image.bytes, labels: a.labels });
      return {
        tags: r.tags.map((t) => ({ name: t.name, score: t.score, margin: t.margin })),
        // the engine's order, untouched: the window sorts for its chart, the numbers stay the engine's
        labels: r.labels.map((l) => ({ label: l.label, probability: l.probability })),
      };
    },
    'tags.add': (a) => engine.call('tagsAdd', a),
    'tags.remove': (a) => engine.call('tagsRemove', a),
    'tags.rename': (a) => engine.call('tagsRename', a),
    'tags.setThreshold': (a) => engine.call('tagsSetThreshold', a),
    'tags.exportXmp': (a) => engine.call('tagsExportXmp', a?.folderId ? { folderId: a.folderId } : {}),
    'tags.vocabulary': async () => {
      const v = await engine.call('tagsVocabulary');
      const categories = new Map<string, VocabularyCategoryView>();
      for (const l of v.labels) {
        const c = categories.get(l.category) ?? { name: l.category, labels: [] };
        categories.set(l.category, c);
        c.labels.push({
          name: l.name,
          prompts: l.prompts,
          ...(l.threshold !== undefined ? { threshold: l.threshold } : {}),
        });
      }
      return { categories: [...categories.values()], neutral: v.neutral, custom: v.custom };
    },
    'tags.setVocabulary': (a) => engine.call('tagsSetVocabulary', { vocabulary: { version: 1, ...a } }),
    'tags.resetVocabulary': () => engine.call('tagsResetVocabulary'),
    'chat.list': () => engine.call('chatList'),
    'chat.get': async (a) => {
      const c = await engine.call('chatGet', { id: a.conversationId });
      return {
        id: c.id,
        title: c.title,
        systemPrompt: c.systemPrompt,
        model: c.model,
        messages: c.messages.map(message),
      };
    },
    'chat.create': async (a) => {
      const c = await engine.call('chatCreate', a?.systemPrompt ? { systemPrompt: a.systemPrompt } : {});
      return { id: c.id, title: c.title, systemPrompt: c.systemPrompt, model: c.model, messages: [] };
    },
    'chat.delete': (a) => engine.call('chatDelete', { id: a.conversationId }),
    'chat.send': async (a) =>
      message(
        await engine.call('chatSend', {
          conversationId: a.conversationId,
          text: a.text,
          images: (a.images ?? []).map(imageArg),
          model: model(a.model),
        }),
      ),
    'chat.stop': (a) => engine.call('chatStop', a),
    'chat.regenerate': async (a) =>
      message(await engine.call('chatRegenerate', { conversationId: a.conversationId, model: model(a.model) })),
    'chat.edit': async (a) =>
      message(
        await engine.call('chatEdit', {
          conversationId: a.conversationId,
          messageId: a.messageId,
          text: a.text,
          model: model(a.model),
        }),
      ),
    'models.list': async () =>
      (await engine.call('modelsList')).map((m) => ({
        id: m.entry.id,
        kind: m.entry.kind,
        name: m.entry.name,
        goodAt: m.entry.goodAt,
        licence: m.entry.licence,
        licenceNote: m.entry.licenceNote,
        size: m.size,
        installed: m.installed,
        readsText: m.entry.kind === 'chat' ? m.entry.readsText : false,
        languages: m.entry.kind === 'text' ? [...m.entry.languages] : [],
      })),
    'models.download': async (a) => {
      await engine.call('modelsDownload', a);
      return null;
    },
    'models.cancel': (a) => engine.call('modelsCancel', a),
    'models.remove': (a) => engine.call('modelsRemove', a),
    'models.verify': (a) => engine.call('modelsVerify', a),
    'settings.get': settings,
    'settings.set': async (a) => {
      if (a.hotkey && deps.applyHotkey) {
        const refused = deps.applyHotkey(a.hotkey);
        if (refused) throw Object.assign(new Error(refused), { code: 'hotkey-refused' });
      }
      await engine.call('settingsSet', a);
      return settings();
    },
    'api.status': () => engine.call('apiStatus'),
    'engine.status': () => engine.state(),
    'engine.runtime': async () => {
      const [backends, info] = await Promise.all([engine.call('backends'), engine.call('modelInfo')]);
      return {
        backends,
        chat: info
          ? {
              backend: info.backend,
              device: info.device,
              gpuLayers: info.gpuLayers,
              chatTemplate: info.chatTemplate,
              notes: info.notes,
            }
          : null,
      };
    },
    'capture.start': () => {
      deps.capture.start();
      return null;
    },
    'capture.frame': () => deps.capture.frame(),
    'capture.select': async (a) => {
      await deps.capture.select(a.rect);
      return null;
    },
    'capture.cancel': () => {
      deps.capture.cancel();
      return null;
    },
    'ask.context': () => deps.capture.askContext(),
    'ask.send': (a) => deps.capture.askSend(a.text, a.model),
    'ask.continueInChat': () => deps.capture.continueInChat(),
  };

  return {
    handlers,
    resolveThumbnail: (photoId: number) => engine.call('libThumbnail', { photoId }),
    resolveAttachment: (hash: string) => engine.call('chatAttachment', { hash }),
  };
}
