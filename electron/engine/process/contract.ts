// The engine process's RPC contract: what its caller (the CLI, Electron's main process) may call, and the events the
// engine pushes back. Every reply is a Result; the supervisor turns failures into EngineError. Paths appear here
// because both callers are trusted: the main process never passes on a path that came from the renderer.

import type { BackendInfo, VisionChatLoadOptions } from '../../../native-models/llava/vision-chat.ts';
import type { ApiStatusView, AppEvents } from '../../ipc/contract.ts';
import type { Result } from '../../ipc/result.ts';
import type { CaptionProgress } from '../captions/caption-job.ts';
import type { Conversation, ConversationSummary, Message, SendOptions } from '../chat/chat-service.ts';
import type { ShortKind } from '../chat/short-answer.ts';
import type { ShownCaption } from '../library/captions.ts';
import type { IndexProgress } from '../library/indexer.ts';
import type { FolderInfo, FolderUsage, LookResult, SearchHit, XmpFailure } from '../library/library.ts';
import type { PhotoRow, PhotoTag } from '../library/store.ts';
import type { VocabularyLabel } from '../library/vocabulary.ts';
import type { Manifest, ModelStatus } from '../models/model-manager.ts';

/** Images cross the process boundary once: a path the engine may read, bytes, or a library photo. */
export type ImageArg = string | Uint8Array | { photoId: number };

/** Explicit files (the CLI), or a catalog model by id (the window); no id: the one chosen in settings. */
export type ModelArg = VisionChatLoadOptions | { catalogId?: string };

export interface EngineSettings {
  hotkey: string;
  threads: number | null;
  gpuLayers: number | 'auto';
  chatModel: string | null;
  /** Caption photos as they are indexed (off by default: slow on CPU). */
  captionNewPhotos: boolean;
  /** The local OpenAI-compatible API (off by default), its port, and the web origins allowed to call it (none). */
  localApi: boolean;
  localApiPort: number;
  localApiOrigins: string[];
  /** Which text encoder reads search queries: 'auto' (other languages to the multilingual model when installed). */
  searchLanguage: 'auto' | 'en' | 'multi';
}

/** The local API as the engine runs it now: the IPC contract's view, which main passes on as it is. */
export type ApiStatus = ApiStatusView;

export interface EngineSearch {
  text?: string;
  likePhotoId?: number;
  likeImage?: Uint8Array;
  tags?: string[];
  folderId?: number;
  from?: number;
  to?: number;
  limit?: number;
  /** Default: the settings' searchLanguage. */
  lang?: 'auto' | 'en' | 'multi';
}

type R<T> = Promise<Result<T>>;

