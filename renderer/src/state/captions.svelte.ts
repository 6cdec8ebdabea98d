// The caption job ("Describe photos") as the Library view shows it: the engine runs the job in the background (one
// at a time, surviving this view's unmounting); this state mirrors its progress from the `captions.progress` events
// and the calls' replies, and sends start, pause, resume and cancel. Errors a person can act on become `error`.

import type { CaptionProgressView } from '../../../electron/ipc/contract.ts';
import { type Api, ApiError } from '../lib/api.ts';
import { formatCount, formatEta, messageOf } from './library.svelte.ts';

const ACTIVE: ReadonlySet<CaptionProgressView['state']> = new Set(['running', 'paused']);

/** What to do about a failed vision call (captions, short answers), in a sentence, from the app's error code. */
export function visionProblem(err: unknown): string {
  const code = err instanceof ApiError ? err.code : '';
  switch (code) {
    case 'no-chat-model':
      return 'No chat model is installed. Download one in Models (SmolVLM is the fastest for captions).';
    case 'model-not-installed':
      return 'The chat model chosen in Settings is not downloaded. Download it in Models, or choose another.';
    case 'mmproj-missing':
      return 'The model’s vision file (mmproj) is missing. Download the model again in Models.';
    case 'busy':
      return 'The model is busy. Try again in a moment.';
    case 'engine-stopped':
    case 'engine-crashed':
    case 'engine-start-failed':
      return 'The engine stopped. It restarts on its own: try again in a moment.';
    case 'photo-not-indexed':
    case 'photo-missing':
      return 'This photo is not in the library any more.';
    default:
      return messageOf(err);
  }
}

export class CaptionJobState {
  progress = $state.raw<CaptionProgressView | null>(null);
  readonly active = $derived(this.progress !== null && ACTIVE.has(this.progress.state));
  /** A start, pause, resume or cancel call is on its way. */
  busy = $state(false);
  error = $state<string | null>(null);
  /** Show the list of photos that failed. */
  showFailures = $state(false);
  private readonly off: (() => void)[];

  constructor(readonly api: Api) {
    this.off = [
      api.on('captions.progress', (p) => {
        this.progress = p;
      }),
      // A restarted engine has lost the job it ran (a new start goes on where it stopped): show what it says now,
      // not a job that would look as if it still ran.
      api.on('engine.status', (s) => {
        if (s.state === 'ready' && s.restarts > 0 && this.active) void this.refresh();
      }),
    ];
  }

  dispose(): void {
    for (const off of this.off) off();
  }

  private async refresh(): Promise<void> {
    try {
      this.progress = await this.api.call('captions.status');
    } catch {
      this.progress = null;
    }
  }

  /** A job may already be running (started before this view opened, or by the CLI's engine): show it. */
  async load(): Promise<void> {
    try {
      const p = await this.api.call('captions.status');
      // an event may have come first; it is as new as the reply or newer
      if (p && !this.progress) this.progress = p;
    } catch {
      // an engine without captions yet, or stopped: nothing to show until a job is started
    }
  }

  private async send(fn: () => Promise<unknown>): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      await fn();
      return true;
    } catch (err) {
      this.error = visionProblem(err);
      return false;
    } finally {
      this.busy = false;
    }
  }

  /** Describes the photos of these folders, or of the whole library; `redo`: again for photos this model did. */
  async start(folderIds: number[] | null, redo = false): Promise<boolean> {
    if (this.active || this.busy) return false;
    this.showFailures = false;
    return this.send(async () => {
      const p = await this.api.call('captions.start', {
        ...(folderIds?.length ? { folderIds } : {}),
        ...(redo ? { redo: true } : {}),
      });
      this.progress = p;
    });
  }

  pause(): Promise<boolean> {
    return this.send(() => this.api.call('captions.pause'));
  }

  resume(): Promise<boolean> {
    return this.send(() => this.api.call('captions.resume'));
  }

  /** Stops the job; the photos described so far keep their captions, and a new start goes on from there. */
  cancel(): Promise<boolean> {
    return this.send(() => this.api.call('captions.cancel'));
  }
}

/** The job's state in a few words. */
export function captionStateText(p: CaptionProgressView): string {
  switch (p.state) {
    case 'running':
      return p.total === 0 ? 'Nothing to describe' : 'Describing photos';
    case 'paused':
      return 'Paused';
    case 'done':
      return p.total === 0 ? 'Every photo has a caption' : 'Done';
    case 'cancelled':
      return 'Cancelled';
    case 'failed':
      return 'Stopped';
  }
}

/** "12 of 300 photos · 0.8 photos/s · about 6 min left". */
export function captionDetailText(p: CaptionProgressView): string {
  const parts = [`${formatCount(p.done)} of ${formatCount(p.total)} ${p.total === 1 ? 'photo' : 'photos'}`];
  if (p.state === 'running') {
    parts.push(`${p.photosPerSecond.toFixed(p.photosPerSecond < 10 ? 2 : 1)} photos/s`);
    const eta = formatEta(p.etaSeconds);
    if (eta) parts.push(eta);
  }
  return parts.join(' · ');
}
