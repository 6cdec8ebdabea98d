// A caption job: one caption per photo still without one, written by a vision model, one photo at a time. The job
// asks its source for the next photo only after the last one's caption is saved, and each caption is a background
// one-shot in the chat service's queue: a chat or a screenshot-and-ask waits at most for the one photo being
// captioned, never for the job. Saved captions are what makes a stopped job resumable: the source (the library's
// photosToCaption) no longer returns a photo that has one, so a new job after a cancel or a kill continues where
// the last one stopped.
//
// No RPC, no CLI here: the engine process makes the job with the library's reader, the chat service's captioner and
// the library's save, and relays its progress.
import type { ImageInput } from '../../../native-models/clip/preprocess.ts';
import type { VisionChatLoadOptions } from '../../../native-models/llava/vision-chat.ts';
import type { OneShotRequest, OneShotResult } from '../chat/chat-service.ts';
import { type CaptionPrompt, cleanCaption } from './prompts.ts';

export type CaptionJobState = 'running' | 'paused' | 'done' | 'cancelled' | 'failed';

export interface CaptionFailure {
  photoId: number;
  path: string;
  message: string;
}

export interface CaptionProgress {
  /**
   * 'paused' comes at once when asked; the photo being captioned then still finishes (`current` stays set until it
   * has), and the job asks for no other until resumed. 'cancelled' comes at once too: the running caption is stopped
   * and dropped.
   */
  state: CaptionJobState;
  /** Photos finished: captioned or failed. */
  done: number;
  /** Photos to caption when the job started (grows if the source yields more, e.g. photos indexed since). */
  total: number;
  /** Photos that could not be captioned (a broken file, the model writing nothing); the job goes on. */
  failed: number;
  /** The latest failures, newest last (at most MAX_FAILURES_KEPT; `failed` counts them all). */
  failures: CaptionFailure[];
  /** Over the last photos (up to RATE_WINDOW), time paused excluded; 0 before the first photo is finished. */
  photosPerSecond: number;
  /** Remaining photos at that rate; null until a rate is known. */
  etaSeconds: number | null;
  current: { photoId: number; path: string } | null;
  /** The model id the captions are stored under. */
  model: string;
  /** Why the job failed (state 'failed'). */
  error?: string;
}

/** The photos still to caption (the library's photosToCaption). */
export interface CaptionSource {
  readonly total: number;
  /** The next photo, or null when none is left. Must move past a photo it returned, even one that failed. */
  next(): { id: number; path: string } | null;
}

export interface CaptionJobDeps {
  /** The model id (catalog id or file label) captions are stored under. */
  model: string;
  photos: CaptionSource;
  /** One photo's caption; the signal stops it (cancel). */
  caption: (photo: { id: number; path: string }, signal: AbortSignal) => Promise<string>;
  save: (photoId: number, text: string) => void;
  onProgress?: (p: CaptionProgress) => void;
  /** Each photo as it is finished: its caption, or the error that failed it. */
  onPhoto?: (e: { photoId: number; path: string; caption?: string; error?: string }) => void;
  /**
   * Errors that stop the job instead of failing one photo. Default: the model cannot be loaded (a load or file
   * check failed, the model was released) — every other photo would fail the same way.
   */
  isFatal?: (err: unknown) => boolean;
  /** ms clock (tests) */
  now?: () => number;
}

export const MAX_FAILURES_KEPT = 100;
/** Photos the rate is measured over: recent enough to follow interactive use slowing the job, long enough to be steady. */
export const RATE_WINDOW = 20;
/** This many failures in a row with the same message stop the job: it is not the photos (the database is gone…). */
export const SAME_FAILURE_LIMIT = 10;

const FATAL_CODES = new Set(['load-failed', 'released']);