export interface EngineMethods {
  ping(): R<{ pid: number }>;
  // chat
  chatCreate(args: { systemPrompt?: string; title?: string }): R<Conversation>;
  chatList(): R<ConversationSummary[]>;
  chatGet(args: { id: number }): R<Conversation>;
  chatDelete(args: { id: number }): R<null>;
  chatSend(args: {
    conversationId: number;
    text: string;
    images?: ImageArg[];
    model: ModelArg;
    options?: SendOptions;
  }): R<Message>;
  chatRegenerate(args: { conversationId: number; model: ModelArg; options?: SendOptions }): R<Message>;
  chatEdit(args: {
    conversationId: number;
    messageId: number;
    text: string;
    model: ModelArg;
    options?: SendOptions;
  }): R<Message>;
  chatStop(args: { conversationId: number }): R<boolean>;
  chatAttachment(args: { hash: string }): R<string | null>;
  modelInfo(): R<BackendInfo | null>;
  /** The backends this machine offers, best first. */
  backends(): R<string[]>;
  // library
  libFolders(): R<FolderUsage[]>;
  libAddFolder(args: { path: string }): R<FolderInfo>;
  libRemoveFolder(args: { folderId: number }): R<number>;
  libIndex(): R<IndexProgress>;
  libPause(): R<null>;
  libResume(): R<null>;
  libCancel(): R<null>;
  libErrors(): R<{ path: string; code: string; message: string }[]>;
  libPhoto(args: {
    photoId: number;
  }): R<{ row: PhotoRow; tags: PhotoTag[]; candidates: PhotoTag[]; caption: ShownCaption | null }>;
  libSearch(args: EngineSearch): R<SearchHit[]>;
  /**
   * Progress as duplicatesProgress events; one search at a time: a newer call cancels the one running. A cancelled
   * search fails with code 'cancelled' ("finding duplicates was cancelled").
   */
  libDuplicates(args: { threshold: number }): R<{ photos: SearchHit[]; similarity: number }[]>;
  /** Cancels the running duplicates search; false when none was running. */
  libDuplicatesCancel(): R<boolean>;
  libThumbnail(args: { photoId: number }): R<string | null>;
  tagsAdd(args: { photoId: number; tag: string }): R<null>;
  tagsRemove(args: { photoId: number; tag: string }): R<null>;
  tagsRename(args: { from: string; to: string }): R<boolean>;
  tagsThreshold(): R<number>;
  tagsSetThreshold(args: { value: number }): R<null>;
  tagsExportXmp(args: { folderId?: number }): R<{ photos: number; written: number; failed: XmpFailure[] }>;
  /** The vocabulary in use, and whether it is the person's own (not the shipped default). */
  tagsVocabulary(): R<{ labels: VocabularyLabel[]; neutral: string[]; custom: boolean }>;
  /** Saves the person's vocabulary and re-tags from stored embeddings; `retagged`: how many photos. */
  tagsSetVocabulary(args: { vocabulary: unknown }): R<{ labels: number; retagged: number }>;
  tagsResetVocabulary(): R<{ labels: number; retagged: number }>;
  // captions and short answers
  /**
   * Starts captioning the photos without a caption by the model (library folders by path from the CLI, by id from
   * the window; all when neither), one at a time behind interactive requests. Progress as captionsProgress events,
   * each photo as a captionsPhoto event. A job already running is refused ('busy').
   */
  captionsStart(args: {
    folders?: string[];
    folderIds?: number[];
    model: ModelArg;
    /** The id captions are stored under for explicit files (default: the model file's name). */
    label?: string;
    redo?: boolean;
  }): R<CaptionProgress>;
  captionsPause(): R<CaptionProgress | null>;
  captionsResume(): R<CaptionProgress | null>;
  captionsCancel(): R<CaptionProgress | null>;
  /** The running or last job's progress; null when none ran since the engine started. */
  captionsStatus(): R<CaptionProgress | null>;
  /** A person's own caption ('' removes it: the model's shows again). */
  captionsSet(args: { photoId: number; text: string }): R<ShownCaption | null>;
  /**
   * One question about one image, answered on its own (no conversation). `short` (default): as a VQA model answers,
   * under a grammar (exactly yes/no, digits, or a short phrase); otherwise a free answer.
   */
  askShort(args: {
    image: ImageArg;
    question: string;
    model: ModelArg;
    short?: boolean;
    options?: SendOptions;
  }): R<{ answer: string; kind: ShortKind | 'free' }>;
  /** A caption for one image (not stored), with the model's caption prompt. */
  captionImage(args: { image: ImageArg; model: ModelArg }): R<{ text: string; model: string }>;
  /** Look: an image's vocabulary tags with margins and zero-shot probabilities over typed labels. */
  look(args: { image: Uint8Array; labels: string[] }): R<LookResult>;
  // models and settings
  modelsList(): R<ModelStatus[]>;
  modelsDownload(args: { id: string }): R<Manifest>;
  modelsCancel(args: { id: string }): R<boolean>;
  modelsRemove(args: { id: string }): R<boolean>;
  modelsVerify(args: { id: string }): R<{ file: string; ok: boolean; reason?: string }[]>;
  /** `notice`: the saved settings could not all be read, what Glance did instead, and what to do. */
  settingsGet(): R<EngineSettings & { notice?: string }>;
  settingsSet(args: Partial<EngineSettings>): R<EngineSettings>;
  /** The local API's state (started or stopped by settingsSet and at start; `glance serve` passes its own). */
  apiStatus(): R<ApiStatus>;
  /** Stops generation and indexing, releases the models, closes the database, then exits. */
  shutdown(): R<null>;
}

export interface EngineEvents {
  /** New text of an answer being written: one token or a few that came within milliseconds (`count`). */
  chatToken(e: { conversationId: number; token: string; count: number }): void;
  libraryProgress(p: IndexProgress): void;
  /** The running duplicates search (libDuplicates): `done` of `total` steps. */
  duplicatesProgress(p: AppEvents['library.duplicatesProgress']): void;
  modelsProgress(p: AppEvents['models.progress']): void;
  /** The caption job's progress: on each state change and photo, at most every 250 ms while running. */
  captionsProgress(p: CaptionProgress): void;
  /** One photo finished by the caption job: its caption, or why it failed. */
  captionsPhoto(e: { photoId: number; path: string; caption?: string; error?: string }): void;
}
