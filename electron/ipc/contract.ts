// The one contract between the window and the app: every channel the renderer may call, the schema its argument
// must pass (checked in the main process; the renderer is not trusted), and the events the app pushes. It is the
// table of contents of the app. Pure TypeScript and valibot: no Node, no Electron.
//
// Rule: nothing here carries a file path from the renderer. Photos are ids, images are bytes (dropped or pasted)
// or library photo ids, folders are chosen in a native dialog by the main process, models are catalog ids.
import * as v from 'valibot';
import { acceleratorProblem } from '../../common/accelerator.ts';
import { isWebOrigin, LOCAL_API_LIMITS } from '../../common/local-api.ts';
import type { ErrorInfo, Result } from './result.ts';

const id = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER));
const text = (max: number) => v.pipe(v.string(), v.maxLength(max));
const tag = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(100));
const catalogId = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.-]{0,63}$/));
const time = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(8.64e15));
const MAX_IMAGE_BYTES = 64 * 1024 * 1024;
/** An image's bytes, from a drop, a paste or the file picker. */
const imageBytes = v.strictObject({
  bytes: v.pipe(
    v.instance(Uint8Array),
    v.check((b) => b.byteLength > 0 && b.byteLength <= MAX_IMAGE_BYTES, 'an image of 1 byte to 64 MB'),
  ),
});
/** An image for chat: bytes from a drop, a paste or the file picker, or a photo of the library. */
export const imageRef = v.union([imageBytes, v.strictObject({ photoId: id })]);
const none = v.optional(v.strictObject({}));

// ---- results the renderer sees ----

