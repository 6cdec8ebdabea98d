// The Models view's state: the catalog, each model's download (driven by models.progress while models.download is
// pending), cancel, remove, verify, and the engine's health. One per Api, so that a download started here keeps its
// progress when the person leaves the view and comes back.

import { formatBytes } from '../../../common/format.ts';
import type { AppEvents, EngineStatusView, ModelView, RuntimeView } from '../../../electron/ipc/contract.ts';
import { type Api, ApiError } from '../lib/api.ts';

export type Kind = ModelView['kind'];
export type VerifyReport = { file: string; ok: boolean; reason?: string }[];

export interface DownloadView {
  /** The file being fetched now; null until the first progress event. */
  file: string | null;
  /** Bytes over all the model's files. */
  received: number;
  total: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  cancelling: boolean;
}

/** Something to tell the person about one model: an error (with what to do, in the app's words) or news. */
export interface ModelNote {
  kind: 'error' | 'info';
  code: string;
  message: string;
}

export interface ModelActivity {
  download?: DownloadView;
  busy?: 'verifying' | 'removing';
  note?: ModelNote;
  /** The last verify's answer, until the model is downloaded again or removed. */
  verify?: VerifyReport;
}

export interface ModelGroup {
  kind: Kind;
  title: string;
  blurb: string;
  models: ModelView[];
}

const GROUPS: Omit<ModelGroup, 'models'>[] = [
  {
    kind: 'clip',
    title: 'Tagging and search',
    blurb: 'CLIP models read your photos for tags, text search and "more like this".',
  },
  {
    kind: 'text',
    title: 'Search in your language',
    blurb:
      "A text model trained into CLIP ViT-B/32's space: search the photos already indexed with words in 50+ languages.",
  },
  {
    kind: 'chat',
    title: 'Chat',
    blurb: 'Vision language models answer questions about images, in chat and screenshot-and-ask.',
  },
];

const NO_ACTIVITY: ModelActivity = Object.freeze({});

const byApi = new WeakMap<Api, ModelsState>();

export class ModelsState {
  models = $state<ModelView[]>([]);
  loaded = $state(false);
  loading = $state(false);
  /** Why the catalog could not be read, if it could not. */
  listError = $state<string | null>(null);
  /** The hardware found and what runs the loaded chat model. */
  runtime = $state<RuntimeView | null>(null);
  engine = $state<EngineStatusView | null>(null);
  activity = $state<Record<string, ModelActivity>>({});
  private listRequests = 0;
  private listShown = 0;
  private engineEvents = 0;

  /**
   * The catalog by kind. A getter, not $derived: this state outlives the view that made it, and a $derived made
   * inside a component stops updating once that component is gone.
   */
  get groups(): ModelGroup[] {
    return GROUPS.map((g) => ({ ...g, models: this.models.filter((m) => m.kind === g.kind) })).filter(
      (g) => g.models.length > 0,
    );
  }

  /** The state of this Api's window: made once, so downloads outlive the view. */
  static for(api: Api): ModelsState {
    let s = byApi.get(api);
    if (!s) {
      s = new ModelsState(api);
      byApi.set(api, s);
    }
    return s;
  }

  constructor(readonly api: Api) {
    api.on('models.progress', (p) => this.progress(p));
    api.on('engine.status', (s) => {
      this.engineEvents++;
      this.engine = s;
    });
  }

  /** Reads the catalog and the engine's status. */
  async load(): Promise<void> {
    this.loading = true;
    void this.api.call('engine.runtime').then(
      (r) => {
        this.runtime = r;
      },
      () => {},
    );
    const events = this.engineEvents;
    const engine = this.api.call('engine.status').then(
      (s) => {
        // An event that came meanwhile is newer than this reply.
        if (this.engineEvents === events) this.engine = s;
      },
      () => {},
    );
    try {
      await this.fetchList();
      this.listError = null;
      this.loaded = true;
    } catch (err) {
      this.listError = messageOf(err);
    } finally {
      this.loading = false;
    }
    await engine;
  }

  activityOf(id: string): ModelActivity {
    return this.activity[id] ?? NO_ACTIVITY;
  }

