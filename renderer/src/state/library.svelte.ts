// The library view's state: folders, indexing, search, the open photo and its tags, duplicates, the tag threshold
// and the first run (the CLIP model). Every call goes through the typed API; a failure becomes `error`, a sentence
// for the person, never an exception in the UI.

import type {
  AppEvents,
  CaptionProgressView,
  ChannelArg,
  ChannelResult,
  FolderView,
  IndexProgressView,
  ModelView,
  PhotoDetail,
  PhotoHit,
  VocabularyEdit,
  VocabularyView,
} from '../../../electron/ipc/contract.ts';
import { type Api, ApiError } from '../lib/api.ts';

/** The CLIP model the library needs; `models.list` says whether it is installed. */
export const CLIP_MODEL = 'clip-vit-base-patch32';
/** The most hits one search may return (the contract's maximum); the grid is virtualized, so all are shown. */
export const SEARCH_LIMIT = 1000;
/** Browsing (no text, no "more like this") lists the whole library: the grid is virtualized, hits are small. */
export const BROWSE_LIMIT = 200_000;

export type ModelProgress = AppEvents['models.progress'];
export type DuplicateGroup = ChannelResult<'library.duplicates'>[number];
export type DuplicatesProgress = AppEvents['library.duplicatesProgress'];
export type IndexError = ChannelResult<'library.errors'>[number];
type SearchArg = ChannelArg<'library.search'>;

// ---- the search box ----

export interface ParsedQuery {
  /** The words, for CLIP; undefined when there are none. */
  text: string | undefined;
  /** `tag:NAME` and `tag:"two words"` tokens: every one must match. */
  tags: string[];
  /** `like:ID`: more like this photo. */
  likePhotoId: number | undefined;
  /** A sentence when the query cannot be run as written. */
  problem: string | undefined;
}

const TOKEN = /(tag|like):(?:"([^"]*)"?|(\S*))|(\S+)/gi;

/** One search box: words for CLIP, `tag:NAME` filters and `like:ID` ("more like this"). */
export function parseQuery(input: string): ParsedQuery {
  const words: string[] = [];
  const tags: string[] = [];
  let likePhotoId: number | undefined;
  let problem: string | undefined;
  for (const m of input.matchAll(TOKEN)) {
    const [, key, quoted, bare, word] = m;
    if (word !== undefined) {
      words.push(word);
      continue;
    }
    const value = (quoted ?? bare ?? '').trim();
    if (!value) continue;
    if (key!.toLowerCase() === 'tag') {
      if (!tags.includes(value)) tags.push(value);
    } else if (/^[1-9]\d{0,15}$/.test(value)) {
      likePhotoId = Number(value);
    } else {
      problem = `“like:${value}” is not a photo: use “More like this” on a photo.`;
    }
  }
  const text = words.join(' ').trim() || undefined;
  if (text !== undefined && likePhotoId !== undefined) {
    problem = 'Search by words or by a photo (“like:”), not both at once.';
  }
  return { text, tags, likePhotoId, problem };
}

/** A tag as a search token, quoted when it has spaces. */
export const tagToken = (name: string) => (/[\s"]/.test(name) ? `tag:"${name.replaceAll('"', '')}"` : `tag:${name}`);

// ---- formatting shared by the library components ----

export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `about ${s} s left`;
  if (s < 3600) return `about ${Math.round(s / 60)} min left`;
  const h = Math.floor(s / 3600);
  return `about ${h} h ${Math.round((s - h * 3600) / 60)} min left`;
}

/** The app's one byte formatter (decimal, as the hub counts), kept here for this state's components. */
export { formatBytes } from '../../../common/format.ts';

export const formatCount = (n: number) => n.toLocaleString('en-US');

export function formatDate(ms: number | null): string {
  if (ms === null) return 'Date unknown';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The last part of a display path (the renderer has no `node:path`, and needs none: paths are only shown). */
export const baseName = (p: string) => p.split(/[\\/]/).filter(Boolean).pop() ?? p;

/** `yyyy-mm-dd` (a date input) to local midnight, or the last millisecond of that day. */
function dayToMs(day: string, endOfDay: boolean): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  const start = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (endOfDay ? 1 : 0)).getTime();
  return endOfDay ? start - 1 : start;
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.message) return err.message;
  return 'Something went wrong. Try again.';
}

