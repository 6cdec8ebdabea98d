// One indexing run over the library's folders. Incremental:
// - a file whose path, size and mtime are in the index (with an embedding for the current model) is not opened;
// - a new or changed file is read once: hashed, and decoded only if its content is new to the library;
// - a file whose content hash belongs to a file that vanished is a move: its row (and tags) follow it;
// - rows whose files are gone leave the index.
// Every batch is one transaction (rows, embeddings, tags together), so a killed process leaves a consistent
// database and the next run resumes where this one stopped. Content that a batch leaves unused (a changed or
// removed file's old embedding and thumbnail) is dropped in the same transaction, its file after the commit.
// Folders may be removed or adopted by a parent while a run is under way: each photo is filed under the folder that
// holds it at commit, and one whose folder is gone is skipped.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { ClipModel } from '../../../native-models/clip/model.ts';
import { prefetchBatches } from '../../../native-models/clip/pipeline.ts';
import { type DecodedImage, decodeForModel, toChwTensor } from '../../../native-models/clip/preprocess.ts';
import type { PreprocessConfig } from '../../../native-models/clip/preprocess-config.ts';
import { ImageError } from '../../../native-models/errors.ts';
import type { IndexProgressView } from '../../ipc/contract.ts';
import { captureTime } from './exif.ts';
import { type ScannedFile, scanFolder } from './scan.ts';
import type { FolderRow, LibraryStore, PhotoRow } from './store.ts';
import type { Tagger } from './tagger.ts';
import { removeThumbnails, writeThumbnail } from './thumbnails.ts';

/** The progress of a run, as the window and the CLI see it (the contract's type). */
export type IndexProgress = IndexProgressView;

export interface IndexContext {
  store: LibraryStore;
  model: Pick<ClipModel, 'encodeImageTensors' | 'preprocessConfig'>;
  modelId: string;
  tagger: Tagger;
  thumbnailsDir: string;
  /** Folders never entered (Glance's own data). */
  exclude: string[];
  batchSize?: number;
  /** Files prepared at once (read, hash, decode, thumbnail). */
  decoders?: number;
  /** Called after each committed batch with the photos whose embedding changed and those that left. */
  onCommit?: (changed: { id: number; embedding: Float32Array }[], removed: number[]) => void;
  /**
   * Hashes whose thumbnail is written but whose row may not be committed yet, shared with whoever else deletes
   * thumbnails in this process (folder removal, the start-up sweep), so that none deletes a file about to be used.
   */
  inflight?: Set<string>;
  /** Progress goes out at most this often (ms), besides phase changes and the end. Default 100. */
  progressMs?: number;
}

export const PROGRESS_MS = 100;

/**
 * Coalesces progress: a scan finds thousands of files a second, and one IPC message per file costs the indexing
 * the CPU it needs. A phase change (and with it the final event) goes out at once, after anything pending.
 */
function progressSender(send: (p: IndexProgress) => void, ms: number) {
  let last = Number.NEGATIVE_INFINITY;
  let lastPhase: IndexProgress['phase'] | null = null;
  let pending: IndexProgress | null = null;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!pending) return;
    const p = pending;
    pending = null;
    last = performance.now();
    lastPhase = p.phase;
    send(p);
  };
  return {
    push(p: IndexProgress): void {
      pending = p;
      const wait = ms - (performance.now() - last);
      if (p.phase !== lastPhase || wait <= 0) flush();
      else timer ??= setTimeout(flush, wait);
    },
    /** The run is over: nothing may follow its final event. */
    stop(): void {
      clearTimeout(timer);
      timer = undefined;
      pending = null;
    },
  };
}

type Work =
  | { kind: 'moved'; file: ScannedFile; folder: FolderRow; row: PhotoRow }
  | { kind: 'known'; file: ScannedFile; folder: FolderRow; hash: string; facts: Facts }
  | {
      kind: 'new';
      file: ScannedFile;
      folder: FolderRow;
      hash: string;
      facts: Facts;
      tensor: Float32Array;
      thumbnailBytes: number;
    };

interface Facts {
  width: number | null;
  height: number | null;
  orientation: number | null;
  takenAt: number | null;
}