export interface FolderView {
  id: number;
  path: string;
  photos: number;
  /** Bytes its photos' thumbnails and embeddings take in Glance's cache. */
  cacheBytes?: number;
}
export interface PhotoHit {
  id: number;
  name: string;
  score: number | null;
  takenAt: number | null;
  /** glance://thumb/<id>: served by the main process, by id only. */
  thumbnail: string;
}
export interface PhotoTagView {
  name: string;
  category: string | null;
  source: 'auto' | 'user' | 'removed';
  score: number | null;
}
export interface PhotoDetail {
  id: number;
  name: string;
  /** For display; never sent back. */
  path: string;
  width: number | null;
  height: number | null;
  takenAt: number | null;
  tags: PhotoTagView[];
  candidates: PhotoTagView[];
  /** The caption it shows (a person's own wins over a model's); null when it has none yet. */
  caption: CaptionView | null;
}
/** A photo's shown caption: the model that wrote it (or 'person'), when, and whether it is a person's own edit. */
export interface CaptionView {
  text: string;
  model: string;
  createdAt: number;
  /** A person wrote it: kept over every model caption, never overwritten by a job. */
  edited: boolean;
}
/** The caption job ("Describe photos"): its reply, its status and every `captions.progress` event. */
export interface CaptionProgressView {
  state: 'running' | 'paused' | 'done' | 'cancelled' | 'failed';
  done: number;
  total: number;
  /** Photos that could not be described (a broken file); the job went on without them. */
  failed: number;
  photosPerSecond: number;
  etaSeconds: number | null;
  /** The photo being described now. */
  current: { photoId: number; name: string } | null;
  model: string;
  /** Why the job stopped, when state is 'failed'. */
  error?: string;
  /** The photos that failed and why, when known. `path` is for display only. */
  failures?: { photoId?: number; name: string; path: string; message: string }[];
}
/** A short answer (VQA): one word or phrase; yes/no questions answer exactly 'yes' or 'no', numbers as digits. */
/** A short answer: exactly yes/no, digits, or a short phrase (the engine's grammar-constrained answer). */
export interface ShortAnswerView {
  answer: string;
  kind: 'yes-no' | 'number' | 'phrase';
}
/** "Look" at a dropped image: its vocabulary tags with margins, and the zero-shot probabilities of the labels. */
/** "Look" at one image: its vocabulary tags and zero-shot probabilities over typed labels. */
export interface LookView {
  /** `score`: the tagger's margin over saying nothing in particular; `margin`: score minus the label's threshold. */
  tags: { name: string; score: number; margin: number }[];
  /** In the order of the labels asked for, as the engine computed them; they sum to 1 (empty when none asked). */
  labels: { label: string; probability: number }[];
}
export interface IndexProgressView {
  phase: 'scanning' | 'indexing' | 'paused' | 'done' | 'cancelled';
  /** Files found by the scan so far. */
  found: number;
  /** Files that need work in this run (new, changed, moved). */
  total: number;
  done: number;
  unchanged: number;
  indexed: number;
  moved: number;
  removed: number;
  errors: number;
  filesPerSecond: number;
  etaSeconds: number | null;
  current: string | null;
}
export interface DuplicatesProgressView {
  done: number;
  total: number;
}
export interface MessageView {
  id: number;
  role: 'user' | 'assistant';
  text: string;
  /** glance://attachment/<hash> */
  images: { url: string; width: number; height: number }[];
  stats: {
    promptTokens: number;
    generatedTokens: number;
    tokensPerSecond: number;
    timeToFirstTokenMs: number;
    stopped?: boolean;
  } | null;
  createdAt: number;
}
export interface ConversationView {
  id: number;
  title: string;
  systemPrompt: string | null;
  model: string | null;
  messages: MessageView[];
}
export interface ConversationSummaryView {
  id: number;
  title: string;
  updatedAt: number;
  messages: number;
}
export interface ModelView {
  id: string;
  /** 'text': a text encoder searching a CLIP model's photos in other languages. */
  kind: 'clip' | 'chat' | 'text';
  name: string;
  goodAt: string;
  licence: string;
  /** What the licence means for a person choosing the model, in plain words (research only, ...); absent: no note. */
  licenceNote?: string;
  size: number;
  installed: boolean;
  readsText: boolean;
  /** The languages a text model reads (ISO 639-1 codes); empty for the others. */
  languages: string[];
}
/** A selection on the capture overlay, in the overlay's CSS pixels (its window covers one display exactly). */
export interface OverlayRect {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface CaptureFrameView {
  /** glance://capture/<id>: the frozen screen, served by id. */
  imageUrl: string;
  /** Physical pixels of the capture, and the display's scale factor (physical = CSS x scale). */
  width: number;
  height: number;
  scaleFactor: number;
}
export interface AskContextView {
  /** glance://capture/<id> of the cropped region. */
  imageUrl: string;
  width: number;
  height: number;
  /** Installed chat models, those that read text well first; the one that will answer. */
  models: { id: string; name: string; readsText: boolean; licenceNote?: string }[];
  model: string | null;
  conversationId: number | null;
}

export interface RuntimeView {
  /** Backends this machine offers, best first (always ends with 'cpu'). */
  backends: string[];
  /** What runs the loaded chat model, or null when none is loaded yet. */
  chat: { backend: string; device: string; gpuLayers: number; chatTemplate: string; notes: string[] } | null;
}
export interface EngineStatusView {
  state: 'starting' | 'ready' | 'restarting' | 'stopped';
  restarts: number;
  lastCrash?: string;
}
export interface VocabularyLabelView {
  name: string;
  prompts: string[];
  /** This label's own threshold; the global one when left out. */
  threshold?: number;
}
export interface VocabularyCategoryView {
  name: string;
  labels: VocabularyLabelView[];
}
export interface VocabularyEdit {
  categories: VocabularyCategoryView[];
  /** The prompts every label must beat ("a photo.", …). */
  neutral: string[];
}
export interface VocabularyView extends VocabularyEdit {
  /** The person's own vocabulary (false: the shipped default). */
  custom: boolean;
}
export const VOCABULARY_LIMITS = {
  labels: 5000,
  categories: 50,
  name: 100,
  prompts: 8,
  prompt: 300,
  neutral: 50,
} as const;
export interface SettingsView {
  hotkey: string;
  dataFolder: string;
  threads: number | null;
  gpuLayers: number | 'auto';
  chatModel: string | null;
  /** Describe photos as an index run adds them (off by default: slow on a CPU). */
  captionNewPhotos: boolean;
  /** The local OpenAI-compatible API (off by default): other apps on this computer may use Glance's models. */
  localApi: boolean;
  /** Its port on 127.0.0.1 (1024..65535). */
  localApiPort: number;
  /** Web origins (http://localhost:3000) whose pages may call it; none, the safe default, lets no web page in. */
  localApiOrigins: string[];
  /** Which text model reads a search: 'auto' sends other languages to the multilingual model when it is installed,
   * 'en' always CLIP (English), 'multi' always the multilingual model. */
  searchLanguage: 'auto' | 'en' | 'multi';
  tagThreshold: number;
  /** The saved settings could not all be read: what Glance did instead (defaults, a copy kept) and what to do. */
  notice?: string;
}

/** The local API as the engine runs it now (Settings shows its address and token when it runs). */
export interface ApiStatusView {
  /** Asked for: by the settings (or by `glance serve`). */
  enabled: boolean;
  running: boolean;
  /** The base URL clients use (http://127.0.0.1:PORT/v1), when running. */
  url: string | null;
  port: number | null;
  /** The bearer token clients send; null until the API has started once. */
  token: string | null;
  /** Where the token is kept, for apps that read it from a file. */
  tokenFile: string;
  /** Why it is not running when it should be (the port is taken, …). */
  error: string | null;
  /** Chat requests running or waiting for the model now, the window's and the API's together. */
  requests: number;
}

// ---- argument schemas ----

const folderArg = v.strictObject({ folderId: id });
const optionalFolderArg = v.optional(v.strictObject({ folderId: v.optional(id) }));
const photoArg = v.strictObject({ photoId: id });
const conversationArg = v.strictObject({ conversationId: id });
const searchArg = v.strictObject({
  text: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(1000))),
  likePhotoId: v.optional(id),
  likeImage: v.optional(
    v.pipe(
      v.instance(Uint8Array),
      v.check((b) => b.byteLength > 0 && b.byteLength <= MAX_IMAGE_BYTES),
    ),
  ),
  tags: v.optional(v.pipe(v.array(tag), v.maxLength(20))),
  folderId: v.optional(id),
  from: v.optional(time),
  to: v.optional(time),
  /** Up to 1000 ranked hits; listing without text or an example photo may ask for the whole library. */
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(200_000))),
});
const duplicatesArg = v.strictObject({ threshold: v.pipe(v.number(), v.minValue(0.5), v.maxValue(1)) });
const tagArg = v.strictObject({ photoId: id, tag });
const renameArg = v.strictObject({ from: tag, to: tag });
const thresholdArg = v.strictObject({ value: v.pipe(v.number(), v.minValue(0), v.maxValue(1)) });
const L = VOCABULARY_LIMITS;
const vocabName = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(L.name));
const prompt = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(L.prompt));
const vocabularyArg = v.strictObject({
  categories: v.pipe(
    v.array(
      v.strictObject({
        name: vocabName,
        labels: v.pipe(
          v.array(
            v.strictObject({
              name: vocabName,
              prompts: v.pipe(v.array(prompt), v.minLength(1), v.maxLength(L.prompts)),
              threshold: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
            }),
          ),
          v.maxLength(L.labels),
        ),
      }),
    ),
    v.minLength(1),
    v.maxLength(L.categories),
    v.check((cs) => cs.reduce((n, c) => n + c.labels.length, 0) <= L.labels, `at most ${L.labels} labels in all`),
  ),
  neutral: v.pipe(v.array(prompt), v.minLength(1), v.maxLength(L.neutral)),
});
const createArg = v.optional(v.strictObject({ systemPrompt: v.optional(text(4000)) }));
const modelChoice = v.optional(catalogId);
const sendArg = v.strictObject({
  conversationId: id,
  text: text(32_000),
  images: v.optional(v.pipe(v.array(imageRef), v.maxLength(8))),
  model: modelChoice,
});
const regenerateArg = v.strictObject({ conversationId: id, model: modelChoice });
const editArg = v.strictObject({ conversationId: id, messageId: id, text: text(32_000), model: modelChoice });
const modelArg = v.strictObject({ id: catalogId });
/** A web origin allowed to call the local API: scheme, host and port, no path (common/local-api.ts). */
const webOrigin = v.pipe(v.string(), v.check(isWebOrigin, 'an http(s) origin'));
const settingsArg = v.strictObject({
  /** A global shortcut is taken from every app: a modifier and one key, nothing typed, nothing the system keeps. */
  hotkey: v.optional(
    v.pipe(
      v.string(),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return;
        const problem = acceleratorProblem(dataset.value);
        if (problem) addIssue({ message: problem });
      }),
    ),
  ),
  threads: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(256)))),
  gpuLayers: v.optional(v.union([v.literal('auto'), v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(999))])),
  chatModel: v.optional(v.nullable(catalogId)),
  captionNewPhotos: v.optional(v.boolean()),
  localApi: v.optional(v.boolean()),
  localApiPort: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(LOCAL_API_LIMITS.minPort), v.maxValue(LOCAL_API_LIMITS.maxPort)),
  ),
  localApiOrigins: v.optional(v.pipe(v.array(webOrigin), v.maxLength(LOCAL_API_LIMITS.origins))),
  searchLanguage: v.optional(v.picklist(['auto', 'en', 'multi'])),
});

