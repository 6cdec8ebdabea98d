// The Settings view's state: the saved settings, the form being edited, what differs (only that is sent to
// settings.set), field errors (a refused hotkey among them), the tag threshold, which applies at once, and the local
// API's state (its address and token when it runs), read again after every save.
import { acceleratorProblem } from '../../../common/accelerator.ts';
import { DEFAULT_API_PORT, isWebOrigin, LOCAL_API_LIMITS } from '../../../common/local-api.ts';
import type { ApiStatusView, ChannelArg, ModelView, SettingsView } from '../../../electron/ipc/contract.ts';
import { type Api, ApiError } from '../lib/api.ts';

export type SettingsChange = ChannelArg<'settings.set'>;

export interface SettingsForm {
  hotkey: string;
  threadsAuto: boolean;
  /** null while the number field is empty. */
  threads: number | null;
  gpuAuto: boolean;
  gpuLayers: number | null;
  chatModel: string | null;
  captionNewPhotos: boolean;
  localApi: boolean;
  /** null while the number field is empty. */
  localApiPort: number | null;
  /** The allowed web origins as typed: one a line, blank lines ignored. */
  localApiOrigins: string;
  searchLanguage: SettingsView['searchLanguage'];
}

/** The choices for the text model that reads a search, in the order Settings lists them. */
export const SEARCH_LANGUAGES: readonly { value: SettingsView['searchLanguage']; label: string }[] = [
  { value: 'auto', label: 'Automatic: other languages to the multilingual model when it is installed' },
  { value: 'en', label: 'English only (CLIP)' },
  { value: 'multi', label: 'Any language (multilingual model)' },
];

export const THRESHOLD = { min: 0, max: 0.2, step: 0.005 } as const;

/** The origins typed in the text area: one a line, trimmed, blank lines and repeats left out. */
export function originLines(text: string): string[] {
  return [...new Set(text.split(/\r?\n/).map((l) => l.trim()))].filter((l) => l !== '');
}

function defaultThreads(): number {
  const n = typeof navigator === 'undefined' ? 0 : navigator.hardwareConcurrency || 0;
  return Math.min(256, Math.max(1, n || 4));
}

function formOf(s: SettingsView): SettingsForm {
  return {
    hotkey: s.hotkey,
    threadsAuto: s.threads === null,
    threads: s.threads ?? defaultThreads(),
    gpuAuto: s.gpuLayers === 'auto',
    gpuLayers: s.gpuLayers === 'auto' ? 99 : s.gpuLayers,
    chatModel: s.chatModel,
    captionNewPhotos: s.captionNewPhotos,
    localApi: s.localApi,
    localApiPort: s.localApiPort,
    localApiOrigins: s.localApiOrigins.join('\n'),
    searchLanguage: s.searchLanguage,
  };
}

