// The engine's one caption job at a time: which model and prompt, which photos, where the captions go, and the
// progress relayed to whoever started it (the window, `glance caption`). The job itself is caption-job.ts.
//
// Resuming: every caption is saved as it is written and the library's reader returns only photos without one, so
// starting again after a cancel, a crash or a killed CLI goes on where the last job stopped. A redo remembers its
// start in the library's settings until it ends, so a redo started again keeps that start and does not caption
// again what it already redid.
import path from 'node:path';
import type { VisionChatLoadOptions } from '../../../native-models/llava/vision-chat.ts';
import type { ChatService } from '../chat/chat-service.ts';
import type { Library } from '../library/library.ts';
import type { LibraryStore } from '../library/store.ts';
import { CaptionJob, type CaptionProgress, chatCaptioner } from './caption-job.ts';
import { type CaptionPrompt, captionPromptForCatalog, captionPromptForFiles } from './prompts.ts';

/** A chat model to caption with: its files, the id its captions are stored under, and its caption prompt. */
export interface CaptionModel {
  load: VisionChatLoadOptions;
  /** The catalog id, or the model file's name for explicit files. */
  id: string;
  catalog: boolean;
}

export interface CaptionStartArgs {
  model: CaptionModel;
  /** Library folders by path (the CLI) or id (the window); all folders when neither. */
  folders?: string[];
  folderIds?: number[];
  redo?: boolean;
}

const REDO_SETTING = 'caption_redo';
/** Running progress goes out at most this often (state changes and the last photo always). */
const PROGRESS_MS = 250;

export class CaptionRunnerError extends Error {
  override readonly name = 'CaptionRunnerError';
  constructor(
    readonly code: 'busy' | 'folder-missing',
    message: string,
  ) {
    super(message);
  }
}

export interface CaptionRunnerDeps {
  library: () => Library;
  store: LibraryStore;
  chat: Pick<ChatService, 'oneShot'>;
  onProgress: (p: CaptionProgress) => void;
  onPhoto: (e: { photoId: number; path: string; caption?: string; error?: string }) => void;
}

export async function captionPrompt(model: CaptionModel): Promise<CaptionPrompt> {
  return model.catalog ? captionPromptForCatalog(model.id) : captionPromptForFiles(model.load.model, model.load.mmproj);
}

export class CaptionRunner {
  private job: CaptionJob | null = null;
  private last: CaptionProgress | null = null;

  constructor(private readonly deps: CaptionRunnerDeps) {}

  status(): CaptionProgress | null {
    return this.job?.progress() ?? this.last;
  }

  async start(args: CaptionStartArgs): Promise<CaptionProgress> {
    const running = this.job?.progress();
    if (running && (running.state === 'running' || running.state === 'paused')) {
      throw new CaptionRunnerError(
        'busy',
        `photos are being captioned already (${running.done} of ${running.total}): pause or cancel that job first`,
      );
    }
    const lib = this.deps.library();
    const folderIds = this.folderIds(lib, args);
    const prompt = await captionPrompt(args.model);
    const redoBefore = args.redo ? this.redoStart(args.model.id, folderIds) : undefined;
    const photos = lib.photosToCaption({
      model: args.model.id,
      ...(folderIds ? { folderIds } : {}),
      ...(redoBefore !== undefined ? { redoBefore } : {}),
    });
    let lastSent = Number.NEGATIVE_INFINITY;
    const job = new CaptionJob({
      model: args.model.id,
      photos,
      caption: chatCaptioner(this.deps.chat, args.model.load, prompt),
      save: (photoId, text) => lib.setModelCaption(photoId, args.model.id, text),
      onPhoto: (e) => this.deps.onPhoto(e),
      onProgress: (p) => {
        const now = performance.now();
        const final = p.state !== 'running' || p.done === p.total;
        if (!final && now - lastSent < PROGRESS_MS) return;
        lastSent = now;
        if (p.state === 'done' && args.redo) this.deps.store.setSetting(REDO_SETTING, '');
        this.last = p;
        this.deps.onProgress(p);
      },
    });
    this.job = job;
    return job.start();
  }

  pause(): CaptionProgress | null {
    return this.job?.pause() ?? this.last;
  }

  resume(): CaptionProgress | null {
    return this.job?.resume() ?? this.last;
  }

  cancel(): CaptionProgress | null {
    return this.job?.cancel() ?? this.last;
  }

  /** The folders a start names, as ids; undefined: all of them. An unknown folder is refused, never widened. */
  private folderIds(lib: Library, args: CaptionStartArgs): number[] | undefined {
    if (args.folderIds?.length) {
      const known = new Set(lib.folders().map((f) => f.id));
      const missing = args.folderIds.find((id) => !known.has(id));
      if (missing !== undefined) throw new CaptionRunnerError('folder-missing', `no library folder with id ${missing}`);
      return args.folderIds;
    }
    if (args.folders?.length) {
      const byPath = new Map(lib.folders().map((f) => [path.resolve(f.path), f.id]));
      return args.folders.map((f) => {
        const id = byPath.get(path.resolve(f));
        if (id === undefined) {
          throw new CaptionRunnerError(
            'folder-missing',
            `${f} is not a folder of the library: glance index ${f} adds it first (glance folders lists them)`,
          );
        }
        return id;
      });
    }
    return undefined;
  }

  /** The start of the redo being resumed (same model and folders), else now, remembered until the redo is done. */
  private redoStart(model: string, folderIds: number[] | undefined): number {
    const key = JSON.stringify({ model, folderIds: folderIds ?? null });
    const saved = this.deps.store.setting(REDO_SETTING);
    if (saved) {
      try {
        const v = JSON.parse(saved) as { key?: string; at?: number };
        if (v.key === key && typeof v.at === 'number') return v.at;
      } catch {
        // unreadable: a new redo starts now
      }
    }
    const at = Date.now();
    this.deps.store.setSetting(REDO_SETTING, JSON.stringify({ key, at }));
    return at;
  }
}