const pixels = v.pipe(v.number(), v.finite(), v.minValue(-1e5), v.maxValue(1e5));
const selectArg = v.strictObject({
  rect: v.nullable(
    v.strictObject({
      x: pixels,
      y: pixels,
      width: v.pipe(pixels, v.minValue(1)),
      height: v.pipe(pixels, v.minValue(1)),
    }),
  ),
});
const captionsStartArg = v.optional(
  v.strictObject({
    /** Only these library folders; all folders when left out. */
    folderIds: v.optional(v.pipe(v.array(id), v.minLength(1), v.maxLength(1000))),
    /** Describe again the photos this model described before (a person's own caption is kept). */
    redo: v.optional(v.boolean()),
  }),
);
/** '' (after trimming) removes the person's caption: the model's shows again. */
const captionSetArg = v.strictObject({ photoId: id, text: v.pipe(v.string(), v.trim(), v.maxLength(2000)) });
const shortArg = v.strictObject({
  image: imageRef,
  question: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(500)),
});
const lookImageArg = v.strictObject({ image: imageRef });
const lookLabel = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(100));
const lookClassifyArg = v.strictObject({
  /** Only bytes: "Look" is for an image that is not (yet) a library photo. */
  image: imageBytes,
  /** None: only the vocabulary tags. Each label once (compared without case). */
  labels: v.pipe(
    v.array(lookLabel),
    v.maxLength(20),
    v.check((ls) => new Set(ls.map((l) => l.toLowerCase())).size === ls.length, 'each label once'),
  ),
});
const askArg = v.strictObject({
  text: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(32_000)),
  model: modelChoice,
});