/** The work a photo new to the library needs: one decode gives the model's tensor and the thumbnail. */
export async function decodeNewPhoto(
  bytes: Uint8Array,
  label: string,
  hash: string,
  cfg: PreprocessConfig,
  thumbnailsDir: string,
): Promise<{ tensor: Float32Array; facts: Omit<Facts, 'takenAt'>; thumbnailBytes: number }> {
  const decoded: DecodedImage = await decodeForModel(bytes, cfg, { label });
  const { bytes: thumbnailBytes } = await writeThumbnail(thumbnailsDir, hash, decoded);
  const tensor = toChwTensor(decoded.rgb, decoded.storedWidth, decoded.storedHeight, decoded.orientation, cfg);
  return {
    tensor,
    facts: { width: decoded.width, height: decoded.height, orientation: decoded.orientation },
    thumbnailBytes,
  };
}

interface PauseGate {
  /** Resolves on resume (or cancel). */
  resumed: Promise<void>;
  release: () => void;
  /** Resolves once the run has stopped writing: parked at a checkpoint, or over. */
  parked: Promise<void>;
  park: () => void;
  /** The phase to go back to on resume. */
  phase: IndexProgress['phase'];
}

export class Indexer {
  private readonly abort = new AbortController();
  private gate: PauseGate | null = null;
  private finished = false;
  private readonly sender: ReturnType<typeof progressSender>;
  private readonly inflight: Set<string>;
  /**
   * Hashes this run prepared a photo with (a thumbnail written, or an embedding it counts on): kept while the run
   * lasts, and judged at its end, when the content of photos it never committed is dropped.
   */
  private readonly touched = new Set<string>();
  private progress: IndexProgress = {
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

  constructor(
    private readonly ctx: IndexContext,
    private readonly folders: FolderRow[],
    onProgress: (p: IndexProgress) => void = () => {},
  ) {
    this.sender = progressSender(onProgress, ctx.progressMs ?? PROGRESS_MS);
    this.inflight = ctx.inflight ?? new Set();
  }

  /**
   * Stops writing at the next checkpoint (between files while scanning, before a batch is encoded and before it is
   * committed). Resolves once the run has stopped: from then until resume, no photo is indexed.
   */
  pause(): Promise<void> {
    if (this.finished) return Promise.resolve();
    if (!this.gate) {
      let release!: () => void;
      let park!: () => void;
      const resumed = new Promise<void>((r) => {
        release = r;
      });
      const parked = new Promise<void>((r) => {
        park = r;
      });
      this.gate = { resumed, release, parked, park, phase: this.progress.phase };
      this.emit({ phase: 'paused' });
    }
    return this.gate.parked;
  }

  resume(): void {
    const gate = this.gate;
    if (!gate) return;
    this.gate = null;
    gate.park();
    gate.release();
    if (!this.finished) this.emit({ phase: gate.phase });
  }

  cancel(): void {
    this.abort.abort();
    this.resume();
  }

  /** Waits here while paused. */
  private async checkpoint(): Promise<void> {
    const gate = this.gate;
    if (!gate) return;
    gate.park();
    await gate.resumed;
  }

  private emit(patch: Partial<IndexProgress>): void {
    this.progress = { ...this.progress, ...patch };
    this.sender.push(this.progress);
  }

  /** The library folder that holds a file now (folders may be removed or adopted while a run is under way). */
  private folderOf(file: string, live: FolderRow[]): FolderRow | undefined {
    return live.find((f) => file === f.path || file.startsWith(f.path + path.sep));
  }

  /** Deletes the thumbnails of dropped content unless a photo (or a write under way in this process) uses it. */
  private removeThumbnails(hashes: string[]): void {
    const { store, thumbnailsDir } = this.ctx;
    // closed under a cancelled run (the library closing): the start-up sweep collects what is left
    if (hashes.length === 0 || !store.db.open) return;
    removeThumbnails(thumbnailsDir, hashes, (h) => this.inflight.has(h) || store.isContentUsed(h));
  }

  async run(): Promise<IndexProgress> {
    const preparing = new Set<Promise<unknown>>();
    try {
      return await this.runIndex(preparing);
    } finally {
      this.finished = true;
      this.gate?.park(); // a pause() that came too late to stop anything has nothing left to wait for
      this.sender.stop();
      // Decodes still under way (a cancel, an error) finish before their content is judged.
      await Promise.allSettled(preparing);
      for (const h of this.touched) this.inflight.delete(h);
      const { store } = this.ctx;
      if (store.db.open && this.touched.size > 0) {
        this.removeThumbnails(store.db.transaction(() => store.dropUnusedContent(this.touched))());
      }
    }
  }

  private async runIndex(preparing: Set<Promise<unknown>>): Promise<IndexProgress> {
    const { store } = this.ctx;
    const signal = this.abort.signal;
    const todo: { file: ScannedFile; folder: FolderRow }[] = [];
    const gone = new Map<number, PhotoRow>();
    const goneByHash = new Map<string, PhotoRow>();

    for (const folder of this.folders) {
      const rows = new Map(store.photosInFolder(folder.id).map((r) => [r.path, r]));
      try {
        for await (const file of scanFolder(folder.path, { exclude: this.ctx.exclude, signal })) {
          await this.checkpoint();
          this.emit({ found: this.progress.found + 1 });
          const row = rows.get(file.path);
          rows.delete(file.path);
          if (
            row &&
            row.size === file.size &&
            row.mtime_ms === file.mtimeMs &&
            store.hasEmbedding(row.hash, this.ctx.modelId)
          ) {
            this.emit({ unchanged: this.progress.unchanged + 1 });
            continue;
          }
          const bad = store.knownError(file.path);
          if (bad && bad.size === file.size && bad.mtime_ms === file.mtimeMs) {
            this.emit({ errors: this.progress.errors + 1 });
            continue; // the same broken file as last time: not retried until it changes
          }
          todo.push({ file, folder });
        }
      } catch (err) {
        if (signal.aborted) return this.finish('cancelled');
        throw err;
      }
      for (const r of rows.values()) {
        gone.set(r.id, r);
        goneByHash.set(r.hash, r);
      }
    }

    this.emit({ phase: 'indexing', total: todo.length });
    const started = performance.now();
    const cfg = this.ctx.model.preprocessConfig;

    const prepare = (item: { file: ScannedFile; folder: FolderRow }): Promise<Work> => {
      const p = prepareOne(item);
      preparing.add(p);
      void p.then(
        () => preparing.delete(p),
        () => preparing.delete(p),
      );
      return p;
    };
    const prepareOne = async ({ file, folder }: { file: ScannedFile; folder: FolderRow }): Promise<Work> => {
      // a decode still queued when the run ends never starts (its thumbnail would outlive the clean-up)
      if (this.finished) throw new Error('the index run is over');
      if (file.size === 0) throw new ImageError('image-empty', `${file.path}: the file is empty (0 bytes)`);
      const bytes = await readFile(file.path);
      const hash = createHash('sha256').update(bytes).digest('hex');
      const movedFrom = goneByHash.get(hash);
      if (movedFrom && gone.has(movedFrom.id) && store.hasEmbedding(hash, this.ctx.modelId)) {
        goneByHash.delete(hash); // claimed: a second copy of the same content is a new photo
        return { kind: 'moved', file, folder, row: movedFrom };
      }
      // Marked before anything is written or counted on: nothing in this process drops this content (rows or
      // thumbnail) until the run is over.
      this.inflight.add(hash);
      this.touched.add(hash);
      const takenAt = await captureTime(bytes);
      if (store.hasEmbedding(hash, this.ctx.modelId)) {
        const meta = await sharp(bytes, { limitInputPixels: false })
          .metadata()
          .catch(() => null);
        const swap = (meta?.orientation ?? 1) >= 5;
        const facts = {
          width: (swap ? meta?.height : meta?.width) ?? null,
          height: (swap ? meta?.width : meta?.height) ?? null,
          orientation: meta?.orientation ?? null,
          takenAt,
        };
        return { kind: 'known', file, folder, hash, facts };
      }
      const { tensor, facts, thumbnailBytes } = await decodeNewPhoto(
        bytes,
        file.path,
        hash,
        cfg,
        this.ctx.thumbnailsDir,
      );
      return { kind: 'new', file, folder, hash, facts: { ...facts, takenAt }, tensor, thumbnailBytes };
    };

    try {
      for await (const batch of prefetchBatches(todo, prepare, {
        batchSize: this.ctx.batchSize ?? 8,
        concurrency: this.ctx.decoders ?? 3,
        signal,
      })) {
        await this.checkpoint();
        signal.throwIfAborted();
        const fresh = batch.filter((b) => b.prepared.ok && b.prepared.value.kind === 'new');
        const embeddings = fresh.length
          ? await this.ctx.model.encodeImageTensors(
              fresh.map((b) => (b.prepared as { value: Work & { kind: 'new' } }).value.tensor),
            )
          : [];
        // Checked again after the encode: once pause() has returned, no batch is committed until resume.
        await this.checkpoint();
        signal.throwIfAborted();
        const changed: { id: number; embedding: Float32Array }[] = [];
        let errors = this.progress.errors;
        let moved = this.progress.moved;
        let indexed = this.progress.indexed;
        const dropped = store.db.transaction(() => {
          const live = store.folders();
          const replaced: string[] = [];
          for (const b of batch) {
            const { file } = b.item;
            const folder = this.folderOf(file.path, live);
            if (!folder) continue; // its folder left the library during the run
            if (!b.prepared.ok) {
              store.recordError(file.path, file.size, file.mtimeMs, b.prepared.error.code, b.prepared.error.message);
              // a file that became unreadable leaves the index rather than keep a stale embedding
              const stale = store.photoByPath(file.path);
              if (stale) gone.set(stale.id, stale);
              errors++;
              continue;
            }
            const w = b.prepared.value;
            store.clearError(file.path);
            if (w.kind === 'moved') {
              const kept = store.movePhoto(w.row.id, {
                path: file.path,
                folderId: folder.id,
                size: file.size,
                mtimeMs: file.mtimeMs,
              });
              gone.delete(w.row.id);
              if (kept) moved++; // else its row left with a removed folder: the next run indexes the file
              continue;
            }
            const embedding =
              w.kind === 'new' ? embeddings[fresh.indexOf(b)]! : store.embedding(w.hash, this.ctx.modelId);
            if (!embedding) continue; // dropped by another process meanwhile: the next run indexes the file
            if (w.kind === 'new') {
              store.putEmbedding(w.hash, this.ctx.modelId, embedding);
              store.putThumbnail(w.hash, w.thumbnailBytes);
            }
            const { id, previousHash } = store.upsertPhoto({
              path: file.path,
              folderId: folder.id,
              size: file.size,
              mtimeMs: file.mtimeMs,
              hash: w.hash,
              ...w.facts,
            });
            if (previousHash) replaced.push(previousHash);
            this.tag(id, embedding);
            changed.push({ id, embedding });
            indexed++;
          }
          return store.dropUnusedContent(replaced, (h) => this.inflight.has(h));
        })();
        this.removeThumbnails(dropped);
        this.ctx.onCommit?.(changed, []);
        const done = this.progress.done + batch.length;
        const seconds = (performance.now() - started) / 1000;
        const rate = done / Math.max(seconds, 1e-3);
        this.emit({
          errors,
          moved,
          indexed,
          done,
          filesPerSecond: rate,
          etaSeconds: rate > 0 ? (todo.length - done) / rate : null,
          current: batch[batch.length - 1]!.item.file.path,
        });
      }
    } catch (err) {
      if (signal.aborted) return this.finish('cancelled');
      throw err;
    }

    const removed = [...gone.keys()];
    const dropped = store.db.transaction(() =>
      store.dropUnusedContent(store.deletePhotos(removed), (h) => this.inflight.has(h)),
    )();
    this.removeThumbnails(dropped);
    this.ctx.onCommit?.([], removed);
    this.progress = { ...this.progress, removed: removed.length };
    return this.finish('done');
  }

  /** Auto tags from the embedding; rows a person set are never touched (see LibraryStore.replaceAutoTags). */
  private tag(photoId: number, embedding: Float32Array): void {
    const { store, tagger } = this.ctx;
    store.replaceAutoTags(photoId, tagger.rows(store, embedding));
  }

  private finish(phase: 'done' | 'cancelled'): IndexProgress {
    this.emit({ phase, current: null, etaSeconds: 0 });
    return this.progress;
  }
}