// ---- the vocabulary, as the editor holds it ----

export interface LabelDraft {
  /** For keyed lists only; never sent. */
  key: number;
  name: string;
  /** One prompt a line. */
  prompts: string;
  /** Empty: the global tag threshold. */
  threshold: number | null | undefined;
}
export interface CategoryDraft {
  key: number;
  name: string;
  labels: LabelDraft[];
}
export interface VocabularyDraft {
  categories: CategoryDraft[];
  /** One neutral prompt a line. */
  neutral: string;
}

/** The contract's limits on a vocabulary (tags.setVocabulary), checked here first to say what to fix. */
export const VOCABULARY_LIMITS = {
  labels: 5000,
  categories: 50,
  name: 100,
  prompts: 8,
  prompt: 300,
  neutral: 50,
} as const;

let draftKey = 0;
const lines = (text: string) =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);

export function toDraft(v: VocabularyView | VocabularyEdit): VocabularyDraft {
  return {
    categories: v.categories.map((c) => ({
      key: ++draftKey,
      name: c.name,
      labels: c.labels.map((l) => ({
        key: ++draftKey,
        name: l.name,
        prompts: l.prompts.join('\n'),
        threshold: l.threshold ?? null,
      })),
    })),
    neutral: v.neutral.join('\n'),
  };
}

/** The draft as the contract takes it, or a sentence saying what to fix first. */
export function fromDraft(d: VocabularyDraft): { edit: VocabularyEdit } | { problem: string } {
  const L = VOCABULARY_LIMITS;
  const neutral = lines(d.neutral);
  if (neutral.length === 0) return { problem: 'Add at least one neutral prompt (“a photo.”).' };
  if (neutral.length > L.neutral) return { problem: `At most ${L.neutral} neutral prompts.` };
  if (neutral.some((p) => p.length > L.prompt)) return { problem: `A prompt is at most ${L.prompt} characters.` };
  if (d.categories.length === 0) return { problem: 'Add at least one category.' };
  if (d.categories.length > L.categories) return { problem: `At most ${L.categories} categories.` };
  const seen = new Set<string>();
  let count = 0;
  const categories: VocabularyEdit['categories'] = [];
  for (const [ci, c] of d.categories.entries()) {
    const cname = c.name.trim();
    if (!cname) return { problem: `Category ${ci + 1} needs a name.` };
    if (cname.length > L.name) return { problem: `The category name “${cname}” is over ${L.name} characters.` };
    const labels: VocabularyEdit['categories'][number]['labels'] = [];
    for (const l of c.labels) {
      const name = l.name.trim();
      if (!name) return { problem: `A label in “${cname}” has no name.` };
      if (name.length > L.name)
        return { problem: `The label name “${name.slice(0, 30)}…” is over ${L.name} characters.` };
      if (seen.has(name.toLowerCase())) return { problem: `The label “${name}” appears twice.` };
      seen.add(name.toLowerCase());
      const prompts = lines(l.prompts);
      if (prompts.length === 0) return { problem: `The label “${name}” needs at least one prompt.` };
      if (prompts.length > L.prompts) return { problem: `The label “${name}” has over ${L.prompts} prompts.` };
      if (prompts.some((p) => p.length > L.prompt))
        return { problem: `A prompt of “${name}” is over ${L.prompt} characters.` };
      const t = l.threshold;
      const hasThreshold = typeof t === 'number' && !Number.isNaN(t);
      if (hasThreshold && !(t >= 0 && t <= 1))
        return { problem: `The threshold of “${name}” is a number from 0 to 1.` };
      labels.push({ name, prompts, ...(hasThreshold ? { threshold: t } : {}) });
    }
    count += labels.length;
    categories.push({ name: cname, labels });
  }
  if (count === 0) return { problem: 'Add at least one label.' };
  if (count > L.labels) return { problem: `At most ${L.labels} labels in all.` };
  return { edit: { categories, neutral } };
}