// ---- channels ----

/** A channel: the schema of its one argument, and (as a type only) what it returns. */
function channel<R>() {
  return <S extends v.GenericSchema>(schema: S) => ({ schema, result: undefined as unknown as R });
}

export const CHANNELS = {
  // library
  'library.folders': channel<FolderView[]>()(none),
  /** Opens the native folder picker in the main process; null when the user cancels. */
  'library.addFolder': channel<FolderView | null>()(none),
  'library.removeFolder': channel<number>()(folderArg),
  'library.index': channel<IndexProgressView>()(none),
  'library.pause': channel<null>()(none),
  'library.resume': channel<null>()(none),
  'library.cancel': channel<null>()(none),
  'library.errors': channel<{ path: string; code: string; message: string }[]>()(none),
  'library.photo': channel<PhotoDetail>()(photoArg),
  'library.search': channel<PhotoHit[]>()(searchArg),
  /**
   * Groups of near-duplicates; progress comes as `library.duplicatesProgress` events. One search runs at a time: a
   * newer one replaces (cancels) the one running, whose call then fails with code 'cancelled'.
   */
  'library.duplicates': channel<{ similarity: number; photos: PhotoHit[] }[]>()(duplicatesArg),
  /** Stops the duplicates search that is running (its call fails with code 'cancelled'); false when none was. */
  'library.cancelDuplicates': channel<boolean>()(none),
  // captions ("Describe photos"): one job at a time in the engine; progress comes as `captions.progress` events
  /** Starts describing photos (all folders, or `folderIds`) with the chat model chosen in Settings. */
  'captions.start': channel<CaptionProgressView>()(captionsStartArg),
  'captions.pause': channel<null>()(none),
  'captions.resume': channel<null>()(none),
  'captions.cancel': channel<null>()(none),
  /** The running or last job; null when none ran since the engine started. */
  'captions.status': channel<CaptionProgressView | null>()(none),
  /** A person's own caption for a photo; '' restores the model's. Returns the caption the photo now shows. */
  'captions.set': channel<CaptionView | null>()(captionSetArg),
  /** A short answer about one image (a library photo or bytes), with the chat model chosen in Settings. */
  'ask.short': channel<ShortAnswerView>()(shortArg),
  // "Look": one image dropped, pasted or picked (not a library photo)
  /** One sentence describing the image. */
  'look.caption': channel<{ text: string }>()(lookImageArg),
  /** Its vocabulary tags with margins, and zero-shot probabilities for the labels typed. */
  'look.classify': channel<LookView>()(lookClassifyArg),
  // tags
  'tags.add': channel<null>()(tagArg),
  'tags.remove': channel<null>()(tagArg),
  'tags.rename': channel<boolean>()(renameArg),
  'tags.setThreshold': channel<null>()(thresholdArg),
  /** `failed`: photos whose sidecar could not be written (a malformed one is left untouched); the rest went on. */
  'tags.exportXmp': channel<{
    photos: number;
    written: number;
    failed?: { photo: string; sidecar: string | null; message: string }[];
  }>()(optionalFolderArg),
  /** The tag vocabulary in use. */
  'tags.vocabulary': channel<VocabularyView>()(none),
  /** Saves the person's vocabulary; photos are re-tagged from stored embeddings at once (`retagged` of them). */
  'tags.setVocabulary': channel<{ labels: number; retagged: number }>()(vocabularyArg),
  /** Back to the shipped vocabulary, re-tagging likewise. */
  'tags.resetVocabulary': channel<{ labels: number; retagged: number }>()(none),
  // chat
  'chat.list': channel<ConversationSummaryView[]>()(none),
  'chat.get': channel<ConversationView>()(conversationArg),
  'chat.create': channel<ConversationView>()(createArg),
  'chat.delete': channel<null>()(conversationArg),
  'chat.send': channel<MessageView>()(sendArg),
  'chat.stop': channel<boolean>()(conversationArg),
  'chat.regenerate': channel<MessageView>()(regenerateArg),
  'chat.edit': channel<MessageView>()(editArg),
  // models
  'models.list': channel<ModelView[]>()(none),
  'models.download': channel<null>()(modelArg),
  'models.cancel': channel<boolean>()(modelArg),
  'models.remove': channel<boolean>()(modelArg),
  'models.verify': channel<{ file: string; ok: boolean; reason?: string }[]>()(modelArg),
  // settings
  'settings.get': channel<SettingsView>()(none),
  'settings.set': channel<SettingsView>()(settingsArg),
  // the local OpenAI-compatible API: started, stopped or moved by settings.set
  /** Whether it runs, its address and token, and why not when it should. */
  'api.status': channel<ApiStatusView>()(none),
  // engine
  'engine.status': channel<EngineStatusView>()(none),
  /** The hardware found and what runs the loaded chat model. */
  'engine.runtime': channel<RuntimeView>()(none),
  // screenshot-and-ask: the flow itself lives in the main process
  'capture.start': channel<null>()(none),
  /** The overlay asks for the frozen screen it shows. */
  'capture.frame': channel<CaptureFrameView | null>()(none),
  /** The overlay's answer: the selected region (Enter with no selection sends the whole display). */
  'capture.select': channel<null>()(selectArg),
  'capture.cancel': channel<null>()(none),
  /** The ask window asks what it is about. */
  'ask.context': channel<AskContextView | null>()(none),
  /** A question about the captured region; the answer streams as chat.token events. */
  'ask.send': channel<MessageView>()(askArg),
  /** Moves the exchange (image included) into the main window's chat. */
  'ask.continueInChat': channel<{ conversationId: number } | null>()(none),
} as const;

