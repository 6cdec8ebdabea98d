// The photo library service: folders, indexing, tags, captions, search, duplicates, XMP export. One instance owns the
// database; the CLI uses it in-process, the engine process will serve it to the window.
import { existsSync } from 'node:fs';
import { readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import chokidar from 'chokidar';
import { MULTILINGUAL_TEXT_ID, TEXT_CATALOG } from '../../../native-models/catalog.ts';
import { type ClipLoadOptions, ClipModel, type Variant } from '../../../native-models/clip/model.ts';
import { labelEmbeddings, zeroShotProbabilities } from '../../../native-models/clip/zero-shot.ts';
import { MultilingualTextEncoder } from '../../../native-models/multilingual/text-encoder.ts';
import { logitScaleFor } from '../classify.ts';
import { type Db, openDatabase } from '../db/database.ts';
import { glancePaths } from '../paths.ts';
import {
  CaptionQueue,
  captionQuery,
  fuseRankings,
  MAX_CAPTION_CHARS,
  PERSON,
  type PhotosToCaptionQuery,
  type PhotoToCaption,
  type ShownCaption,
} from './captions.ts';
import { Indexer, type IndexProgress } from './indexer.ts';
import { queryLanguage } from './query-language.ts';
import { type FolderRow, LibraryStore, type PhotoRow, type PhotoTag } from './store.ts';
import { DEFAULT_THRESHOLD, retagInSlices, SLICE_ROWS, Tagger, yieldToLoop } from './tagger.ts';
import { removeThumbnails, SWEEP_AGE_MS, type SweepResult, sweepThumbnails, thumbnailPath } from './thumbnails.ts';
import { currentStamp, type Hit, VectorIndex, vectorFileFor } from './vector-index.ts';
import { parseVocabulary, type Vocabulary, vocabularyFor } from './vocabulary.ts';
import { type SidecarResult, writeXmpSidecars, XmpSidecarError } from './xmp.ts';

export interface LibraryOptions extends Omit<ClipLoadOptions, 'towers'> {
  home: string;
  modelDir: string;
  /** Overrides the vocabulary found in the data folder (tests, experiments). */
  vocabulary?: Vocabulary;
  batchSize?: number;
  /** Index progress goes out at most this often (ms), besides phase changes and the end (default 100). */
  progressMs?: number;
}

export class LibraryError extends Error {
  override readonly name = 'LibraryError';
  constructor(
    readonly code:
      | 'folder-missing'
      | 'folder-nested'
      | 'photo-not-indexed'
      | 'bad-request'
      | 'busy'
      | 'text-model-missing',
    message: string,
  ) {
    super(message);
  }
}

export interface SearchQuery {
  text?: string;
  /** "More like this": an indexed photo's path or id, or any image file. */
  like?: { path: string } | { id: number } | { bytes: Uint8Array };
  tags?: string[];
  folder?: string;
  /** Capture time range, ms since the epoch (the file's mtime when EXIF has none). */
  from?: number;
  to?: number;
  limit?: number;
  /**
   * Which text encoder reads `text`: 'en' CLIP's own, 'multi' the multilingual one (it must be installed), 'auto'
   * (the default) the multilingual one for queries not in English when it is installed (query-language.ts).
   */
  lang?: SearchLanguage;
}

export type SearchLanguage = 'auto' | 'en' | 'multi';

/** What Look shows for an image (Library.look). */
export interface LookResult {
  /**
   * Vocabulary labels, best first: `score` is the tagger's margin over saying nothing in particular, `margin` that
   * score minus the label's threshold (at or above 0: a tag; below: a near miss).
   */
  tags: { name: string; score: number; margin: number }[];
  /** The typed labels in their order, with probabilities summing to 1 (empty when none were typed). */
  labels: { label: string; probability: number }[];
}

export interface SearchHit {
  id: number;
  path: string;
  score: number | null;
  takenAt: number | null;
  thumbnail: string;
}

export interface FolderInfo {
  id: number;
  path: string;
  photos: number;
}

export interface FolderUsage extends FolderInfo {
  /** Bytes its photos' thumbnails and embeddings take in Glance's cache (content shared with another folder counts in both). */
  cacheBytes: number;
}

/** A photo's tag with its margin: the tagger's score minus the threshold it must reach (null for a person's tag). */
export interface MarginTag extends PhotoTag {
  margin: number | null;
}

/** Everything the library knows of a photo: the window's photo view and `glance show`. */
export interface PhotoDetail {
  row: PhotoRow;
  tags: PhotoTag[];
  candidates: PhotoTag[];
  caption: ShownCaption | null;
}

/**
 * How many photos a text search's caption matches are taken from (best bm25 first) before fusing with CLIP: enough
 * that a caption match CLIP ranks first is not cut by a weak bm25 rank, few enough that scoring them with CLIP (their
 * vectors read from SQLite) costs tens of milliseconds.
 */
const CAPTION_CANDIDATES = 1000;

/** A photo whose sidecar could not be written, and why (the rest of the export went on). */
export interface XmpFailure {
  photo: string;
  /** The sidecar at fault, when one is (a malformed file another program wrote). */
  sidecar: string | null;
  message: string;
}

/**
 * Embeddings of mixed inputs in the order given: the texts in one batch (the text tower batches well), every other
 * input one at a time (an image is decoded and preprocessed on its own).
 */
export async function embedInOrder<I>(
  inputs: readonly ({ text: string } | I)[],
  encodeTexts: (texts: string[]) => Promise<Float32Array[]>,
  encodeOther: (input: I) => Promise<Float32Array>,
): Promise<Float32Array[]> {
  const out: Float32Array[] = new Array(inputs.length);
  const isText = (x: { text: string } | I): x is { text: string } => typeof x === 'object' && x !== null && 'text' in x;
  const texts = inputs.flatMap((x, i) => (isText(x) ? [{ i, text: x.text }] : []));
  if (texts.length > 0) {
    const vectors = await encodeTexts(texts.map((t) => t.text));
    texts.forEach((t, k) => {
      out[t.i] = vectors[k]!;
    });
  }
  for (const [i, x] of inputs.entries()) if (!isText(x)) out[i] = await encodeOther(x);
  return out;
}

export const modelIdFor = (dir: string, variant: Variant = 'fp32') =>
  `${path.basename(path.resolve(dir))}${variant === 'fp32' ? '' : `:${variant}`}`;

export class Library {
  readonly store: LibraryStore;
  readonly modelId: string;
  readonly thumbnailsDir: string;
  private model: Promise<ClipModel> | null = null;
  private multilingual: Promise<MultilingualTextEncoder> | null = null;
  private tagger: Promise<Tagger> | null = null;
  private lastRetagged = 0;
  private index: VectorIndex | null = null;
  private running: Indexer | null = null;
  /** Folders added while a run was under way: indexed when it ends, in the same call. */
  private queued = new Set<number>();
  /** Content an index run has prepared (thumbnail written, or embedding counted on) but not committed: kept meanwhile. */
  private readonly inflight = new Set<string>();
  /** The start-up clean-up of the cache (temporary files of killed writers, thumbnails no photo uses). */
  readonly swept: Promise<SweepResult>;
  private readonly closing = new AbortController();
  /** A vocabulary given at open (tests, experiments); a person's saved or reset vocabulary replaces it. */
  private vocabularyOverride: Vocabulary | undefined;

  private constructor(
    readonly db: Db,
    private readonly options: LibraryOptions,
  ) {
    this.store = new LibraryStore(db);
    this.modelId = modelIdFor(options.modelDir, options.variant);
    this.thumbnailsDir = path.join(options.home, 'cache', 'thumbnails');
    this.vocabularyOverride = options.vocabulary;
    this.swept = this.sweep();
  }

  /**
   * Removes what killed processes left: temporary files (thumbnails, the vocabulary) and thumbnails of content no
   * photo uses, once old enough that no live process can still be writing them; measures thumbnails that predate
   * the size rows. In the background: opening the library never waits for it.
   */
  private async sweep(): Promise<SweepResult> {
    const empty: SweepResult = { temporary: 0, orphans: 0, measured: 0 };
    try {
      const now = Date.now();
      // With the database closed nothing can be known to be unused: nothing is deleted.
      const result = await sweepThumbnails(
        this.thumbnailsDir,
        {
          used: (h) => !this.db.open || this.inflight.has(h) || this.store.isContentUsed(h),
          measured: (h) => !this.db.open || this.store.hasThumbnailRow(h),
          measure: (h, bytes) => {
            if (this.db.open) this.store.putThumbnail(h, bytes);
          },
        },
        this.closing.signal,
      );
      for (const name of await readdir(this.options.home).catch(() => [] as string[])) {
        if (this.closing.signal.aborted) break;
        if (!/^vocabulary\.json\..*\.tmp$/.test(name)) continue;
        const file = path.join(this.options.home, name);
        const st = await stat(file).catch(() => null);
        if (st && now - st.mtimeMs >= SWEEP_AGE_MS) {
          await rm(file, { force: true });
          result.temporary++;
        }
      }
      return result;
    } catch {
      return empty; // a clean-up that fails is tried again at the next start
    }
  }

  static open(options: LibraryOptions): Library {
    return new Library(openDatabase(glancePaths(options.home).db), options);
  }

  close(): void {
    this.closing.abort();
    this.running?.cancel();
    void this.model?.then((m) => m.release()).catch(() => {});
    void this.multilingual?.then((m) => m.release()).catch(() => {});
    this.saveVectors();
    this.index?.close();
    this.db.close();
  }

  // ---- model and tagger, started on first need ----

  private clip(): Promise<ClipModel> {
    if (!this.model) {
      const { modelDir, variant, provider, threads } = this.options;
      this.model = ClipModel.load(modelDir, {
        towers: [],
        ...(variant ? { variant } : {}),
        ...(provider ? { provider } : {}),
        ...(threads ? { threads } : {}),
      });
      this.model.catch(() => {
        this.model = null;
      });
    }
    return this.model;
  }

  /** The tagger for the current vocabulary; auto tags made with another vocabulary are recomputed first. */
  private getTagger(): Promise<Tagger> {
    if (!this.tagger) {
      this.tagger = (async () => {
        const vocabulary = await this.vocabulary();
        const tagger = await Tagger.create(this.db, await this.clip(), this.modelId, vocabulary);
        const key = `${this.modelId}|${vocabulary.hash}`;
        if (this.store.setting('auto_tags') !== key) {
          this.lastRetagged = await this.retagAll(tagger);
          this.store.setSetting('auto_tags', key);
        }
        return tagger;
      })();
      const made = this.tagger;
      made.catch(() => {
        if (this.tagger === made) this.tagger = null; // a newer vocabulary's tagger stays
      });
    }
    return this.tagger;
  }

  // ---- the vocabulary ----

  private get ownVocabularyFile(): string {
    return path.join(this.options.home, 'vocabulary.json');
  }

  /** The vocabulary in use: the one given at open, else the person's copy in the data folder, else the default. */
  vocabulary(): Promise<Vocabulary> {
    return this.vocabularyOverride ? Promise.resolve(this.vocabularyOverride) : vocabularyFor(this.options.home);
  }

  /** Whether the vocabulary in use is not the shipped default. */
  customVocabulary(): boolean {
    return this.vocabularyOverride !== undefined || existsSync(this.ownVocabularyFile);
  }

  /**
   * Saves the person's vocabulary (checked first: an invalid one is refused with 'vocabulary-invalid' and the file
   * is left as it was) and re-tags every photo from its stored embedding at once. Returns how many photos.
   */
  async setVocabulary(raw: unknown): Promise<{ labels: number; retagged: number }> {
    const vocabulary = parseVocabulary(raw, 'the vocabulary');
    this.refuseWhileIndexing();
    const file = this.ownVocabularyFile;
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      await writeFile(tmp, `${JSON.stringify(raw, null, 2)}\n`, 'utf8');
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    this.vocabularyOverride = undefined;
    return { labels: vocabulary.labels.length, retagged: await this.retagNow() };
  }

  /** Deletes the person's vocabulary: the shipped default is used again, and every photo re-tagged. */
  async resetVocabulary(): Promise<{ labels: number; retagged: number }> {
    this.refuseWhileIndexing();
    await rm(this.ownVocabularyFile, { force: true });
    this.vocabularyOverride = undefined;
    const retagged = await this.retagNow();
    return { labels: (await this.getTagger()).vocabulary.labels.length, retagged };
  }

  private refuseWhileIndexing(): void {
    if (this.running) throw new LibraryError('busy', 'the library is being indexed: change the vocabulary after it');
  }

  /** Drops the tagger; the next one (made now) re-tags from the stored embeddings, even for the same content. */
  private async retagNow(): Promise<number> {
    this.tagger = null;
    this.store.setSetting('auto_tags', '');
    this.lastRetagged = 0;
    await this.getTagger();
    return this.lastRetagged;
  }

  /**
   * Re-tags every photo from its stored embedding: no image is decoded. In slices that yield to the event loop, each
   * in its own transaction; the vocabulary key is saved only after the last one, so an interrupted run is redone.
   * Returns how many photos.
   */
  private retagAll(tagger: Tagger): Promise<number> {
    return retagInSlices(this.db, this.store, tagger, this.modelId);
  }

  private vectors(): VectorIndex | null {
    if (!this.index) {
      const dim = this.store.embeddingDim(this.modelId);
      if (!dim) return null;
      this.index = VectorIndex.load(this.store, this.modelId, dim, { file: this.vectorFile() });
    }
    return this.index;
  }

  private vectorFile(): string {
    return vectorFileFor(this.options.home, this.modelId);
  }

  /** Writes the vector index beside the database when it changed (when idle and at close): a cache, so a failure is no error. */
  private saveVectors(): void {
    const index = this.index;
    if (!index || !this.db.open) return;
    try {
      index.save(this.vectorFile(), currentStamp(this.store, this.modelId, index.dim));
    } catch {
      // rebuilt from SQLite at the next start
    }
  }

  // ---- folders ----

  folders(): FolderInfo[] {
    return this.db
      .prepare<[], FolderInfo>(
        'SELECT f.id AS id, f.path AS path, count(p.id) AS photos FROM folders f LEFT JOIN photos p ON p.folder_id = f.id GROUP BY f.id ORDER BY f.path',
      )
      .all();
  }

  /** The folders with the space their photos take in the cache (a join over every photo: for lists, not lookups). */
  folderUsage(): FolderUsage[] {
    return this.store.folderUsage(this.embeddingBytes());
  }

  /** Bytes the whole cache takes: thumbnails and embeddings, each content once. */
  cacheBytes(): number {
    return this.store.cacheBytes(this.embeddingBytes());
  }

  /** One embedding of the current model, in bytes (0 before the first is stored). */
  private embeddingBytes(): number {
    return 4 * (this.store.embeddingDim(this.modelId) ?? 0);
  }

  async addFolder(folder: string): Promise<FolderRow> {
    const abs = path.resolve(folder);
    const st = await stat(abs).catch(() => null);
    if (!st?.isDirectory()) throw new LibraryError('folder-missing', `${abs} is not a folder`);
    const inside = (child: string, parent: string) => child.startsWith(parent + path.sep);
    for (const f of this.store.folders()) {
      if (f.path === abs) return f;
      if (inside(abs, f.path))
        throw new LibraryError('folder-nested', `${abs} is already in the library, inside ${f.path}`);
    }
    const row = this.store.addFolder(abs);
    // Added during a run: indexed when the run ends (the run files photos under whichever folder holds them at
    // commit, so adopting the folders inside it below is safe meanwhile).
    if (this.running) this.queued.add(row.id);
    // A folder that contains folders already in the library adopts their photos (and tags).
    this.db.transaction(() => {
      for (const f of this.store.folders()) {
        if (inside(f.path, abs)) {
          this.db.prepare('UPDATE photos SET folder_id = ? WHERE folder_id = ?').run(row.id, f.id);
          this.store.removeFolder(f.id);
        }
      }
    })();
    return row;
  }

  removeFolder(folder: string): number {
    const row = this.store.folderByPath(path.resolve(folder));
    if (!row) throw new LibraryError('folder-missing', `${path.resolve(folder)} is not in the library`);
    const n = this.store.photosInFolder(row.id).length;
    // Its content leaves with it unless a photo elsewhere has the same (rows now, files after the commit). A run
    // under way skips the folder's files from here on.
    const dropped = this.db.transaction(() => {
      const hashes = this.store.hashesInFolder(row.id);
      this.store.removeFolder(row.id); // its photos' rows go, and the index file's generation moves on (triggers)
      return this.store.dropUnusedContent(hashes, (h) => this.inflight.has(h));
    })();
    removeThumbnails(this.thumbnailsDir, dropped, (h) => this.inflight.has(h) || this.store.isContentUsed(h));
    this.queued.delete(row.id);
    this.index?.close();
    this.index = null;
    return n;
  }

  // ---- indexing ----

  /**
   * Indexes the given folders (adding them) or every folder of the library; folders added meanwhile are indexed
   * next, in the same call, their counts added to the run's.
   */
  async indexFolders(folders: string[] | undefined, onProgress?: (p: IndexProgress) => void): Promise<IndexProgress> {
    // Set before the first await: two runs started together would share `inflight`, and the first to finish could
    // collect content the other has prepared but not committed.
    if (this.running || this.indexRunOpen) {
      throw new LibraryError('bad-request', 'an index run is already in progress');
    }
    this.indexRunOpen = true;
    try {
      return await this.indexFoldersOnce(folders, onProgress);
    } finally {
      this.indexRunOpen = false;
    }
  }

  private indexRunOpen = false;

  private async indexFoldersOnce(
    folders: string[] | undefined,
    onProgress?: (p: IndexProgress) => void,
  ): Promise<IndexProgress> {
    const rows = folders?.length ? await Promise.all(folders.map((f) => this.addFolder(f))) : this.store.folders();
    // A run's final 'done' is held back while folders wait: the window sees one run, with the counts of all.
    const held = { final: false };
    const forward = (base: IndexProgress | null) => (p: IndexProgress) => {
      held.final = p.phase === 'done' && this.queued.size > 0;
      if (!held.final) onProgress?.(base ? sumProgress(base, p) : p);
    };
    try {
      let result = await this.runIndexer(rows, forward(null));
      while (this.queued.size > 0 && result.phase === 'done') {
        const next = this.store.folders().filter((f) => this.queued.has(f.id));
        this.queued.clear();
        if (next.length === 0) break;
        const base = result;
        result = sumProgress(base, await this.runIndexer(next, forward(base)));
      }
      if (held.final) onProgress?.(result);
      return result;
    } finally {
      this.queued.clear();
    }
  }

  private async runIndexer(rows: FolderRow[], onProgress?: (p: IndexProgress) => void): Promise<IndexProgress> {
    const model = await this.clip();
    // The vision session starts while the tagger loads and the folders are scanned.
    const vision = model.warm('vision');
    vision.catch(() => {}); // surfaced by the first batch instead
    const tagger = await this.getTagger();
    const indexer = new Indexer(
      {
        store: this.store,
        model,
        modelId: this.modelId,
        tagger,
        thumbnailsDir: this.thumbnailsDir,
        exclude: [this.options.home],
        inflight: this.inflight,
        ...(this.options.batchSize ? { batchSize: this.options.batchSize } : {}),
        ...(this.options.progressMs !== undefined ? { progressMs: this.options.progressMs } : {}),
        onCommit: (changed, removed) => {
          // (the commit bumped the index file's generation: SQLite triggers)
          if (!this.index) return; // loaded fresh on the next search
          for (const c of changed) this.index.upsert(c.id, c.embedding);
          for (const id of removed) this.index.remove(id);
        },
      },
      rows.filter((r, i, all) => all.findIndex((x) => x.id === r.id) === i),
      onProgress,
    );
    this.running = indexer;
    try {
      return await indexer.run();
    } finally {
      this.running = null;
      this.saveVectors(); // idle: the index file catches up with the run's commits
    }
  }

  /** Loads the model and the tagger ahead of the first request (engine start-up, benchmarks). */
  async warmUp(): Promise<void> {
    const model = await this.clip();
    await Promise.all([model.warm('vision'), model.warm('text'), this.getTagger()]);
  }

  /** Resolves once the run has stopped writing (at once when none runs): until resume, no photo is indexed. */
  pauseIndexing(): Promise<void> {
    return this.running?.pause() ?? Promise.resolve();
  }
  resumeIndexing(): void {
    this.running?.resume();
  }
  cancelIndexing(): void {
    this.running?.cancel();
  }

  errors() {
    return this.store.errors();
  }

  /**
   * Keeps the library's folders indexed while the engine runs: a change (file added, changed, removed, moved)
   * starts an incremental run a moment after the folder settles. Returns the function that stops watching, with
   * `ready`: resolved once the watcher has read the existing tree (changes before that may be missed).
   */
  watch(
    onRun: (p: IndexProgress) => void,
    onError: (err: unknown) => void = () => {},
    settleMs = 1500,
  ): (() => Promise<void>) & { ready: Promise<void> } {
    const folders = this.store.folders().map((f) => f.path);
    const home = path.resolve(this.options.home);
    const watcher = chokidar.watch(folders, {
      ignoreInitial: true,
      ignored: (p: string) => path.basename(p).startsWith('.') || p === home || p.startsWith(home + path.sep),
      awaitWriteFinish: { stabilityThreshold: Math.min(1000, settleMs), pollInterval: 100 },
    });
    let timer: NodeJS.Timeout | undefined;
    let queue: Promise<void> = Promise.resolve();
    const schedule = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        queue = queue.then(() => this.indexFolders(undefined).then(onRun, onError));
      }, settleMs);
    };
    const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    watcher.on('all', schedule);
    const stop = async () => {
      clearTimeout(timer);
      await watcher.close();
      await queue;
    };
    return Object.assign(stop, { ready });
  }

  // ---- search ----

  /**
   * The text encoder a query goes to (see SearchQuery.lang). 'multi' without the multilingual model, or with a library
   * indexed with another CLIP model than the one it was trained against, is refused with what to do; 'auto' then
   * stays with CLIP.
   */
  async textEncoderFor(text: string, lang: SearchLanguage = 'auto'): Promise<'clip' | 'multilingual'> {
    if (lang === 'en') return 'clip';
    const why = this.multilingualUnavailable();
    if (lang === 'multi') {
      if (why) throw new LibraryError('text-model-missing', why);
      return 'multilingual';
    }
    if (why) return 'clip';
    return (await queryLanguage(text)) === 'other' ? 'multilingual' : 'clip';
  }

  /** Why the multilingual text model cannot search this library, or null when it can. */
  multilingualUnavailable(): string | null {
    const entry = TEXT_CATALOG.find((e) => e.id === MULTILINGUAL_TEXT_ID)!;
    const dir = path.join(glancePaths(this.options.home).models, entry.id);
    if (!entry.files.every((f) => existsSync(path.join(dir, f.file)))) {
      return `the multilingual text model is not installed: glance models download ${entry.id} (${Math.round(entry.files.reduce((n, f) => n + f.size, 0) / 1e6)} MB)`;
    }
    const clip = path.basename(path.resolve(this.options.modelDir));
    if (clip !== entry.pairsWith) {
      return `the library is indexed with ${clip}; the multilingual text model searches photos indexed with ${entry.pairsWith} (glance models use ${entry.pairsWith}, then index again)`;
    }
    return null;
  }

  private async encodeQuery(text: string, encoder: 'clip' | 'multilingual'): Promise<Float32Array[]> {
    if (encoder === 'clip') return (await this.clip()).encodeTexts([text]);
    if (!this.multilingual) {
      const entry = TEXT_CATALOG.find((e) => e.id === MULTILINGUAL_TEXT_ID)!;
      const dir = path.join(glancePaths(this.options.home).models, entry.id);
      const loading = MultilingualTextEncoder.load(
        dir,
        entry,
        this.options.threads ? { threads: this.options.threads } : {},
      );
      this.multilingual = loading;
      loading.catch(() => {
        if (this.multilingual === loading) this.multilingual = null;
      });
    }
    const encoder_ = await this.multilingual;
    const dim = this.store.embeddingDim(this.modelId);
    if (dim !== undefined && encoder_.dim !== dim) {
      throw new LibraryError(
        'text-model-missing',
        `the multilingual text model writes ${encoder_.dim} numbers, the library's photos have ${dim}: they cannot be compared`,
      );
    }
    return encoder_.encode([text]);
  }

  async search(q: SearchQuery): Promise<SearchHit[]> {
    const limit = q.limit ?? 20;
    if (!(limit > 0)) throw new LibraryError('bad-request', 'the limit must be above 0');
    if (limit > 1000 && (q.text !== undefined || q.like)) {
      throw new LibraryError('bad-request', 'a ranked search returns at most 1000 photos');
    }
    // a ranked search's filter set; filters alone are read in slices below
    const allowed = q.text !== undefined || q.like ? this.filter(q) : null;
    let query: Float32Array | undefined;
    let exclude: number | undefined;
    if (q.text !== undefined) {
      if (!q.text.trim()) throw new LibraryError('bad-request', 'the search text is empty');
      [query] = await this.encodeQuery(q.text, await this.textEncoderFor(q.text, q.lang));
    } else if (q.like) {
      ({ query, exclude } = await this.queryFor(q.like));
    }
    if (!query) {
      // Filters alone: newest first.
      const hits: SearchHit[] = [];
      for await (const rows of this.filteredRows(this.filterSql(q), limit)) {
        hits.push(...rows.map((r) => this.hit(r, null)));
      }
      return hits;
    }
    const index = this.vectors();
    if (q.text !== undefined) return this.textSearch(q.text, query, index, allowed, limit);
    if (!index) return [];
    if (exclude !== undefined && allowed) allowed.delete(exclude);
    const hits = index.search(query, exclude !== undefined ? limit + 1 : limit, allowed ?? undefined);
    return hits
      .filter((h) => h.id !== exclude)
      .slice(0, limit)
      .map((h: Hit) => this.hit(this.store.photoById(h.id)!, h.score));
  }

  /**
   * A text search: photos whose caption has the query's words first, fused with CLIP's ranking, then CLIP's other
   * hits (see fuseRankings in captions.ts for the rule and why). Scores stay CLIP's cosine similarities.
   */
  private textSearch(
    text: string,
    query: Float32Array,
    index: VectorIndex | null,
    allowed: Set<number> | null,
    limit: number,
  ): SearchHit[] {
    const fts = captionQuery(text);
    let matches = fts ? this.store.captionMatches(fts, CAPTION_CANDIDATES) : [];
    if (allowed) matches = matches.filter((id) => allowed.has(id));
    // CLIP's order over the matching photos alone, with exact scores
    const clipOfMatches = index && matches.length > 0 ? index.search(query, matches.length, new Set(matches)) : [];
    const clip = index ? index.search(query, limit, allowed ?? undefined) : [];
    return fuseRankings(matches, clipOfMatches, clip, limit).flatMap((h) => {
      const r = this.store.photoById(h.id); // a photo removed meanwhile drops out
      return r ? [this.hit(r, h.score)] : [];
    });
  }

  private async queryFor(
    like: { path: string } | { id: number } | { bytes: Uint8Array },
  ): Promise<{ query: Float32Array; exclude?: number }> {
    if (!('bytes' in like)) {
      const row = 'id' in like ? this.store.photoById(like.id) : this.store.photoByPath(path.resolve(like.path));
      const v = row ? this.vectors()?.vector(row.id) : undefined;
      if (row && v) return { query: v, exclude: row.id };
      if ('id' in like) throw new LibraryError('photo-not-indexed', `no photo with id ${like.id} in the library`);
    }
    const model = await this.clip();
    const input = 'bytes' in like ? like.bytes : path.resolve(like.path);
    const [query] = await model.encodeImageTensors([await model.preprocess(input)]);
    return { query: query! };
  }

  /**
   * An image that is not (or not yet) a library photo, as the window's Look view shows it: every vocabulary label
   * whose score is above the floor (with its margin over its threshold), and zero-shot
   * probabilities over the labels a person typed, in their order (softmax of CLIP's similarities times the model's
   * logit scale, as `glance classify` computes them). Nothing is stored.
   */
  async look(bytes: Uint8Array, labels: string[]): Promise<LookResult> {
    const typed = labels.map((l) => l.trim()).filter((l) => l.length > 0);
    if (typed.length === 1) throw new LibraryError('bad-request', 'give at least two labels to choose between');
    if (new Set(typed).size !== typed.length) throw new LibraryError('bad-request', 'the same label is given twice');
    const { query } = await this.queryFor({ bytes });
    const tagger = await this.getTagger();
    const threshold = this.threshold();
    const tags = tagger.score(query).map((t) => {
      const l = tagger.vocabulary.labels[t.label]!;
      return { name: l.name, score: t.margin, margin: t.margin - (l.threshold ?? threshold) };
    });
    if (typed.length === 0) return { tags, labels: [] };
    const embeddings = await labelEmbeddings(await this.clip(), typed);
    const probabilities = zeroShotProbabilities(query, embeddings, logitScaleFor(this.options.modelDir));
    return { tags, labels: typed.map((label, i) => ({ label, probability: probabilities[i]! })) };
  }

  /**
   * CLIP embeddings (L2-normalised, this library's model) in the order given: texts, images as bytes, and library
   * photos (their stored vector when indexed, else their file encoded). The local API's /v1/embeddings.
   */
  async embed(inputs: ({ text: string } | { bytes: Uint8Array } | { photoId: number })[]): Promise<Float32Array[]> {
    return embedInOrder(
      inputs,
      async (texts) => (await this.clip()).encodeTexts(texts),
      async (x) => (await this.queryFor('bytes' in x ? { bytes: x.bytes } : { id: x.photoId })).query,
    );
  }

  private hit(r: PhotoRow, score: number | null): SearchHit {
    return { id: r.id, path: r.path, score, takenAt: r.taken_at, thumbnail: thumbnailPath(this.thumbnailsDir, r.hash) };
  }

  /** The ids the filters allow, or null when there are no filters. */
  private filter(q: SearchQuery): Set<number> | null {
    const f = this.filterSql(q);
    if (!f) return null;
    const ids = this.db.prepare(`SELECT p.id AS id FROM photos p WHERE ${f.where}`).all(...f.args) as {
      id: number;
    }[];
    return new Set(ids.map((r) => r.id));
  }

  /** The filters as SQL conditions on `photos p`, or null when there are none. */
  private filterSql(q: SearchQuery): { where: string; args: unknown[] } | null {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.folder) {
      const abs = path.resolve(q.folder);
      where.push('(p.path = ? OR substr(p.path, 1, ?) = ?)');
      args.push(abs, abs.length + 1, abs + path.sep);
    }
    if (q.from !== undefined) {
      where.push('coalesce(p.taken_at, p.mtime_ms) >= ?');
      args.push(q.from);
    }
    if (q.to !== undefined) {
      where.push('coalesce(p.taken_at, p.mtime_ms) <= ?');
      args.push(q.to);
    }
    for (const tag of q.tags ?? []) {
      where.push(`p.id IN (${EFFECTIVE_TAG_SQL})`);
      args.push(tag, this.threshold());
    }
    return where.length === 0 ? null : { where: where.join(' AND '), args };
  }

  /**
   * The photos the filters allow, newest first (then by id), at most `limit`, a slice of rows at a time with the
   * event loop free between slices, so that a whole library never holds the engine: the matching ids and dates are
   * read in slices of id ranges, ordered here, and the rows read by id.
   */
  private async *filteredRows(
    filters: { where: string; args: unknown[] } | null,
    limit = Number.POSITIVE_INFINITY,
    slice = SLICE_ROWS,
  ): AsyncGenerator<PhotoRow[]> {
    const scan = this.db
      .prepare(
        `SELECT p.id, coalesce(p.taken_at, p.mtime_ms) FROM photos p
           WHERE p.id > ?${filters ? ` AND ${filters.where}` : ''} ORDER BY p.id LIMIT ?`,
      )
      .raw();
    const found: { id: number; at: number }[] = [];
    for (let after = 0; ; ) {
      const part = scan.all(after, ...(filters?.args ?? []), 10 * slice) as [number, number | null][];
      for (const [id, at] of part) found.push({ id, at: at ?? Number.NEGATIVE_INFINITY });
      if (part.length < 10 * slice) break;
      after = part[part.length - 1]![0];
      await yieldToLoop();
    }
    // stable: ids ascending within a date, as SQL's ORDER BY coalesce(taken_at, mtime_ms) DESC, id gave them
    found.sort((a, b) => b.at - a.at);
    const ids = found.length > limit ? found.slice(0, limit) : found;
    for (let at = 0; at < ids.length; at += slice) {
      await yieldToLoop();
      // by primary key, one at a time: a few microseconds each; a photo removed meanwhile is skipped
      const rows = ids
        .slice(at, at + slice)
        .map(({ id }) => this.store.photoById(id))
        .filter((r): r is PhotoRow => r !== undefined);
      if (rows.length > 0) yield rows;
    }
  }

  /**
   * Groups of near-duplicate photos, from nearest neighbours, in slices that leave the loop free; `onProgress`
   * between slices; rejects with "finding duplicates was cancelled" when `signal` aborts or the library closes.
   */
  async duplicates(
    threshold = 0.95,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<{ photos: SearchHit[]; similarity: number }[]> {
    if (!(threshold > 0 && threshold <= 1)) throw new LibraryError('bad-request', 'the similarity must be in (0, 1]');
    const index = this.vectors();
    if (!index) return [];
    const groups = await index.duplicates(threshold, {
      signal: signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal,
      ...(onProgress ? { onProgress } : {}),
    });
    return groups
      .map((g) => ({
        similarity: g.similarity,
        photos: g.ids.flatMap((id) => {
          const r = this.store.photoById(id); // a photo removed meanwhile drops out
          return r ? [this.hit(r, null)] : [];
        }),
      }))
      .filter((g) => g.photos.length > 1);
  }

  // ---- tags ----

  threshold(): number {
    const v = Number(this.store.setting('tag_threshold'));
    return Number.isFinite(v) && this.store.setting('tag_threshold') !== undefined ? v : DEFAULT_THRESHOLD;
  }

  setThreshold(v: number): void {
    if (!Number.isFinite(v) || v < 0 || v > 1)
      throw new LibraryError('bad-request', 'the threshold must be between 0 and 1');
    this.store.setSetting('tag_threshold', String(v));
  }

  /** A photo by path (the CLI) or id (the window). */
  private photo(ref: string | number): PhotoRow {
    const row = typeof ref === 'number' ? this.store.photoById(ref) : this.store.photoByPath(path.resolve(ref));
    if (!row) {
      throw new LibraryError(
        'photo-not-indexed',
        typeof ref === 'number'
          ? `no photo with id ${ref} in the library`
          : `${path.resolve(ref)} is not in the library: run glance index first`,
      );
    }
    return row;
  }

  /** A photo's facts, tags and shown caption, for the window's photo view and `glance show`; by id or path. */
  photoDetail(ref: number | string): PhotoDetail {
    const row = this.photo(ref);
    return { row, ...this.tags(row.id), caption: this.caption(row.id) };
  }

  /** The thumbnail file of a photo, when it has one: the window's protocol handler serves it by id. */
  thumbnailOf(id: number): string | null {
    const row = this.store.photoById(id);
    return row ? thumbnailPath(this.thumbnailsDir, row.hash) : null;
  }

  /** A photo's tags as a person sees them: their own, and the tagger's above the threshold, minus removals. */
  tags(ref: string | number): { tags: PhotoTag[]; candidates: PhotoTag[] } {
    const { tags, candidates } = this.tagMargins(ref);
    const plain = ({ margin: _, ...t }: MarginTag): PhotoTag => t;
    return { tags: tags.map(plain), candidates: candidates.map(plain) };
  }

  /**
   * tags(), each with its margin: how far the tagger's score is above (or, for a candidate, below) the threshold its
   * label must reach. A person's tag has none.
   */
  tagMargins(ref: string | number): { tags: MarginTag[]; candidates: MarginTag[] } {
    const row = this.photo(ref);
    const global = this.threshold();
    const tags: MarginTag[] = [];
    const candidates: MarginTag[] = [];
    // each row carries its label's own threshold: no read of the whole tag table per photo
    for (const { threshold, ...t } of this.store.photoTags(row.id)) {
      const margin = t.source === 'auto' ? (t.score ?? 0) - (threshold ?? global) : null;
      const shown = t.source === 'user' || (margin !== null && margin >= 0);
      if (shown) tags.push({ ...t, margin });
      else if (t.source === 'auto') candidates.push({ ...t, margin });
    }
    return { tags, candidates };
  }

  addTag(ref: string | number, tag: string): void {
    const name = cleanTag(tag);
    this.store.setTagSource(this.photo(ref).id, this.store.tagId(name), 'user');
  }

  removeTag(ref: string | number, tag: string): void {
    const name = cleanTag(tag);
    this.store.setTagSource(this.photo(ref).id, this.store.tagId(name), 'removed');
  }

  renameTag(from: string, to: string): boolean {
    return this.store.renameTag(cleanTag(from), cleanTag(to)) > 0;
  }

  // ---- captions ----

  /** The caption a photo shows: a person's own when there is one, else the newest model caption; null when none. */
  caption(photoId: number): ShownCaption | null {
    const c = this.store.shownCaption(photoId);
    return c ? { text: c.text, model: c.model, createdAt: c.created_at, edited: c.model === PERSON } : null;
  }

  /**
   * Stores a model's caption of a photo, replacing that model's previous one (one per photo and model). It shows
   * unless a person wrote one: theirs stays, this is kept beneath it. Returns the photo's shown caption.
   */
  setModelCaption(photoId: number, model: string, text: string): ShownCaption | null {
    const id = model.trim();
    if (!id) throw new LibraryError('bad-request', 'a model caption needs the id of its model');
    if (id === PERSON) {
      throw new LibraryError('bad-request', `"${PERSON}" is kept for a person's own captions: use setPersonCaption`);
    }
    const t = cleanCaption(text);
    if (!t) throw new LibraryError('bad-request', `the model ${id} gave an empty caption`);
    return this.db.transaction(() => {
      const row = this.photo(photoId); // in the transaction: a photo removed meanwhile is refused, not half-written
      this.store.putCaption(row.id, id, t, Date.now());
      return this.caption(row.id);
    })();
  }

  /**
   * A person's own caption: it shows, and no model caption or redo ever replaces it. Empty text (after trimming)
   * removes it, and the newest model caption shows again. Returns the photo's shown caption.
   */
  setPersonCaption(photoId: number, text: string): ShownCaption | null {
    const t = cleanCaption(text);
    return this.db.transaction(() => {
      const row = this.photo(photoId);
      if (t) this.store.putCaption(row.id, PERSON, t, Date.now());
      else this.store.deleteCaption(row.id, PERSON);
      return this.caption(row.id);
    })();
  }

  /**
   * The photos a caption job by `model` has left (in the given folders, or all), by id, with their count; see
   * CaptionQueue. Folder ids that are not in the library are refused.
   */
  photosToCaption(query: PhotosToCaptionQuery): { total: number; next(): PhotoToCaption | null } {
    if (!query.model.trim() || query.model === PERSON) {
      throw new LibraryError('bad-request', 'say which model the captions are by');
    }
    if (query.folderIds) {
      const known = new Set(this.store.folders().map((f) => f.id));
      const missing = query.folderIds.filter((id) => !known.has(id));
      if (missing.length > 0) {
        throw new LibraryError('folder-missing', `there is no folder ${missing.join(', ')} in the library`);
      }
    }
    return new CaptionQueue(this.store, query);
  }

  /**
   * Writes every photo's tags and shown caption (under a library folder, given by id or path, or all) to XMP sidecars.
   * A photo whose sidecar cannot be written (a malformed one is left untouched) is reported in `failed` and the
   * export goes on.
   */
  async exportXmp(
    folder?: string | number,
  ): Promise<{ photos: number; written: SidecarResult[]; failed: XmpFailure[] }> {
    const filters = folder === undefined ? null : this.filterSql({ folder: this.libraryFolder(folder) });
    const written: SidecarResult[] = [];
    const failed: XmpFailure[] = [];
    let photos = 0;
    // slices of rows, yielding between them: photos without tags write nothing and would otherwise never yield
    for await (const rows of this.filteredRows(filters)) {
      photos += rows.length;
      for (const r of rows) await this.exportOne(r, written, failed);
    }
    return { photos, written, failed };
  }

  /** One photo's sidecars, or why not. */
  private async exportOne(r: PhotoRow, written: SidecarResult[], failed: XmpFailure[]): Promise<void> {
    const { tags } = this.tags(r.id);
    const caption = this.caption(r.id);
    if (tags.length === 0 && !caption) return;
    const keywords = tags.map((t) => t.name);
    const hierarchical = tags.map((t) => (t.category ? `${t.category}|${t.name}` : t.name));
    try {
      written.push(
        ...(await writeXmpSidecars(r.path, {
          keywords,
          hierarchical,
          ...(caption ? { description: caption.text } : {}),
        })),
      );
    } catch (err) {
      failed.push({
        photo: r.path,
        sidecar: err instanceof XmpSidecarError ? err.sidecar : null,
        // a malformed sidecar's message names it; anything else is named by its photo
        message:
          err instanceof XmpSidecarError ? err.message : `${r.path}: ${err instanceof Error ? err.message : err}`,
      });
    }
  }

  /** A folder of the library (by id, or a path at or under one): anything else is refused, never widened to all. */
  private libraryFolder(folder: string | number): string {
    if (typeof folder === 'number') {
      const row = this.store.folders().find((f) => f.id === folder);
      if (!row) throw new LibraryError('folder-missing', `there is no folder ${folder} in the library`);
      return row.path;
    }
    const abs = path.resolve(folder);
    if (!this.store.folders().some((f) => abs === f.path || abs.startsWith(f.path + path.sep))) {
      throw new LibraryError('folder-missing', `${abs} is not in the library: add it with glance index first`);
    }
    return abs;
  }
}

