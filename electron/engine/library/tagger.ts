// Multi-label tagging. For each label, CLIP's similarity to the label's prompt ensemble is compared with its
// similarity to a neutral ensemble ("a photo.", "a picture.", ...): the margin says how much better the label
// describes the photo than saying nothing in particular. A label is a tag when its margin reaches a threshold,
// the library-wide one or the label's own. Margins are stored, so a new threshold re-tags with a query.
import { createHash } from 'node:crypto';
import type { ClipModel } from '../../../native-models/clip/model.ts';
import { meanDirection } from '../../../native-models/clip/vector.ts';
import type { Db } from '../db/database.ts';
import type { LibraryStore } from './store.ts';
import type { Vocabulary } from './vocabulary.ts';

/** Labels kept per photo (with their margins) whatever the threshold, so threshold changes need no recompute. */
export const KEEP_PER_PHOTO = 24;
/** A margin below this never becomes a tag, whatever threshold is set. */
export const MARGIN_FLOOR = 0;
export const DEFAULT_THRESHOLD = 0.03;

export interface AutoTag {
  label: number;
  margin: number;
}

const promptsKey = (prompts: string[]) => createHash('sha256').update(JSON.stringify(prompts)).digest('hex');

export const toBlob = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
export const fromBlob = (b: Buffer) =>
  new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);

export class Tagger {
  private constructor(
    readonly vocabulary: Vocabulary,
    /** Row-major [labels, dim]. */
    private readonly matrix: Float32Array,
    private readonly neutral: Float32Array,
    readonly dim: number,
  ) {}

  /** Builds label embeddings, reading and filling a per-model cache in the database (the text tower is slow). */
  static async create(
    db: Db,
    model: Pick<ClipModel, 'encodeTexts'>,
    modelId: string,
    vocabulary: Vocabulary,
  ): Promise<Tagger> {
    const groups = [...vocabulary.labels.map((l) => l.prompts), vocabulary.neutral];
    const get = db.prepare<[string, string], { vector: Buffer }>(
      'SELECT vector FROM label_embeddings WHERE model = ? AND prompts_hash = ?',
    );
    const put = db.prepare('INSERT OR REPLACE INTO label_embeddings (model, prompts_hash, vector) VALUES (?, ?, ?)');
    const keys = groups.map(promptsKey);
    const vectors: (Float32Array | undefined)[] = keys.map((k) => {
      const row = get.get(modelId, k);
      return row ? fromBlob(row.vector) : undefined;
    });
    const missing = groups.map((_, i) => i).filter((i) => !vectors[i]);
    if (missing.length > 0) {
      // One pass through the text tower for every missing prompt, then one mean direction per label.
      const embeddings = await model.encodeTexts(missing.flatMap((i) => groups[i]!));
      let at = 0;
      db.transaction(() => {
        for (const i of missing) {
          const v = meanDirection(embeddings.slice(at, at + groups[i]!.length));
          at += groups[i]!.length;
          vectors[i] = v;
          put.run(modelId, keys[i]!, toBlob(v));
        }
      })();
    }
    const dim = vectors[0]!.length;
    const n = vocabulary.labels.length;
    const matrix = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) matrix.set(vectors[i]!, i * dim);
    return new Tagger(vocabulary, matrix, vectors[n]!, dim);
  }

  /** The auto-tag rows for one photo: each kept label as a tag id (created when new) with its margin. */
  rows(store: Pick<LibraryStore, 'labelTagId'>, embedding: Float32Array): { tagId: number; score: number }[] {
    const labels = this.vocabulary.labels;
    return this.score(embedding).map((t) => {
      const l = labels[t.label]!;
      return { tagId: store.labelTagId(l.name, l.category, l.threshold ?? null), score: t.margin };
    });
  }

  /** Margins of every label above the floor, best first, at most KEEP_PER_PHOTO. */
  score(embedding: Float32Array): AutoTag[] {
    const { dim } = this;
    let base = 0;
    for (let d = 0; d < dim; d++) base += embedding[d]! * this.neutral[d]!;
    const out: AutoTag[] = [];
    const n = this.vocabulary.labels.length;
    for (let i = 0; i < n; i++) {
      let s = 0;
      const o = i * dim;
      for (let d = 0; d < dim; d++) s += embedding[d]! * this.matrix[o + d]!;
      const margin = s - base;
      if (margin > MARGIN_FLOOR) out.push({ label: i, margin });
    }
    return out.sort((a, b) => b.margin - a.margin).slice(0, KEEP_PER_PHOTO);
  }
}

/**
 * Rows a whole-library job handles before it lets the event loop turn: at about 10-50 µs a row, a slice keeps the
 * engine's loop (chat tokens, progress, the window's requests) answering within tens of milliseconds.
 */
export const SLICE_ROWS = 500;

/** Lets the event loop run what is waiting (I/O, timers, messages) before the next slice. */
export const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Re-tags every photo from its stored embedding (no image is decoded), `slice` photos at a time, each slice in its
 * own transaction, yielding to the event loop between slices. Interrupted part way, the database stays consistent
 * (each photo has either its old or its new auto tags) and a new run redoes the whole library. Returns how many
 * photos.
 */
export async function retagInSlices(
  db: Db,
  store: Pick<LibraryStore, 'labelTagId' | 'replaceAutoTags'>,
  tagger: Tagger,
  modelId: string,
  slice = SLICE_ROWS,
): Promise<number> {
  const page = db.prepare<[string, number, number], { id: number; vector: Buffer }>(
    `SELECT p.id AS id, e.vector AS vector FROM photos p JOIN embeddings e ON e.hash = p.hash AND e.model = ?
       WHERE p.id > ? ORDER BY p.id LIMIT ?`,
  );
  const write = db.transaction((rows: { id: number; vector: Buffer }[]) => {
    for (const r of rows) store.replaceAutoTags(r.id, tagger.rows(store, fromBlob(r.vector)));
  });
  let count = 0;
  for (let after = 0; ; ) {
    const rows = page.all(modelId, after, slice);
    if (rows.length === 0) return count;
    write(rows);
    count += rows.length;
    after = rows[rows.length - 1]!.id;
    await yieldToLoop();
  }
}