const ACTIVE: ReadonlySet<IndexProgressView['phase']> = new Set(['scanning', 'indexing', 'paused']);

export class LibraryState {
  // folders and indexing
  folders = $state.raw<FolderView[]>([]);
  /** The folders were read (until then, neither the first run nor the library is shown). */
  loaded = $state(false);
  progress = $state.raw<IndexProgressView | null>(null);
  readonly indexing = $derived(this.progress !== null && ACTIVE.has(this.progress.phase));
  indexErrors = $state.raw<IndexError[] | null>(null);

  /** What the middle of the view shows. */
  mode = $state<'photos' | 'ask' | 'duplicates' | 'vocabulary'>('photos');

  // search
  query = $state('');
  folderId = $state<number | null>(null);
  /** yyyy-mm-dd, as date inputs give it; '' for no bound. */
  from = $state('');
  to = $state('');
  results = $state.raw<PhotoHit[]>([]);
  searching = $state(false);
  /** What the shown results answer (null before the first search). */
  shown = $state.raw<ParsedQuery | null>(null);
  /** The name of the photo behind `like:ID`, when it came from "More like this". */
  likeName = $state<string | null>(null);

  // the open photo
  open = $state.raw<PhotoDetail | null>(null);
  /** The open photo's picture: PhotoDetail has no URL, so it is the hit's that opened it. */
  openThumbnail = $state<string | null>(null);
  busyTag = $state(false);
  /** The open photo's caption is being saved. */
  savingCaption = $state(false);
  /** Why the caption could not be saved, shown by the caption. */
  captionError = $state<string | null>(null);
  /** The photo the caption job is describing (from its events). */
  private captionCurrent: number | null = null;

  // duplicates
  duplicates = $state.raw<DuplicateGroup[] | null>(null);
  duplicateThreshold = $state(0.95);
  findingDuplicates = $state(false);
  /** How far the running search is (null until its first `library.duplicatesProgress` event). */
  duplicatesProgress = $state.raw<DuplicatesProgress | null>(null);
  /** Cancel was asked for; the search's own reply ends it. */
  cancellingDuplicates = $state(false);
  /** A calm word about the last search (it was cancelled): news, not an error. */
  duplicatesNotice = $state<string | null>(null);

  // settings
  tagThreshold = $state<number | null>(null);

  // the vocabulary editor: the draft is edited in memory until saved
  vocabulary = $state<VocabularyDraft | null>(null);
  /** The saved vocabulary is the person's own (false: the shipped default). */
  vocabularyCustom = $state(false);
  vocabularyBusy = $state<'loading' | 'saving' | 'resetting' | null>(null);
  /** What the last save or reset did. */
  vocabularyMessage = $state<string | null>(null);
  /** What went wrong with the vocabulary, shown in the editor. */
  vocabularyError = $state<string | null>(null);

  // first run: the CLIP model (undefined: not asked yet; null: not in the catalog or models.list failed)
  clip = $state.raw<ModelView | null | undefined>(undefined);
  download = $state.raw<ModelProgress | null>(null);
  downloading = $state(false);

  /** The last failure, for the person: shown until dismissed or replaced. */
  error = $state<string | null>(null);

  private lastArg: SearchArg = { limit: BROWSE_LIMIT };
  private searchSeq = 0;
  private photoSeq = 0;
  private readonly unsubscribe: (() => void)[];

  constructor(readonly api: Api) {
    this.unsubscribe = [
      api.on('library.progress', (p) => this.onProgress(p)),
      api.on('library.duplicatesProgress', (p) => {
        if (this.findingDuplicates) this.duplicatesProgress = p;
      }),
      api.on('models.progress', (p) => {
        if (p.id === CLIP_MODEL) this.download = p;
      }),
      api.on('captions.progress', (p) => this.onCaptionProgress(p)),
    ];
  }

