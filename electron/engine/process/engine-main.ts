// The engine process: models and the database live here, away from the window and the CLI, so that a crash in
// native code (llama.cpp segfaults on some malformed files) costs a restart, not the app. Started by
// EngineSupervisor with child_process.fork (Electron's utilityProcess in the desktop app); talks birpc over the
// process message channel. Services start on first use: a window that only chats never loads CLIP.
import path from 'node:path';
import { createBirpc } from 'birpc';
import { CHAT_CATALOG } from '../../../native-models/catalog.ts';
import { candidateBackends } from '../../../native-models/llava/backend.ts';
import { checkPair } from '../../../native-models/llava/gguf-check.ts';
import { loadLlamaNodeChat } from '../../../native-models/llava/llama-node.ts';
import { fail, ok, type Result } from '../../ipc/result.ts';
import { type ApiConfig, apiConfigFromEnv } from '../api/config.ts';
import { engineBackend } from '../api/engine-backend.ts';
import { type ApiServer, startApiServer } from '../api/server.ts';
import { apiToken, TOKEN_FILE } from '../api/token.ts';
import { captionImage } from '../captions/caption-job.ts';
import { type CaptionModel, CaptionRunner, captionPrompt } from '../captions/caption-runner.ts';
import { ChatService } from '../chat/chat-service.ts';
import { chooseChatModel, installedChatModels } from '../chat/model-choice.ts';
import { askShort } from '../chat/short-answer.ts';
import { clipOptions, savedClip } from '../clip-choice.ts';
import { openDatabase } from '../db/database.ts';
import type { IndexProgress } from '../library/indexer.ts';
import { Library } from '../library/library.ts';
import { LibraryStore } from '../library/store.ts';
import { ModelManager } from '../models/model-manager.ts';
import { glancePaths } from '../paths.ts';
import { chatLoadOptions, readSettings } from '../settings.ts';
import type { ApiStatus, EngineEvents, EngineMethods, ImageArg, ModelArg } from './contract.ts';
import { tokenStream } from './token-stream.ts';

/** Electron's utility process talks through process.parentPort; a Node fork through process.send. */
interface ParentPort {
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  postMessage(data: unknown): void;
}
const parentPort = (process as { parentPort?: ParentPort }).parentPort;

const home = process.env.GLANCE_HOME;
if (!home || (!process.send && !parentPort)) {
  console.error('the engine process is started by EngineSupervisor (GLANCE_HOME and an IPC channel are needed)');
  process.exit(2);
}
const paths = glancePaths(home);
const db = openDatabase(paths.db);
const settingsStore = new LibraryStore(db);
const models = new ModelManager(paths);
const downloads = new Map<string, AbortController>();

/** The settings, over the defaults; a damaged saved value comes with a notice instead of stopping the engine. */
const settings = () => readSettings(settingsStore, paths.db);

let library: Library | null = null;
/** The photo library, opened on first use with its own CLIP model (the one `glance models use` chose). */
function lib(): Library {
  library ??= Library.open({ home: paths.home, ...clipOptions(paths, savedClip(settingsStore)) });
  return library;
}

const chat = new ChatService({
  db,
  attachmentsDir: `${paths.home}/attachments`,
  // one-shot pictures (captions, short answers), normalised for llama.cpp and removed after their answer
  scratchDir: `${paths.home}/tmp/one-shot`,
  load: async (o) => {
    await checkPair(o.model, o.mmproj); // before anything native touches the files
    return loadLlamaNodeChat(o);
  },
  onToken: (conversationId, token) => stream.push(conversationId, token),
});

/** The fast default for captions (the catalog's SmolVLM) when it is installed. */
const CAPTION_DEFAULT = 'smolvlm-500m';

/**
 * The model a caption job or a one-off caption runs: explicit files (the CLI: stored under `label`, the catalog id it
 * resolved, or the file's name); else the catalog id given, else SmolVLM when installed, else the chat model of
 * the settings.
 */
function captionModelFor(m: ModelArg, label?: string): CaptionModel {
  if ('model' in m) {
    const id = label ?? path.basename(m.model);
    return { load: m, id, catalog: CHAT_CATALOG.some((e) => e.id === id) };
  }
  const s = settings().settings;
  const installed = installedChatModels(paths).map((e) => e.id);
  const id = m.catalogId ?? (installed.includes(CAPTION_DEFAULT) ? CAPTION_DEFAULT : (s.chatModel ?? undefined));
  const { label: chosen, ...load } = chooseChatModel(
    paths,
    { ...(id ? { model: id } : {}), ...(s.gpuLayers !== 'auto' ? { gpuLayers: s.gpuLayers } : {}) },
    CAPTION_DEFAULT,
  );
  return { load: { ...load, ...(s.threads ? { threads: s.threads } : {}) }, id: chosen, catalog: true };
}