function defaultFatal(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  return (typeof e?.code === 'string' && FATAL_CODES.has(e.code)) || e?.name === 'GgufCheckError';
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class CaptionJob {
  private state: CaptionJobState = 'running';
  private started = false;
  private done = 0;
  private failed = 0;
  private failures: CaptionFailure[] = [];
  private total: number;
  private current: { photoId: number; path: string } | null = null;
  private error: string | undefined;
  /** Durations of the last photos (ms), paused time excluded (a photo never runs while paused). */
  private readonly recent: number[] = [];
  private readonly abort = new AbortController();
  private wake: (() => void) | null = null;
  private sameFailure = { message: '', count: 0 };
  private settle!: (p: CaptionProgress) => void;
  /** Settles with the last progress once the job has stopped (done, cancelled or failed) and nothing of it runs. */
  readonly finished: Promise<CaptionProgress>;

  constructor(private readonly deps: CaptionJobDeps) {
    this.total = deps.photos.total;
    this.finished = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  /** Starts the job (once); returns its first progress. */
  start(): CaptionProgress {
    if (!this.started) {
      this.started = true;
      void this.run();
    }
    return this.progress();
  }

  /** Finishes the photo being captioned, then waits for resume(). */
  pause(): CaptionProgress {
    if (this.state === 'running') {
      this.state = 'paused';
      this.emit();
    }
    return this.progress();
  }

  resume(): CaptionProgress {
    if (this.state === 'paused') {
      this.state = 'running';
      this.emit();
      this.wake?.();
    }
    return this.progress();
  }

  /** Stops the job: the running caption is stopped (not saved); the photos captioned so far keep their captions. */
  cancel(): CaptionProgress {
    if (this.state === 'running' || this.state === 'paused') {
      this.state = 'cancelled';
      this.abort.abort(new Error('the caption job was cancelled'));
      this.emit();
      this.wake?.();
      if (!this.started) {
        this.started = true;
        this.settle(this.progress());
      }
    }
    return this.progress();
  }

  progress(): CaptionProgress {
    const ms = this.recent.reduce((a, b) => a + b, 0);
    const rate = ms > 0 ? this.recent.length / (ms / 1000) : 0;
    const remaining = Math.max(0, this.total - this.done);
    return {
      state: this.state,
      done: this.done,
      total: this.total,
      failed: this.failed,
      failures: [...this.failures],
      photosPerSecond: rate,
      etaSeconds: rate > 0 ? remaining / rate : this.done === this.total ? 0 : null,
      current: this.current,
      model: this.deps.model,
      ...(this.error !== undefined ? { error: this.error } : {}),
    };
  }

  private emit(): void {
    try {
      this.deps.onProgress?.(this.progress());
    } catch {
      // a listener's failure (a closed window) is not the job's
    }
  }

  private get stopped(): boolean {
    return this.state === 'cancelled' || this.state === 'failed';
  }

  private async run(): Promise<void> {
    const now = this.deps.now ?? Date.now;
    const fatal = this.deps.isFatal ?? defaultFatal;
    try {
      this.emit();
      for (;;) {
        while (this.state === 'paused') {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          this.wake = null;
        }
        if (this.stopped) break;
        const photo = this.deps.photos.next();
        if (!photo) break;
        this.current = { photoId: photo.id, path: photo.path };
        if (this.done >= this.total) this.total = this.done + 1; // a photo the count did not include
        this.emit();
        const t0 = now();
        let caption: string | undefined;
        let failure: unknown;
        try {
          caption = cleanCaption(await this.deps.caption(photo, this.abort.signal));
          if (this.stopped) break; // cancelled: what was written so far is dropped
          if (!caption) throw new Error('the model wrote no caption for this photo');
          this.deps.save(photo.id, caption);
        } catch (err) {
          if (this.stopped) break;
          if (fatal(err)) throw err;
          failure = err;
        }
        this.recent.push(now() - t0);
        if (this.recent.length > RATE_WINDOW) this.recent.shift();
        this.done++;
        this.current = null;
        if (failure === undefined) {
          this.sameFailure = { message: '', count: 0 };
          this.tell({ photoId: photo.id, path: photo.path, caption: caption! });
        } else {
          const message = messageOf(failure);
          this.failed++;
          this.failures.push({ photoId: photo.id, path: photo.path, message });
          if (this.failures.length > MAX_FAILURES_KEPT) this.failures.shift();
          this.tell({ photoId: photo.id, path: photo.path, error: message });
          this.sameFailure =
            this.sameFailure.message === message
              ? { message, count: this.sameFailure.count + 1 }
              : { message, count: 1 };
          if (this.sameFailure.count >= SAME_FAILURE_LIMIT) {
            throw new Error(`the last ${SAME_FAILURE_LIMIT} photos all failed the same way: ${message}`);
          }
        }
        this.emit();
      }
      if (!this.stopped) this.state = 'done';
    } catch (err) {
      this.state = 'failed';
      this.error = messageOf(err);
    }
    this.current = null;
    this.emit();
    this.settle(this.progress());
  }

  private tell(e: { photoId: number; path: string; caption?: string; error?: string }): void {
    try {
      this.deps.onPhoto?.(e);
    } catch {
      // as emit(): a listener's failure is not the job's
    }
  }
}

/**
 * One image's caption, asked interactively (the window's Look view, `glance caption` of a single file): a one-shot
 * that goes before a caption job's next photo, cleaned as the job cleans its captions. Empty when the model wrote
 * nothing.
 */
export async function captionImage(
  chat: { oneShot(r: OneShotRequest): Promise<OneShotResult> },
  args: { image: ImageInput; model: VisionChatLoadOptions; prompt: CaptionPrompt; signal?: AbortSignal },
): Promise<string> {
  const r = await chat.oneShot({
    image: args.image,
    prompt: args.prompt.prompt,
    model: args.model,
    options: { maxTokens: args.prompt.maxTokens, temperature: 0 },
    ...(args.signal ? { signal: args.signal } : {}),
  });
  return cleanCaption(r.text);
}

/**
 * The job's `caption` from a chat service: a background one-shot per photo with the model's caption prompt (so
 * interactive requests go first). Greedy unless the options say otherwise: the same photo and model give the same
 * caption, so a redo with an unchanged model changes nothing.
 */
export function chatCaptioner(
  chat: { oneShot(r: OneShotRequest): Promise<OneShotResult> },
  model: VisionChatLoadOptions,
  prompt: CaptionPrompt,
  options: OneShotRequest['options'] = {},
): CaptionJobDeps['caption'] {
  return async (photo, signal) => {
    const r = await chat.oneShot({
      image: photo.path,
      prompt: prompt.prompt,
      model,
      options: { maxTokens: prompt.maxTokens, temperature: 0, ...options },
      background: true,
      signal,
    });
    return r.text;
  };
}
