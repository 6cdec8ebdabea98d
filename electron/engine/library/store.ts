// The library's rows: every query the library runs, named, in one place.
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.ts';
import { PERSON, type PhotosToCaptionQuery, type PhotoToCaption } from './captions.ts';
import { fromBlob, toBlob } from './tagger.ts';

export interface FolderRow {
  id: number;
  path: string;
  added_at: number;
}

export interface PhotoRow {
  id: number;
  folder_id: number;
  path: string;
  size: number;
  mtime_ms: number;
  hash: string;
  width: number | null;
  height: number | null;
  orientation: number | null;
  taken_at: number | null;
  indexed_at: number;
}

export interface PhotoFacts {
  path: string;
  folderId: number;
  size: number;
  mtimeMs: number;
  hash: string;
  width: number | null;
  height: number | null;
  orientation: number | null;
  takenAt: number | null;
}

export type TagSource = 'auto' | 'user' | 'removed';

export interface PhotoTag {
  name: string;
  category: string | null;
  source: TagSource;
  score: number | null;
}

export class LibraryStore {
  private statements = new Map<string, Statement>();
  constructor(readonly db: Db) {}

  /** Prepared once, reused: the indexer runs these thousands of times. */
  private sql<P extends unknown[] = unknown[], R = unknown>(source: string): Statement<P, R> {
    let s = this.statements.get(source);
    if (!s) {
      s = this.db.prepare(source);
      this.statements.set(source, s);
    }
    return s as unknown as Statement<P, R>;
  }

  // ---- folders ----
  folders(): FolderRow[] {
    return this.sql<[], FolderRow>('SELECT * FROM folders ORDER BY path').all();
  }
  folderByPath(p: string): FolderRow | undefined {
    return this.sql<[string], FolderRow>('SELECT * FROM folders WHERE path = ?').get(p);
  }
  addFolder(p: string): FolderRow {
    this.sql('INSERT OR IGNORE INTO folders (id, path, added_at) VALUES ((SELECT last + 1 FROM folder_ids), ?, ?)').run(
      p,
      Date.now(),
    );
    return this.folderByPath(p)!;
  }
  removeFolder(id: number): void {
    this.sql('DELETE FROM folders WHERE id = ?').run(id);
  }
  /**
   * Every folder with its photo count and the bytes its photos' content takes in the cache: thumbnails (their sizes
   * are rows) and one embedding of `embeddingBytes` per content. Content shared by two folders counts in both.
   * The embeddings table is not read: its vectors make a scan of it cost seconds at 100,000 photos.
   */
  folderUsage(embeddingBytes: number): { id: number; path: string; photos: number; cacheBytes: number }[] {
    return this.sql<[number], { id: number; path: string; photos: number; cacheBytes: number }>(
      `SELECT f.id AS id, f.path AS path, coalesce(n.photos, 0) AS photos,
         coalesce(u.thumbnails, 0) + coalesce(u.contents, 0) * ? AS cacheBytes
       FROM folders f
       LEFT JOIN (SELECT folder_id, count(*) AS photos FROM photos GROUP BY folder_id) n ON n.folder_id = f.id
       LEFT JOIN (
         SELECT c.folder_id AS folder_id, count(*) AS contents, sum(t.bytes) AS thumbnails
         FROM (SELECT DISTINCT folder_id, hash FROM photos) c LEFT JOIN thumbnails t ON t.hash = c.hash
         GROUP BY c.folder_id) u ON u.folder_id = f.id
       ORDER BY f.path`,
    ).all(embeddingBytes);
  }
  /** The bytes the whole cache takes, each content once (see folderUsage). */
  cacheBytes(embeddingBytes: number): number {
    return (
      this.sql<[number], { n: number }>(
        `SELECT coalesce((SELECT sum(bytes) FROM thumbnails), 0)
           + (SELECT count(DISTINCT hash) FROM photos) * ? AS n`,
      ).get(embeddingBytes)?.n ?? 0
    );
  }

  // ---- photos ----
  photosInFolder(folderId: number): PhotoRow[] {
    return this.sql<[number], PhotoRow>('SELECT * FROM photos WHERE folder_id = ?').all(folderId);
  }
  photoByPath(p: string): PhotoRow | undefined {
    return this.sql<[string], PhotoRow>('SELECT * FROM photos WHERE path = ?').get(p);
  }
  photoById(id: number): PhotoRow | undefined {
    return this.sql<[number], PhotoRow>('SELECT * FROM photos WHERE id = ?').get(id);
  }
  photoByHash(hash: string): PhotoRow | undefined {
    return this.sql<[string], PhotoRow>('SELECT * FROM photos WHERE hash = ? LIMIT 1').get(hash);
  }
  photoCount(): number {
    return (this.sql('SELECT count(*) AS n FROM photos').get() as { n: number }).n;
  }