const captions = new CaptionRunner({
  library: lib,
  store: settingsStore,
  chat,
  onProgress: (p) => void rpc.captionsProgress.asEvent(p),
  onPhoto: (e) => void rpc.captionsPhoto.asEvent(e),
});

/**
 * With the setting on (off by default: on CPU a caption takes seconds a photo), photos an index run added are
 * captioned after it, in the background, unless a caption job is already running. Without an installed chat model
 * nothing starts; the window's Describe control says why when the person asks.
 */
function captionNewPhotos(r: IndexProgress): void {
  if (!settings().settings.captionNewPhotos || r.indexed === 0) return;
  const running = captions.status();
  if (running && (running.state === 'running' || running.state === 'paused')) return;
  if (installedChatModels(paths).length === 0) return;
  void captions.start({ model: captionModelFor({}) }).catch(() => {});
}

/** `glance serve` passes its API in GLANCE_API (a restarted engine serves again as before); else the settings'. */
const serveApi = apiConfigFromEnv(process.env.GLANCE_API);

function wantedApi(): ApiConfig | null {
  if (serveApi) return serveApi;
  const s = settings().settings;
  return s.localApi ? { port: s.localApiPort, origins: s.localApiOrigins } : null;
}

/** The chat models an API request may name: installed catalog models, and the files `serve` was given. */
function apiChatModels() {
  const s = settings().settings;
  const models = new Map(installedChatModels(paths).map((e) => [e.id, chatLoadOptions(paths, s, e.id)] as const));
  const chosen = serveApi?.chat;
  if (chosen && 'label' in chosen) {
    const { label, ...files } = chosen;
    models.set(label, { ...files, ...(s.threads ? { threads: s.threads } : {}) });
  }
  return models;
}

let api: { server: ApiServer; key: string; token: string } | null = null;
let apiError: string | null = null;
/** Starts and stops run one after another: settings saved twice quickly never leave two servers. */
let apiChange: Promise<void> = Promise.resolve();

/** Runs the API the settings (or `serve`) ask for: started, stopped, or restarted on another port. */
function reconcileApi(): Promise<void> {
  apiChange = apiChange.then(async () => {
    const want = wantedApi();
    const key = JSON.stringify(want);
    if (api?.key === key) return;
    if (api) await api.server.close();
    api = null;
    apiError = null;
    if (!want) return;
    try {
      const { token } = await apiToken(paths.home);
      const chosen = want.chat;
      const server = await startApiServer({
        port: want.port,
        token,
        allowedOrigins: want.origins ?? [],
        backend: engineBackend({
          chat,
          library: lib,
          chatModels: apiChatModels,
          searchLanguage: () => settings().settings.searchLanguage,
          defaultChat: () =>
            chosen ? ('label' in chosen ? chosen.label : chosen.catalogId) : settings().settings.chatModel,
          ...(want.clipDir ? { clipDir: want.clipDir } : {}),
        }),
      });
      api = { server, key, token };
    } catch (err) {
      apiError = (err as Error).message;
    }
  });
  return apiChange;
}

async function apiStatus(): Promise<ApiStatus> {
  await apiChange;
  return {
    enabled: wantedApi() !== null,
    running: api !== null,
    url: api?.server.url ?? null,
    port: api?.server.port ?? null,
    token: api?.token ?? null,
    tokenFile: path.join(paths.home, TOKEN_FILE),
    error: apiError,
    requests: chat.pending(),
  };
}

/** An image argument as the chat service takes it: a path or bytes (a library photo by its file). */
function imageFor(image: ImageArg) {
  return imagesFor([image])[0]!;
}

/** Explicit files as given; a catalog model with the threads and GPU layers of the settings as they are now. */
function modelFor(m: ModelArg) {
  if ('model' in m) return m;
  return chatLoadOptions(paths, settings().settings, m.catalogId);
}

function imagesFor(images: ImageArg[] = []) {
  return images.map((i) => {
    if (typeof i === 'string' || i instanceof Uint8Array) return i;
    const detail = lib().photoDetail(i.photoId);
    return detail.row.path;
  });
}

/** Runs a service call and turns any failure into a Result with the error's own code. */
async function result<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return ok(await fn());
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e?.code === 'string' ? e.code : 'internal';
    return fail(code, typeof e?.message === 'string' ? e.message : String(err));
  }
}

/** A call whose only answer is that it happened. */
const done = (fn: () => unknown) =>
  result(() => {
    fn();
    return null;
  });

/** A turn's reply, sent after the last of its tokens. */
const answer = <T>(conversationId: number, fn: () => Promise<T>) =>
  result(async () => {
    try {
      return await fn();
    } finally {
      stream.drain(conversationId);
    }
  });