const isInt = (n: number | null, min: number, max: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;

export class SettingsState {
  saved = $state<SettingsView | null>(null);
  form = $state<SettingsForm>({
    hotkey: '',
    threadsAuto: true,
    threads: 4,
    gpuAuto: true,
    gpuLayers: 99,
    chatModel: null,
    captionNewPhotos: false,
    localApi: false,
    localApiPort: DEFAULT_API_PORT,
    localApiOrigins: '',
    searchLanguage: 'auto',
  });
  /** Installed chat models, for the default chat model. */
  chatModels = $state<ModelView[]>([]);
  loadError = $state<string | null>(null);
  saving = $state(false);
  /** A failure of the save that belongs to no one field. */
  saveError = $state<string | null>(null);
  /** The app refused the hotkey (taken by another app, not an accelerator): its own words. */
  hotkeyRefused = $state<string | null>(null);
  justSaved = $state(false);

  threshold = $state(0.03);
  thresholdSaving = $state(false);
  thresholdError = $state<string | null>(null);
  thresholdSaved = $state(false);

  /** The local API as the engine runs it; null before it was read. */
  apiStatus = $state<ApiStatusView | null>(null);
  /** Why its state could not be read. */
  apiStatusError = $state<string | null>(null);

  /** Mistakes the form can see before asking the app. */
  readonly errors = $derived.by(() => {
    const f = this.form;
    const e: Partial<Record<'hotkey' | 'threads' | 'gpuLayers' | 'localApiPort' | 'localApiOrigins', string>> = {};
    // The contract's own check (main refuses the same), said before saving; taken by another app is main's to say.
    const hotkey = acceleratorProblem(f.hotkey);
    if (hotkey) e.hotkey = `${hotkey.charAt(0).toUpperCase()}${hotkey.slice(1)}.`;
    if (!f.threadsAuto && !isInt(f.threads, 1, 256)) e.threads = 'A whole number from 1 to 256.';
    if (!f.gpuAuto && !isInt(f.gpuLayers, 0, 999)) e.gpuLayers = 'A whole number from 0 to 999.';
    if (!isInt(f.localApiPort, LOCAL_API_LIMITS.minPort, LOCAL_API_LIMITS.maxPort))
      e.localApiPort = `A whole number from ${LOCAL_API_LIMITS.minPort} to ${LOCAL_API_LIMITS.maxPort}.`;
    const origins = originLines(f.localApiOrigins);
    const bad = origins.filter((o) => !isWebOrigin(o));
    if (bad.length > 0)
      e.localApiOrigins = `Not a web origin: ${bad.join(', ')}. Write each as scheme, host and port, such as http://localhost:3000, without a path.`;
    else if (origins.length > LOCAL_API_LIMITS.origins)
      e.localApiOrigins = `At most ${LOCAL_API_LIMITS.origins} origins.`;
    return e;
  });

  readonly valid = $derived(Object.keys(this.errors).length === 0);

  /** Only the fields that differ from what is saved. */
  readonly changes: SettingsChange = $derived.by(() => {
    const s = this.saved;
    const f = this.form;
    const c: SettingsChange = {};
    if (!s) return c;
    const hotkey = f.hotkey.trim();
    if (hotkey !== s.hotkey) c.hotkey = hotkey;
    const threads = f.threadsAuto ? null : f.threads;
    if (threads !== s.threads && (threads === null || isInt(threads, 1, 256))) c.threads = threads;
    const gpuLayers = f.gpuAuto ? 'auto' : f.gpuLayers;
    if (gpuLayers !== s.gpuLayers && gpuLayers !== null) c.gpuLayers = gpuLayers;
    if (f.chatModel !== s.chatModel) c.chatModel = f.chatModel;
    if (f.captionNewPhotos !== s.captionNewPhotos) c.captionNewPhotos = f.captionNewPhotos;
    if (f.localApi !== s.localApi) c.localApi = f.localApi;
    if (f.localApiPort !== s.localApiPort && isInt(f.localApiPort, LOCAL_API_LIMITS.minPort, LOCAL_API_LIMITS.maxPort))
      c.localApiPort = f.localApiPort;
    const origins = originLines(f.localApiOrigins);
    if (origins.join('\n') !== s.localApiOrigins.join('\n')) c.localApiOrigins = origins;
    if (f.searchLanguage !== s.searchLanguage) c.searchLanguage = f.searchLanguage;
    return c;
  });

  readonly dirty = $derived(Object.keys(this.changes).length > 0);

  constructor(readonly api: Api) {}

  async load(): Promise<void> {
    try {
      const [settings, models] = await Promise.all([
        this.api.call('settings.get'),
        this.api.call('models.list').catch(() => [] as ModelView[]),
        this.refreshApi(),
      ]);
      this.chatModels = models.filter((m) => m.kind === 'chat' && m.installed);
      this.apply(settings);
      this.threshold = settings.tagThreshold;
      this.loadError = null;
    } catch (err) {
      this.loadError = messageOf(err);
    }
  }

  async save(): Promise<void> {
    if (!this.saved || this.saving || !this.valid) return;
    const changes = $state.snapshot(this.changes) as SettingsChange;
    if (Object.keys(changes).length === 0) return;
    this.saving = true;
    this.saveError = null;
    this.hotkeyRefused = null;
    this.justSaved = false;
    try {
      this.apply(await this.api.call('settings.set', changes));
      // saving starts, stops or moves the local API: show it as it is now
      await this.refreshApi();
      this.justSaved = true;
    } catch (err) {
      // settings.set checks the hotkey first and saves nothing when it is refused: the form keeps every change.
      if (err instanceof ApiError && err.code === 'hotkey-refused') this.hotkeyRefused = err.message;
      else this.saveError = messageOf(err);
    } finally {
      this.saving = false;
    }
  }

  /** Puts the form back to what is saved. */
  reset(): void {
    if (this.saved) this.form = formOf(this.saved);
    this.hotkeyRefused = null;
    this.saveError = null;
  }

  /** The hotkey field changed: an earlier refusal no longer applies to it. */
  hotkeyEdited(): void {
    this.hotkeyRefused = null;
    this.justSaved = false;
  }

  /** Reads the local API's state again (never throws: a failure is `apiStatusError`). */
  async refreshApi(): Promise<void> {
    try {
      this.apiStatus = await this.api.call('api.status');
      this.apiStatusError = null;
    } catch (err) {
      this.apiStatusError = messageOf(err);
    }
  }

  /** Applies a new tag threshold at once (nothing is re-indexed). */
  async setThreshold(value: number): Promise<void> {
    const v = Math.min(THRESHOLD.max, Math.max(THRESHOLD.min, value));
    const before = this.saved?.tagThreshold ?? this.threshold;
    this.threshold = v;
    this.thresholdSaving = true;
    this.thresholdError = null;
    this.thresholdSaved = false;
    try {
      await this.api.call('tags.setThreshold', { value: v });
      if (this.saved) this.saved.tagThreshold = v;
      this.thresholdSaved = true;
    } catch (err) {
      this.threshold = before;
      this.thresholdError = messageOf(err);
    } finally {
      this.thresholdSaving = false;
    }
  }

  private apply(s: SettingsView): void {
    this.saved = s;
    this.form = formOf(s);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