/** A follow-up run's progress as part of the whole call: counts added, the rest the latest. */
function sumProgress(base: IndexProgress, p: IndexProgress): IndexProgress {
  return {
    ...p,
    found: base.found + p.found,
    total: base.total + p.total,
    done: base.done + p.done,
    unchanged: base.unchanged + p.unchanged,
    indexed: base.indexed + p.indexed,
    moved: base.moved + p.moved,
    removed: base.removed + p.removed,
    errors: base.errors + p.errors,
  };
}

/** A tag is effective for a photo when a person added it, or the tagger's margin reaches its threshold. */
const EFFECTIVE_TAG_SQL = `SELECT pt.photo_id FROM photo_tags pt JOIN tags t ON t.id = pt.tag_id
  WHERE t.name = ? AND (pt.source = 'user' OR (pt.source = 'auto' AND pt.score >= coalesce(t.threshold, ?)))`;

function cleanCaption(text: string): string {
  const t = text.trim();
  if (t.length > MAX_CAPTION_CHARS) {
    throw new LibraryError(
      'bad-request',
      `a caption is at most ${MAX_CAPTION_CHARS} characters (this one has ${t.length})`,
    );
  }
  return t;
}

function cleanTag(tag: string): string {
  const t = tag.trim().replace(/\s+/g, ' ');
  if (!t) throw new LibraryError('bad-request', 'a tag cannot be empty');
  if (t.length > 100) throw new LibraryError('bad-request', 'a tag is at most 100 characters');
  return t;
}