/**
 * The duplicates search running now. One at a time: a newer request cancels the older (the person changed the
 * threshold, or a reloaded window asked again: a refusal would keep it waiting on a search it can no longer see
 * or cancel), so two never compete for the CPU. The window itself asks again only after its last search ended.
 */
let duplicatesJob: AbortController | null = null;
/** Progress events of a duplicates search at most this often (the first and the last always). */
const DUPLICATES_PROGRESS_MS = 100;

function findDuplicates(threshold: number) {
  return result(async () => {
    duplicatesJob?.abort();
    const job = new AbortController();
    duplicatesJob = job;
    let last = Number.NEGATIVE_INFINITY;
    const progress = (done: number, total: number) => {
      if (job.signal.aborted) return; // a cancelled or replaced search says nothing more
      const now = performance.now();
      if (done < total && now - last < DUPLICATES_PROGRESS_MS) return;
      last = now;
      void rpc.duplicatesProgress.asEvent({ done, total });
    };
    try {
      return await lib().duplicates(threshold, progress, job.signal);
    } catch (err) {
      // DuplicatesCancelled ("finding duplicates was cancelled"): the person asked for it, so a code the window
      // can tell from a failure; the library closing (shutdown) cancels the same way.
      if ((err as Error)?.name === 'AbortError') {
        throw Object.assign(new Error((err as Error).message), { code: 'cancelled' });
      }
      throw err;
    } finally {
      if (duplicatesJob === job) duplicatesJob = null;
    }
  });
}