export type Channel = keyof typeof CHANNELS;
export type ChannelArg<C extends Channel> = v.InferInput<(typeof CHANNELS)[C]['schema']>;
export type ChannelResult<C extends Channel> = (typeof CHANNELS)[C]['result'];

/** Events the app pushes to the window. */
export interface AppEvents {
  'library.progress': IndexProgressView;
  /** The running duplicates search: `done` of `total` steps (a few a second at most, and the last). */
  'library.duplicatesProgress': DuplicatesProgressView;
  'chat.token': { conversationId: number; token: string; count: number };
  'models.progress': {
    id: string;
    file: string;
    received: number;
    total: number;
    bytesPerSecond: number;
    etaSeconds: number | null;
  };
  'engine.status': EngineStatusView;
  /** Show this conversation in the main window's chat ("Continue in chat" from the ask window). */
  'chat.open': { conversationId: number };
  /** The caption job: after each photo (a few a second at most) and at every change of state. */
  'captions.progress': CaptionProgressView;
}
export type AppEvent = keyof AppEvents;
export const EVENTS: readonly AppEvent[] = [
  'library.progress',
  'library.duplicatesProgress',
  'chat.token',
  'models.progress',
  'engine.status',
  'chat.open',
  'captions.progress',
];

/** The IPC channel name on the wire: every channel and event lives under one prefix. */
export const wire = (name: Channel | AppEvent) => `glance:${name}`;

/** What window.glance looks like: one function per channel, one subscription per event. */
export type GlanceApi = {
  [C in Channel]: (arg: ChannelArg<C>) => Promise<Result<ChannelResult<C>>>;
} & {
  on<E extends AppEvent>(event: E, listener: (payload: AppEvents[E]) => void): () => void;
};

export type { ErrorInfo, Result };