  /** Downloads (or repairs) a model; resolves when it is installed, cancelled or failed. */
  async download(id: string): Promise<void> {
    const a = this.act(id);
    if (a.download) return;
    const model = this.models.find((m) => m.id === id);
    a.note = undefined;
    a.download = {
      file: null,
      received: 0,
      total: model?.size ?? 0,
      bytesPerSecond: 0,
      etaSeconds: null,
      cancelling: false,
    };
    try {
      await this.api.call('models.download', { id });
      a.download = undefined;
      a.verify = undefined;
      this.patch(id, { installed: true });
      a.note = { kind: 'info', code: 'installed', message: `${model?.name ?? id} is installed.` };
      await this.refresh();
    } catch (err) {
      a.download = undefined;
      a.note = noteOf(err);
    }
  }

  async cancel(id: string): Promise<void> {
    const a = this.act(id);
    if (!a.download) return;
    a.download.cancelling = true;
    try {
      const running = await this.api.call('models.cancel', { id });
      // Not running any more: it ended on its own; its pending download settles the state.
      if (!running && a.download) a.download.cancelling = false;
    } catch (err) {
      if (a.download) a.download.cancelling = false;
      a.note = noteOf(err);
    }
  }

  /** Deletes a model's files (partial downloads included). The view asks for confirmation first. */
  async remove(id: string): Promise<void> {
    const a = this.act(id);
    if (a.busy || a.download) return;
    const name = this.models.find((m) => m.id === id)?.name ?? id;
    a.busy = 'removing';
    a.note = undefined;
    try {
      await this.api.call('models.remove', { id });
      a.verify = undefined;
      this.patch(id, { installed: false });
      a.note = { kind: 'info', code: 'removed', message: `${name} was removed.` };
      await this.refresh();
    } catch (err) {
      a.note = noteOf(err);
    } finally {
      a.busy = undefined;
    }
  }

  /** Re-hashes a model's files; the report says which are broken and why. */
  async verify(id: string): Promise<void> {
    const a = this.act(id);
    if (a.busy || a.download) return;
    a.busy = 'verifying';
    a.note = undefined;
    a.verify = undefined;
    try {
      a.verify = await this.api.call('models.verify', { id });
    } catch (err) {
      a.note = noteOf(err);
    } finally {
      a.busy = undefined;
    }
  }

  dismiss(id: string): void {
    const a = this.activity[id];
    if (a) a.note = undefined;
  }

  private progress(p: AppEvents['models.progress']): void {
    // Only while this window's models.download is pending: a late event must not bring back a finished bar.
    const d = this.activity[p.id]?.download;
    if (!d) return;
    d.file = p.file;
    d.received = p.received;
    d.total = p.total;
    d.bytesPerSecond = p.bytesPerSecond;
    d.etaSeconds = p.etaSeconds;
  }

  /** Re-reads the catalog (sizes change once installed), keeping what is shown if that fails. */
  private async refresh(): Promise<void> {
    try {
      await this.fetchList();
    } catch {
      // The optimistic patch stands; the next load corrects it.
    }
  }

  /** Applies a catalog reply unless a later request's reply is already shown (a slow, stale one is dropped). */
  private async fetchList(): Promise<void> {
    const n = ++this.listRequests;
    const list = await this.api.call('models.list');
    if (n < this.listShown) return;
    this.listShown = n;
    this.models = list;
  }

  private patch(id: string, change: Partial<ModelView>): void {
    const i = this.models.findIndex((m) => m.id === id);
    if (i >= 0) this.models[i] = { ...this.models[i]!, ...change };
  }

  private act(id: string): ModelActivity {
    this.activity[id] ??= {};
    return this.activity[id];
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function noteOf(err: unknown): ModelNote {
  const code = err instanceof ApiError ? err.code : 'internal';
  // A cancelled download is what the person asked for: news, not an error.
  return { kind: code === 'cancelled' ? 'info' : 'error', code, message: messageOf(err) };
}

/** The app's one byte formatter (decimal, as the hub counts), kept here for this state's components. */
export { formatBytes } from '../../../common/format.ts';

export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** "45 s left", "12 min left", "1 h 5 min left"; empty when unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s left`;
  if (s < 3600) return `${Math.round(s / 60)} min left`;
  const h = Math.floor(s / 3600);
  const m = Math.round((s % 3600) / 60);
  return m > 0 ? `${h} h ${m} min left` : `${h} h left`;
}
