// One indexing run over the library's folders. Incremental:
// - a file whose path, size and mtime are in the index (with an embedding for the current model) is not opened;
// - a new or changed file is read once: hashed, and decoded only if its content is new to the library;
// - a file whose content hash belongs to a file that vanished is a move: its row (and tags) follow it;
// - rows whose files are gone leave the index.
// Every batch is one transaction (rows, embeddings, tags together), so a killed process leaves a consistent
// database and the next run resumes where this one stopped.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
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
import { writeThumbnail } from './thumbnails.ts';

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
}

type Work =
  | { kind: 'moved'; file: ScannedFile; folder: FolderRow; row: PhotoRow }
  | { kind: 'known'; file: ScannedFile; folder: FolderRow; hash: string; facts: Facts }
  | { kind: 'new'; file: ScannedFile; folder: FolderRow; hash: string; facts: Facts; tensor: Float32Array };

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
): Promise<{ tensor: Float32Array; facts: Omit<Facts, 'takenAt'> }> {
  const decoded: DecodedImage = await decodeForModel(bytes, cfg, { label });
  await writeThumbnail(thumbnailsDir, hash, decoded);
  const tensor = toChwTensor(decoded.rgb, decoded.storedWidth, decoded.storedHeight, decoded.orientation, cfg);
  return { tensor, facts: { width: decoded.width, height: decoded.height, orientation: decoded.orientation } };
}

export class Indexer {
  private readonly abort = new AbortController();
  private pausedUntil: Promise<void> | null = null;
  private resumeFn: (() => void) | null = null;
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
    private readonly onProgress: (p: IndexProgress) => void = () => {},
  ) {}

  pause(): void {
    if (this.pausedUntil) return;
    this.pausedUntil = new Promise((resolve) => {
      this.resumeFn = resolve;
    });
    this.emit({ phase: 'paused' });
  }

  resume(): void {
    this.resumeFn?.();
    this.pausedUntil = null;
    this.resumeFn = null;
    this.emit({ phase: 'indexing' });
  }

  cancel(): void {
    this.abort.abort();
    this.resume();
  }

  private emit(patch: Partial<IndexProgress>): void {
    this.progress = { ...this.progress, ...patch };
    this.onProgress(this.progress);
  }

  async run(): Promise<IndexProgress> {
    const { store } = this.ctx;
    const signal = this.abort.signal;
    const todo: { file: ScannedFile; folder: FolderRow }[] = [];
    const gone = new Map<number, PhotoRow>();
    const goneByHash = new Map<string, PhotoRow>();

    for (const folder of this.folders) {
      const rows = new Map(store.photosInFolder(folder.id).map((r) => [r.path, r]));
      try {
        for await (const file of scanFolder(folder.path, { exclude: this.ctx.exclude, signal })) {
          this.emit({ found: this.progress.found + 1 });
          const row = rows.get(file.path);
          rows.delete(file.path);
          if (
            row &&
            row.size === file.size &&
            row.mtime_ms === file.mtimeMs &&
            store.hasEmbedding(row.hash, this.ctx.modelId)
          ) {
            this.progress.unchanged++;
            continue;
          }
          const bad = store.knownError(file.path);
          if (bad && bad.size === file.size && bad.mtime_ms === file.mtimeMs) {
            this.progress.errors++;
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

    const prepare = async ({ file, folder }: { file: ScannedFile; folder: FolderRow }): Promise<Work> => {
      if (file.size === 0) throw new ImageError('image-empty', `${file.path}: the file is empty (0 bytes)`);
      const bytes = await readFile(file.path);
      const hash = createHash('sha256').update(bytes).digest('hex');
      const movedFrom = goneByHash.get(hash);
      if (movedFrom && gone.has(movedFrom.id) && store.hasEmbedding(hash, this.ctx.modelId)) {
        goneByHash.delete(hash); // claimed: a second copy of the same content is a new photo
        return { kind: 'moved', file, folder, row: movedFrom };
      }
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
      const { tensor, facts } = await decodeNewPhoto(bytes, file.path, hash, cfg, this.ctx.thumbnailsDir);
      return { kind: 'new', file, folder, hash, facts: { ...facts, takenAt }, tensor };
    };

    try {
      for await (const batch of prefetchBatches(todo, prepare, {
        batchSize: this.ctx.batchSize ?? 8,
        concurrency: this.ctx.decoders ?? 3,
        signal,
      })) {
        if (this.pausedUntil) await this.pausedUntil;
        signal.throwIfAborted();
        const fresh = batch.filter((b) => b.prepared.ok && b.prepared.value.kind === 'new');
        const embeddings = fresh.length
          ? await this.ctx.model.encodeImageTensors(
              fresh.map((b) => (b.prepared as { value: Work & { kind: 'new' } }).value.tensor),
            )
          : [];
        const changed: { id: number; embedding: Float32Array }[] = [];
        store.db.transaction(() => {
          for (const b of batch) {
            const { file, folder } = b.item;
            if (!b.prepared.ok) {
              store.recordError(file.path, file.size, file.mtimeMs, b.prepared.error.code, b.prepared.error.message);
              // a file that became unreadable leaves the index rather than keep a stale embedding
              const stale = store.photoByPath(file.path);
              if (stale) gone.set(stale.id, stale);
              this.progress.errors++;
              continue;
            }
            const w = b.prepared.value;
            store.clearError(file.path);
            if (w.kind === 'moved') {
              store.movePhoto(w.row.id, {
                path: file.path,
                folderId: folder.id,
                size: file.size,
                mtimeMs: file.mtimeMs,
              });
              gone.delete(w.row.id);
              this.progress.moved++;
              continue;
            }
            const embedding =
              w.kind === 'new' ? embeddings[fresh.indexOf(b)]! : store.embedding(w.hash, this.ctx.modelId)!;
            if (w.kind === 'new') store.putEmbedding(w.hash, this.ctx.modelId, embedding);
            const { id } = store.upsertPhoto({
              path: file.path,
              folderId: folder.id,
              size: file.size,
              mtimeMs: file.mtimeMs,
              hash: w.hash,
              ...w.facts,
            });
            this.tag(id, embedding);
            changed.push({ id, embedding });
            this.progress.indexed++;
          }
        })();
        this.ctx.onCommit?.(changed, []);
        const done = this.progress.done + batch.length;
        const seconds = (performance.now() - started) / 1000;
        const rate = done / Math.max(seconds, 1e-3);
        this.emit({
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
    store.db.transaction(() => store.deletePhotos(removed))();
    this.ctx.onCommit?.([], removed);
    this.progress.removed = removed.length;
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