  dispose(): void {
    for (const off of this.unsubscribe) off();
  }

  dismissError(): void {
    this.error = null;
  }

  /** Runs a call; a failure becomes `error` and the result undefined. */
  private async attempt<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.error = messageOf(err);
      return undefined;
    }
  }

  /** First load: folders, then either the first run (no folders) or the newest photos. */
  async load(): Promise<void> {
    const folders = await this.attempt(() => this.api.call('library.folders'));
    if (!folders) return; // `error` says why; the view offers to try again
    this.error = null;
    this.folders = folders;
    this.loaded = true;
    void this.loadThreshold();
    if (this.folders.length === 0) await this.checkModels();
    else await this.runSearch(this.lastArg);
  }

  async refreshFolders(): Promise<void> {
    const folders = await this.attempt(() => this.api.call('library.folders'));
    if (folders) this.folders = folders;
  }

  // ---- folders and indexing ----

  /** The native picker opens in the main process; a chosen folder is indexed at once. */
  async addFolder(): Promise<FolderView | null> {
    const folder = await this.attempt(() => this.api.call('library.addFolder'));
    if (!folder) return null; // cancelled, or failed (then `error` says why)
    await this.refreshFolders();
    if (!this.folders.some((f) => f.id === folder.id)) this.folders = [...this.folders, folder];
    if (!this.indexing) void this.index();
    return folder;
  }

  async removeFolder(folderId: number): Promise<void> {
    const ok = await this.attempt(() => this.api.call('library.removeFolder', { folderId }));
    if (ok === undefined) return;
    this.folders = this.folders.filter((f) => f.id !== folderId);
    await this.refreshFolders();
    if (this.folderId === folderId) this.folderId = null;
    if (this.open) this.open = null;
    if (this.folders.length === 0) {
      this.results = [];
      await this.checkModels();
    } else await this.search();
  }

  /** Indexes every folder; progress comes as `library.progress` events, the final count as the reply. */
  async index(): Promise<void> {
    if (this.indexing) return;
    this.indexErrors = null;
    this.progress = {
      phase: 'scanning',
      found: 0,
      total: 0,
      done: 0,
      unchanged: 0,
      indexed: 0,
      moved: 0,
      removed: 0,
      errors: 0,
      filesPerSecond: 0,
      etaSeconds: null,
      current: null,
    };
    const final = await this.attempt(() => this.api.call('library.index'));
    if (!final) {
      if (this.indexing) this.progress = null;
      return;
    }
    // The reply may overtake the last event; either way the run is over once, and the library is reread once.
    const alreadyFinished = !this.indexing;
    this.progress = final;
    if (!alreadyFinished) await this.afterIndex();
  }

  private onProgress(p: IndexProgressView): void {
    const wasActive = this.indexing;
    this.progress = p;
    if (wasActive && !ACTIVE.has(p.phase)) void this.afterIndex();
  }

  /**
   * "Describe photos" moved past a photo (or ended): when it is the open one, its new caption is read, so the panel
   * never shows "No caption yet" for a photo that has one now.
   */
  private onCaptionProgress(p: CaptionProgressView): void {
    const was = this.captionCurrent;
    this.captionCurrent = p.current?.photoId ?? null;
    if (was !== null && was !== this.captionCurrent && this.open?.id === was) void this.reloadPhoto(was);
  }

  private async afterIndex(): Promise<void> {
    await this.refreshFolders();
    await this.runSearch(this.lastArg);
  }

  async pause(): Promise<void> {
    await this.attempt(() => this.api.call('library.pause'));
  }

  async resume(): Promise<void> {
    await this.attempt(() => this.api.call('library.resume'));
  }

  async cancel(): Promise<void> {
    await this.attempt(() => this.api.call('library.cancel'));
  }

  /** The files the indexer could not read, and why. */
  async loadIndexErrors(): Promise<void> {
    const list = await this.attempt(() => this.api.call('library.errors'));
    if (list) this.indexErrors = list;
  }

  // ---- search ----

  /** Runs what the search box and the filters say. */
  async search(): Promise<void> {
    const q = parseQuery(this.query);
    if (q.problem) {
      this.error = q.problem;
      return;
    }
    if (q.likePhotoId === undefined) this.likeName = null;
    const from = this.from ? dayToMs(this.from, false) : undefined;
    const to = this.to ? dayToMs(this.to, true) : undefined;
    if (from !== undefined && to !== undefined && from > to) {
      this.error = 'The start date is after the end date.';
      return;
    }
    const ranked = q.text !== undefined || q.likePhotoId !== undefined;
    const arg: SearchArg = { limit: ranked ? SEARCH_LIMIT : BROWSE_LIMIT };
    if (q.text !== undefined) arg.text = q.text;
    if (q.likePhotoId !== undefined) arg.likePhotoId = q.likePhotoId;
    if (q.tags.length) arg.tags = q.tags;
    if (this.folderId !== null) arg.folderId = this.folderId;
    if (from !== undefined) arg.from = from;
    if (to !== undefined) arg.to = to;
    this.lastArg = arg;
    await this.runSearch(arg, q);
  }

  private async runSearch(arg: SearchArg, q: ParsedQuery = parseQuery(this.query)): Promise<void> {
    const seq = ++this.searchSeq;
    this.searching = true;
    try {
      const hits = await this.api.call('library.search', arg);
      if (seq !== this.searchSeq) return; // a newer search answers instead
      this.results = hits;
      this.shown = q;
    } catch (err) {
      if (seq === this.searchSeq) this.error = messageOf(err);
    } finally {
      if (seq === this.searchSeq) this.searching = false;
    }
  }

  async clearSearch(): Promise<void> {
    this.query = '';
    this.folderId = null;
    this.from = '';
    this.to = '';
    this.likeName = null;
    await this.search();
  }

  /** "More like this": the photo's neighbours, keeping the tag filters of the box. */
  async moreLike(photo: { id: number; name: string }): Promise<void> {
    const tags = parseQuery(this.query).tags.map(tagToken);
    this.query = [`like:${photo.id}`, ...tags].join(' ');
    this.likeName = photo.name;
    this.open = null;
    this.mode = 'photos';
    await this.search();
  }

  /** Shows the photos with a tag. */
  async searchTag(name: string): Promise<void> {
    this.query = tagToken(name);
    this.open = null;
    this.mode = 'photos';
    await this.search();
  }

  // ---- the open photo ----

  async openPhoto(hit: Pick<PhotoHit, 'id' | 'thumbnail'>): Promise<void> {
    const seq = ++this.photoSeq;
    const detail = await this.attempt(() => this.api.call('library.photo', { photoId: hit.id }));
    if (detail && seq === this.photoSeq) {
      this.openThumbnail = hit.thumbnail;
      this.captionError = null;
      this.open = detail;
    }
  }

  closePhoto(): void {
    this.photoSeq++;
    this.open = null;
    this.captionError = null;
  }

  /**
   * Saves a person's own caption for the open photo: it wins over every model's and no caption job replaces it.
   * Empty (after trimming) removes it, and the model's caption shows again. True when saved.
   */
  async setCaption(text: string): Promise<boolean> {
    const photo = this.open;
    if (!photo || this.savingCaption) return false;
    const trimmed = text.trim();
    if (trimmed.length > 2000) {
      this.captionError = 'A caption is at most 2,000 characters.';
      return false;
    }
    this.savingCaption = true;
    this.captionError = null;
    try {
      const shown = await this.api.call('captions.set', { photoId: photo.id, text: trimmed });
      if (this.open?.id === photo.id) this.open = { ...this.open, caption: shown };
      return true;
    } catch (err) {
      this.captionError = messageOf(err);
      return false;
    } finally {
      this.savingCaption = false;
    }
  }

  private async reloadPhoto(photoId: number): Promise<void> {
    const seq = ++this.photoSeq;
    const detail = await this.attempt(() => this.api.call('library.photo', { photoId }));
    if (detail && seq === this.photoSeq && this.open?.id === photoId) this.open = detail;
  }

  /** Adds a tag of your own to the open photo; true when it was added. */
  async addTag(name: string): Promise<boolean> {
    const photo = this.open;
    const tag = name.trim();
    if (!photo || !tag) return false;
    if (tag.length > 100) {
      this.error = 'A tag is at most 100 characters.';
      return false;
    }
    this.busyTag = true;
    try {
      const ok = await this.attempt(() => this.api.call('tags.add', { photoId: photo.id, tag }));
      if (ok === undefined) return false;
      await this.reloadPhoto(photo.id);
      return true;
    } finally {
      this.busyTag = false;
    }
  }

  /** Removes a tag from the open photo, for good (the tagger does not bring it back). */
  async removeTag(name: string): Promise<boolean> {
    const photo = this.open;
    if (!photo) return false;
    this.busyTag = true;
    try {
      const ok = await this.attempt(() => this.api.call('tags.remove', { photoId: photo.id, tag: name }));
      if (ok === undefined) return false;
      await this.reloadPhoto(photo.id);
      return true;
    } finally {
      this.busyTag = false;
    }
  }

  // ---- duplicates ----

  /**
   * Looks for near-duplicates; progress comes as `library.duplicatesProgress` events. One search at a time from
   * here: while one runs, a second request is refused (the button is Cancel then). The engine, for its part, lets a
   * newer search replace an older one (another window's, a reloaded one's): this one then ends as cancelled.
   */
  async findDuplicates(): Promise<void> {
    if (this.findingDuplicates) return;
    const threshold = Math.min(1, Math.max(0.5, this.duplicateThreshold));
    this.findingDuplicates = true;
    this.cancellingDuplicates = false;
    this.duplicatesProgress = null;
    this.duplicatesNotice = null;
    try {
      this.duplicates = await this.api.call('library.duplicates', { threshold });
    } catch (err) {
      // Cancelled: what the person asked for; the groups found before stay as they were.
      if (err instanceof ApiError && err.code === 'cancelled')
        this.duplicatesNotice = 'Stopped looking for duplicates.';
      else this.error = messageOf(err);
    } finally {
      this.findingDuplicates = false;
      this.cancellingDuplicates = false;
      this.duplicatesProgress = null;
    }
  }

  /** Stops the running search; its reply (code 'cancelled') puts the view back as it was. */
  async cancelDuplicates(): Promise<void> {
    if (!this.findingDuplicates || this.cancellingDuplicates) return;
    this.cancellingDuplicates = true;
    const running = await this.attempt(() => this.api.call('library.cancelDuplicates'));
    // Not running any more (its answer is on the way), or the call failed: Cancel may be pressed again.
    if (!running && this.findingDuplicates) this.cancellingDuplicates = false;
  }

  // ---- the tag threshold ----

  async loadThreshold(): Promise<void> {
    const settings = await this.attempt(() => this.api.call('settings.get'));
    if (settings) this.tagThreshold = settings.tagThreshold;
  }

  /** Applies at once (margins are stored): the open photo's tags are reread. */
  async setTagThreshold(value: number): Promise<boolean> {
    if (!(value >= 0 && value <= 1)) {
      this.error = 'The tag threshold is a number from 0 to 1.';
      return false;
    }
    const ok = await this.attempt(() => this.api.call('tags.setThreshold', { value }));
    if (ok === undefined) return false;
    this.tagThreshold = value;
    if (this.open) await this.reloadPhoto(this.open.id);
    if (this.shown?.tags.length) await this.runSearch(this.lastArg);
    return true;
  }

  // ---- the vocabulary ----

  async loadVocabulary(): Promise<void> {
    this.vocabularyBusy = 'loading';
    this.vocabularyError = null;
    try {
      const v = await this.api.call('tags.vocabulary');
      this.vocabulary = toDraft(v);
      this.vocabularyCustom = v.custom;
    } catch (err) {
      this.vocabularyError = messageOf(err);
    } finally {
      this.vocabularyBusy = null;
    }
  }

  addCategory(): CategoryDraft | null {
    if (!this.vocabulary) return null;
    this.vocabulary.categories.push({ key: ++draftKey, name: 'New category', labels: [] });
    return this.vocabulary.categories.at(-1)!;
  }

  removeCategory(key: number): void {
    if (!this.vocabulary) return;
    this.vocabulary.categories = this.vocabulary.categories.filter((c) => c.key !== key);
  }

  addLabel(categoryKey: number): LabelDraft | null {
    const c = this.vocabulary?.categories.find((x) => x.key === categoryKey);
    if (!c) return null;
    c.labels.push({ key: ++draftKey, name: '', prompts: '', threshold: null });
    return c.labels.at(-1)!;
  }

  removeLabel(categoryKey: number, labelKey: number): void {
    const c = this.vocabulary?.categories.find((x) => x.key === categoryKey);
    if (c) c.labels = c.labels.filter((l) => l.key !== labelKey);
  }

  private async afterRetag(): Promise<void> {
    if (this.open) await this.reloadPhoto(this.open.id);
    if (this.shown?.tags.length) await this.runSearch(this.lastArg);
  }

  /** Saves the draft; photos are re-tagged from their stored embeddings at once. True when saved. */
  async saveVocabulary(): Promise<boolean> {
    if (!this.vocabulary || this.vocabularyBusy) return false;
    this.vocabularyMessage = null;
    const checked = fromDraft(this.vocabulary);
    if ('problem' in checked) {
      this.vocabularyError = checked.problem;
      return false;
    }
    this.vocabularyBusy = 'saving';
    this.vocabularyError = null;
    try {
      const r = await this.api.call('tags.setVocabulary', checked.edit);
      this.vocabularyCustom = true;
      this.vocabularyMessage = `Saved ${formatCount(r.labels)} ${r.labels === 1 ? 'label' : 'labels'}. Re-tagged ${formatCount(r.retagged)} ${r.retagged === 1 ? 'photo' : 'photos'} from stored embeddings.`;
    } catch (err) {
      this.vocabularyError = messageOf(err);
      return false;
    } finally {
      this.vocabularyBusy = null;
    }
    await this.afterRetag();
    return true;
  }

  /** Back to the shipped vocabulary: the person's copy is deleted. */
  async resetVocabulary(): Promise<boolean> {
    if (this.vocabularyBusy) return false;
    this.vocabularyBusy = 'resetting';
    this.vocabularyError = null;
    this.vocabularyMessage = null;
    try {
      const r = await this.api.call('tags.resetVocabulary');
      this.vocabularyCustom = false;
      this.vocabularyMessage = `Back to the default vocabulary. Re-tagged ${formatCount(r.retagged)} ${r.retagged === 1 ? 'photo' : 'photos'} from stored embeddings.`;
    } catch (err) {
      this.vocabularyError = messageOf(err);
      return false;
    } finally {
      this.vocabularyBusy = null;
    }
    const message = this.vocabularyMessage;
    await this.loadVocabulary();
    this.vocabularyMessage = message;
    await this.afterRetag();
    return true;
  }

  // ---- first run: the CLIP model ----

  async checkModels(): Promise<void> {
    try {
      const models = await this.api.call('models.list');
      this.clip = models.find((m) => m.id === CLIP_MODEL) ?? null;
    } catch (err) {
      this.clip = null;
      this.error = messageOf(err);
    }
  }

  async downloadClip(): Promise<void> {
    if (this.downloading) return;
    this.downloading = true;
    this.download = null;
    try {
      const ok = await this.attempt(() => this.api.call('models.download', { id: CLIP_MODEL }));
      if (ok !== undefined) await this.checkModels();
    } finally {
      this.downloading = false;
      this.download = null;
    }
  }

  async cancelDownload(): Promise<void> {
    await this.attempt(() => this.api.call('models.cancel', { id: CLIP_MODEL }));
  }
}