  /**
   * Inserts or updates the row for a path; returns its id and, when the path held other content before, that
   * content's hash (which may now be unused: see dropUnusedContent).
   */
  upsertPhoto(f: PhotoFacts): { id: number; previousHash: string | null } {
    const before = this.photoByPath(f.path);
    const args = [
      f.folderId,
      f.path,
      f.size,
      f.mtimeMs,
      f.hash,
      f.width,
      f.height,
      f.orientation,
      f.takenAt,
      Date.now(),
    ];
    if (!before) {
      const r = this.sql(
        `INSERT INTO photos (folder_id, path, size, mtime_ms, hash, width, height, orientation, taken_at, indexed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(...args);
      return { id: Number(r.lastInsertRowid), previousHash: null };
    }
    this.sql(
      `UPDATE photos SET folder_id = ?, path = ?, size = ?, mtime_ms = ?, hash = ?, width = ?, height = ?,
         orientation = ?, taken_at = ?, indexed_at = ? WHERE id = ?`,
    ).run(...args, before.id);
    return { id: before.id, previousHash: before.hash !== f.hash ? before.hash : null };
  }

  /** A file that moved keeps its row, and with it its tags. False when the row is gone (its folder was removed). */
  movePhoto(id: number, f: Pick<PhotoFacts, 'path' | 'folderId' | 'size' | 'mtimeMs'>): boolean {
    const r = this.sql('UPDATE photos SET path = ?, folder_id = ?, size = ?, mtime_ms = ? WHERE id = ?').run(
      f.path,
      f.folderId,
      f.size,
      f.mtimeMs,
      id,
    );
    return r.changes > 0;
  }

  /** Deletes the rows; returns the hashes they held (which may now be unused: see dropUnusedContent). */
  deletePhotos(ids: number[]): string[] {
    const del = this.sql<[number], { hash: string }>('DELETE FROM photos WHERE id = ? RETURNING hash');
    return ids.flatMap((id) => del.all(id).map((r) => r.hash));
  }
  hashesInFolder(folderId: number): string[] {
    return this.sql<[number], { hash: string }>('SELECT DISTINCT hash FROM photos WHERE folder_id = ?')
      .all(folderId)
      .map((r) => r.hash);
  }

  // ---- content: embeddings and thumbnails, shared by every photo with the same hash ----
  isContentUsed(hash: string): boolean {
    return this.sql('SELECT 1 FROM photos WHERE hash = ? LIMIT 1').get(hash) !== undefined;
  }
  /**
   * Of these hashes, those no photo uses any more lose their embeddings (every model) and their thumbnail row.
   * Run it in the transaction that made them unused; returns them, so that their files go after the commit.
   * `keep`: content a photo is about to use (an index run has it prepared), left for that run to judge.
   */
  dropUnusedContent(hashes: Iterable<string>, keep: (hash: string) => boolean = () => false): string[] {
    const dropped: string[] = [];
    for (const hash of new Set(hashes)) {
      if (keep(hash) || this.isContentUsed(hash)) continue;
      this.sql('DELETE FROM embeddings WHERE hash = ?').run(hash);
      this.sql('DELETE FROM thumbnails WHERE hash = ?').run(hash);
      dropped.push(hash);
    }
    return dropped;
  }
  putThumbnail(hash: string, bytes: number): void {
    this.sql('INSERT OR REPLACE INTO thumbnails (hash, bytes) VALUES (?, ?)').run(hash, bytes);
  }
  hasThumbnailRow(hash: string): boolean {
    return this.sql('SELECT 1 FROM thumbnails WHERE hash = ?').get(hash) !== undefined;
  }

  // ---- embeddings ----
  hasEmbedding(hash: string, model: string): boolean {
    return this.sql('SELECT 1 FROM embeddings WHERE hash = ? AND model = ?').get(hash, model) !== undefined;
  }
  embedding(hash: string, model: string): Float32Array | undefined {
    const row = this.sql<[string, string], { vector: Buffer }>(
      'SELECT vector FROM embeddings WHERE hash = ? AND model = ?',
    ).get(hash, model);
    return row ? fromBlob(row.vector) : undefined;
  }
  putEmbedding(hash: string, model: string, v: Float32Array): void {
    this.sql('INSERT OR REPLACE INTO embeddings (hash, model, vector) VALUES (?, ?, ?)').run(hash, model, toBlob(v));
  }
  /** The embedding size of a model, or undefined when the library has none of its embeddings. */
  embeddingDim(model: string): number | undefined {
    const row = this.sql<[string], { n: number }>(
      'SELECT length(e.vector) / 4 AS n FROM embeddings e JOIN photos p ON p.hash = e.hash WHERE e.model = ? LIMIT 1',
    ).get(model);
    return row?.n;
  }
  /**
   * Every indexed photo's embedding for a model, one row at a time (a million rows are 2 GB of floats: never all at
   * once), for building the search index. The statement holds the connection until the iteration ends.
   */
  embeddingRows(model: string): IterableIterator<{ id: number; vector: Buffer }> {
    return this.sql<[string], { id: number; vector: Buffer }>(
      'SELECT p.id AS id, e.vector AS vector FROM photos p JOIN embeddings e ON e.hash = p.hash AND e.model = ? ORDER BY p.id',
    ).iterate(model);
  }
  // ---- tags ----
  /** A person's tag: created when new; an existing tag (a vocabulary label's too) keeps its category and threshold. */
  tagId(name: string): number {
    this.sql('INSERT OR IGNORE INTO tags (name) VALUES (?)').run(name);
    return this.sql<[string], { id: number }>('SELECT id FROM tags WHERE name = ?').get(name)!.id;
  }
  /** A vocabulary label's tag: its category and threshold follow the vocabulary in use (written only on change). */
  labelTagId(name: string, category: string | null, threshold: number | null): number {
    this.sql(
      `INSERT INTO tags (name, category, threshold) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET category = excluded.category, threshold = excluded.threshold
         WHERE category IS NOT excluded.category OR threshold IS NOT excluded.threshold`,
    ).run(name, category, threshold);
    return this.sql<[string], { id: number }>('SELECT id FROM tags WHERE name = ?').get(name)!.id;
  }
  /** The tagger's rows for a photo are replaced; a person's additions and removals stay as they are. */
  replaceAutoTags(photoId: number, tags: { tagId: number; score: number }[]): void {
    this.sql("DELETE FROM photo_tags WHERE photo_id = ? AND source = 'auto'").run(photoId);
    const ins = this.sql("INSERT OR IGNORE INTO photo_tags (photo_id, tag_id, source, score) VALUES (?, ?, 'auto', ?)");
    for (const t of tags) ins.run(photoId, t.tagId, t.score);
  }
  setTagSource(photoId: number, tagId: number, source: 'user' | 'removed'): void {
    this.sql(
      `INSERT INTO photo_tags (photo_id, tag_id, source, score) VALUES (?, ?, ?, NULL)
         ON CONFLICT (photo_id, tag_id) DO UPDATE SET source = excluded.source`,
    ).run(photoId, tagId, source);
  }
  /** All of a photo's tag rows, auto ones with their scores, each with its label's own threshold. */
  photoTags(photoId: number): (PhotoTag & { threshold: number | null })[] {
    return this.sql<[number], PhotoTag & { threshold: number | null }>(
      `SELECT t.name AS name, t.category AS category, pt.source AS source, pt.score AS score, t.threshold AS threshold
         FROM photo_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.photo_id = ?
         ORDER BY pt.source = 'auto', pt.score DESC, t.name`,
    ).all(photoId);
  }
  renameTag(from: string, to: string): number {
    const src = this.sql<[string], { id: number }>('SELECT id FROM tags WHERE name = ?').get(from);
    if (!src) return 0;
    const dst = this.sql<[string], { id: number }>('SELECT id FROM tags WHERE name = ?').get(to);
    if (!dst || dst.id === src.id) {
      this.sql('UPDATE tags SET name = ? WHERE id = ?').run(to, src.id);
      return 1;
    }
    // Merge into the existing tag: a person's own rows win over the tagger's.
    this.sql(
      `INSERT INTO photo_tags (photo_id, tag_id, source, score)
         SELECT photo_id, ?, source, score FROM photo_tags WHERE tag_id = ? AND true
         ON CONFLICT (photo_id, tag_id) DO UPDATE SET source = excluded.source, score = excluded.score
         WHERE excluded.source <> 'auto'`,
    ).run(dst.id, src.id);
    this.sql('DELETE FROM tags WHERE id = ?').run(src.id);
    return 1;
  }

  // ---- captions (migration 6: triggers keep caption_fts in step with these rows) ----
  /** A photo's shown caption: a person's when there is one, else the newest model caption. */
  shownCaption(photoId: number): { text: string; model: string; created_at: number } | undefined {
    return this.sql<[number], { text: string; model: string; created_at: number }>(
      `SELECT text, model, created_at FROM captions WHERE photo_id = ?
         ORDER BY model = '${PERSON}' DESC, created_at DESC, model LIMIT 1`,
    ).get(photoId);
  }
  /** One caption per photo and model: a new one replaces the model's previous one. */
  putCaption(photoId: number, model: string, text: string, createdAt: number): void {
    this.sql(
      `INSERT INTO captions (photo_id, model, text, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (photo_id, model) DO UPDATE SET text = excluded.text, created_at = excluded.created_at`,
    ).run(photoId, model, text, createdAt);
  }
  deleteCaption(photoId: number, model: string): void {
    this.sql('DELETE FROM captions WHERE photo_id = ? AND model = ?').run(photoId, model);
  }
  /** Photos whose shown caption matches an FTS5 query, best bm25 first, at most `limit`. */
  captionMatches(query: string, limit: number): number[] {
    return this.sql<[string, number], { id: number }>(
      'SELECT rowid AS id FROM caption_fts WHERE caption_fts MATCH ? ORDER BY bm25(caption_fts), rowid LIMIT ?',
    )
      .all(query, limit)
      .map((r) => r.id);
  }

  // A photo needs a caption by a model when it has no person's caption and no current caption by that model (one
  // at or after redoBefore, when redoing). The folder list travels as JSON so that one prepared statement serves
  // every query.
  private static readonly CAPTIONED = `c.model IN ('${PERSON}', @model)
    AND (c.model = '${PERSON}' OR @redo IS NULL OR c.created_at >= @redo)`;
  private static readonly IN_FOLDERS = '(@folders IS NULL OR p.folder_id IN (SELECT value FROM json_each(@folders)))';
  /** For a few photos: primary-key lookups on captions (photo_id, model). */
  private static readonly NEEDS_CAPTION = `NOT EXISTS (SELECT 1 FROM captions c WHERE c.photo_id = p.id
      AND ${LibraryStore.CAPTIONED}) AND ${LibraryStore.IN_FOLDERS}`;
  private static captionArgs(q: PhotosToCaptionQuery) {
    return { model: q.model, redo: q.redoBefore ?? null, folders: q.folderIds ? JSON.stringify(q.folderIds) : null };
  }
  /**
   * How many photos need a caption by the model. The captioned ids come from the captions_model index as one list
   * (a Bloom filter): 23 ms at 100,000 photos and 60,000 captions, where a lookup per photo takes 50.
   */
  captionsMissingCount(q: PhotosToCaptionQuery): number {
    return (
      this.sql<[object], { n: number }>(
        `SELECT count(*) AS n FROM photos p WHERE ${LibraryStore.IN_FOLDERS}
           AND p.id NOT IN (SELECT c.photo_id FROM captions c WHERE ${LibraryStore.CAPTIONED})`,
      ).get(LibraryStore.captionArgs(q))?.n ?? 0
    );
  }
  /** The next `limit` photos after id `after` that need a caption by the model, by id. */
  captionsMissingPage(q: PhotosToCaptionQuery, after: number, limit: number): PhotoToCaption[] {
    return this.sql<[object], PhotoToCaption>(
      `SELECT p.id AS id, p.path AS path FROM photos p WHERE p.id > @after AND ${LibraryStore.NEEDS_CAPTION}
         ORDER BY p.id LIMIT @limit`,
    ).all({ ...LibraryStore.captionArgs(q), after, limit });
  }
  /** Whether one photo (still there) needs a caption by the model. */
  captionMissing(id: number, q: PhotosToCaptionQuery): boolean {
    return (
      this.sql<[object], { id: number }>(
        `SELECT p.id AS id FROM photos p WHERE p.id = @id AND ${LibraryStore.NEEDS_CAPTION}`,
      ).get({ ...LibraryStore.captionArgs(q), id }) !== undefined
    );
  }

  // ---- errors ----
  recordError(p: string, size: number, mtimeMs: number, code: string, message: string): void {
    this.sql(
      'INSERT OR REPLACE INTO index_errors (path, size, mtime_ms, code, message, at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(p, size, mtimeMs, code, message, Date.now());
  }
  clearError(p: string): void {
    this.sql('DELETE FROM index_errors WHERE path = ?').run(p);
  }
  errors(): { path: string; code: string; message: string; at: number }[] {
    return this.sql<[], { path: string; code: string; message: string; at: number }>(
      'SELECT path, code, message, at FROM index_errors ORDER BY path',
    ).all();
  }
  knownError(p: string): { size: number; mtime_ms: number } | undefined {
    return this.sql<[string], { size: number; mtime_ms: number }>(
      'SELECT size, mtime_ms FROM index_errors WHERE path = ?',
    ).get(p);
  }

  // ---- settings ----
  setting(key: string): string | undefined {
    return this.sql<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(key)?.value;
  }
  setSetting(key: string, value: string): void {
    this.sql('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)').run(key, value);
  }
}