const methods: EngineMethods = {
  ping: () => result(() => ({ pid: process.pid })),
  // chat
  chatCreate: (a) => result(() => chat.create(a)),
  chatList: () => result(() => chat.list()),
  chatGet: (a) => result(() => chat.get(a.id)),
  chatDelete: (a) =>
    result(async () => {
      await chat.delete(a.id);
      return null;
    }),
  chatSend: (a) =>
    answer(a.conversationId, () =>
      chat.send(a.conversationId, { text: a.text, images: imagesFor(a.images) }, modelFor(a.model), a.options ?? {}),
    ),
  chatRegenerate: (a) =>
    answer(a.conversationId, () => chat.regenerate(a.conversationId, modelFor(a.model), a.options ?? {})),
  chatEdit: (a) =>
    answer(a.conversationId, () =>
      chat.editAndResend(a.conversationId, a.messageId, a.text, modelFor(a.model), a.options ?? {}),
    ),
  chatStop: (a) => result(() => chat.stop(a.conversationId)),
  chatAttachment: (a) => result(() => chat.attachmentFile(a.hash) ?? null),
  modelInfo: () => result(() => chat.info()),
  backends: () => result(() => candidateBackends()),
  // library
  libFolders: () => result(() => lib().folderUsage()),
  libAddFolder: (a) =>
    result(async () => {
      const row = await lib().addFolder(a.path);
      return lib()
        .folders()
        .find((f) => f.id === row.id)!;
    }),
  libRemoveFolder: (a) =>
    result(() => {
      const folder = lib()
        .folders()
        .find((f) => f.id === a.folderId);
      if (!folder) throw Object.assign(new Error(`there is no folder ${a.folderId}`), { code: 'not-found' });
      return lib().removeFolder(folder.path);
    }),
  libIndex: () =>
    result(async () => {
      const r = await lib().indexFolders(undefined, (p) => void rpc.libraryProgress.asEvent(p));
      captionNewPhotos(r);
      return r;
    }),
  libPause: () => done(() => lib().pauseIndexing()),
  libResume: () => done(() => lib().resumeIndexing()),
  libCancel: () => done(() => lib().cancelIndexing()),
  libErrors: () => result(() => lib().errors()),
  libPhoto: (a) => result(() => lib().photoDetail(a.photoId)),
  libSearch: (a) =>
    result(() => {
      const folder = a.folderId
        ? lib()
            .folders()
            .find((f) => f.id === a.folderId)?.path
        : undefined;
      if (a.folderId && !folder)
        throw Object.assign(new Error(`there is no folder ${a.folderId}`), { code: 'not-found' });
      return lib().search({
        ...(a.text ? { text: a.text } : {}),
        ...(a.likePhotoId ? { like: { id: a.likePhotoId } } : a.likeImage ? { like: { bytes: a.likeImage } } : {}),
        ...(a.tags ? { tags: a.tags } : {}),
        ...(folder ? { folder } : {}),
        ...(a.from !== undefined ? { from: a.from } : {}),
        ...(a.to !== undefined ? { to: a.to } : {}),
        ...(a.limit ? { limit: a.limit } : {}),
        lang: a.lang ?? settings().settings.searchLanguage,
      });
    }),
  libDuplicates: (a) => findDuplicates(a.threshold),
  libDuplicatesCancel: () =>
    result(() => {
      const job = duplicatesJob;
      job?.abort();
      return job !== null;
    }),
  libThumbnail: (a) => result(() => lib().thumbnailOf(a.photoId)),
  tagsAdd: (a) => done(() => lib().addTag(a.photoId, a.tag)),
  tagsRemove: (a) => done(() => lib().removeTag(a.photoId, a.tag)),
  tagsRename: (a) => result(() => lib().renameTag(a.from, a.to)),
  tagsThreshold: () => result(() => lib().threshold()),
  tagsSetThreshold: (a) => done(() => lib().setThreshold(a.value)),
  tagsExportXmp: (a) =>
    result(async () => {
      // by id: an unknown folder is refused ('folder-missing'), never widened to the whole library
      const r = await lib().exportXmp(a.folderId);
      return {
        photos: r.photos,
        written: r.written.filter((w) => w.created || w.added.length > 0 || w.description !== undefined).length,
        failed: r.failed,
      };
    }),
  tagsVocabulary: () =>
    result(async () => {
      const v = await lib().vocabulary();
      return { labels: v.labels, neutral: v.neutral, custom: lib().customVocabulary() };
    }),
  tagsSetVocabulary: (a) => result(() => lib().setVocabulary(a.vocabulary)),
  tagsResetVocabulary: () => result(() => lib().resetVocabulary()),
  // captions and short answers
  captionsStart: (a) =>
    result(() =>
      captions.start({
        model: captionModelFor(a.model, a.label),
        ...(a.folders ? { folders: a.folders } : {}),
        ...(a.folderIds ? { folderIds: a.folderIds } : {}),
        ...(a.redo ? { redo: true } : {}),
      }),
    ),
  captionsPause: () => result(() => captions.pause()),
  captionsResume: () => result(() => captions.resume()),
  captionsCancel: () => result(() => captions.cancel()),
  captionsStatus: () => result(() => captions.status()),
  captionsSet: (a) => result(() => lib().setPersonCaption(a.photoId, a.text)),
  askShort: (a) =>
    result(async () => {
      const image = imageFor(a.image);
      const model = modelFor(a.model);
      if (a.short ?? true) return askShort(chat, { image, question: a.question, model });
      const r = await chat.oneShot({ image, prompt: a.question, model, options: a.options ?? {} });
      return { answer: r.text.trim(), kind: 'free' as const };
    }),
  captionImage: (a) =>
    result(async () => {
      const m = captionModelFor(a.model);
      const text = await captionImage(chat, {
        image: imageFor(a.image),
        model: m.load,
        prompt: await captionPrompt(m),
      });
      return { text, model: m.id };
    }),
  look: (a) => result(() => lib().look(a.image, a.labels)),
  // models and settings
  modelsList: () => result(() => models.list()),
  modelsDownload: (a) =>
    result(async () => {
      if (downloads.has(a.id)) throw Object.assign(new Error(`${a.id} is already downloading`), { code: 'busy' });
      const abort = new AbortController();
      downloads.set(a.id, abort);
      try {
        return await models.download(a.id, {
          signal: abort.signal,
          onProgress: (p) => void rpc.modelsProgress.asEvent({ id: a.id, ...p }),
        });
      } finally {
        downloads.delete(a.id);
      }
    }),
  modelsCancel: (a) =>
    result(() => {
      const d = downloads.get(a.id);
      d?.abort();
      return d !== undefined;
    }),
  modelsRemove: (a) => result(() => models.remove(a.id)),
  modelsVerify: (a) => result(() => models.verify(a.id)),
  settingsGet: () =>
    result(() => {
      const s = settings();
      return { ...s.settings, ...(s.notice ? { notice: s.notice } : {}) };
    }),
  settingsSet: (a) =>
    result(() => {
      const next = { ...settings().settings, ...a };
      settingsStore.setSetting('app_settings', JSON.stringify(next));
      void reconcileApi();
      return next;
    }),
  apiStatus: () => result(apiStatus),
  shutdown: () =>
    result(async () => {
      for (const d of downloads.values()) d.abort();
      duplicatesJob?.abort();
      captions.cancel();
      await api?.server.close();
      library?.close();
      await chat.close();
      db.close();
      setImmediate(() => process.exit(0));
      return null;
    }),
};

const rpc = createBirpc<EngineEvents, EngineMethods>(methods, {
  post: (data) => (parentPort ? parentPort.postMessage(data) : process.send?.(data)),
  on: (fn) => (parentPort ? parentPort.on('message', (e) => fn(e.data)) : process.on('message', fn)),
  timeout: -1,
});

const stream = tokenStream((e) => void rpc.chatToken.asEvent(e));

// The parent went away (killed, crashed): nobody is left to serve. (A utility process ends with its parent.)
if (!parentPort) process.on('disconnect', () => process.exit(0));

// The local API, when the settings or `glance serve` ask for it (a port in use is reported by apiStatus).
void reconcileApi();
