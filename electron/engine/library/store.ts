// The library's rows: every query the library runs, named, in one place.
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.ts';
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
    this.sql('INSERT OR IGNORE INTO folders (path, added_at) VALUES (?, ?)').run(p, Date.now());
    return this.folderByPath(p)!;
  }
  removeFolder(id: number): void {
    this.sql('DELETE FROM folders WHERE id = ?').run(id);
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

  /** Inserts or updates the row for a path; returns its id and whether its content changed. */
  upsertPhoto(f: PhotoFacts): { id: number; contentChanged: boolean } {
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
      return { id: Number(r.lastInsertRowid), contentChanged: true };
    }
    this.sql(
      `UPDATE photos SET folder_id = ?, path = ?, size = ?, mtime_ms = ?, hash = ?, width = ?, height = ?,
         orientation = ?, taken_at = ?, indexed_at = ? WHERE id = ?`,
    ).run(...args, before.id);
    return { id: before.id, contentChanged: before.hash !== f.hash };
  }

  /** A file that moved keeps its row, and with it its tags. */
  movePhoto(id: number, f: Pick<PhotoFacts, 'path' | 'folderId' | 'size' | 'mtimeMs'>): void {
    this.sql('UPDATE photos SET path = ?, folder_id = ?, size = ?, mtime_ms = ? WHERE id = ?').run(
      f.path,
      f.folderId,
      f.size,
      f.mtimeMs,
      id,
    );
  }

  deletePhotos(ids: number[]): void {
    const del = this.sql('DELETE FROM photos WHERE id = ?');
    for (const id of ids) del.run(id);
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
  /** Every indexed photo's embedding for a model, in one query, for loading the in-memory search index. */
  embeddingRows(model: string): { id: number; vector: Buffer }[] {
    return this.sql<[string], { id: number; vector: Buffer }>(
      'SELECT p.id AS id, e.vector AS vector FROM photos p JOIN embeddings e ON e.hash = p.hash AND e.model = ? ORDER BY p.id',
    ).all(model);
  }
  // ---- tags ----
  tagId(name: string, category: string | null = null, threshold: number | null = null): number {
    this.sql('INSERT OR IGNORE INTO tags (name, category, threshold) VALUES (?, ?, ?)').run(name, category, threshold);
    const row = this.sql<[string], { id: number }>('SELECT id FROM tags WHERE name = ?').get(name)!;
    return row.id;
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
