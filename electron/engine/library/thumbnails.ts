// Thumbnails: WebP, about 256 px on the long side, named by content hash (a moved file keeps its thumbnail),
// made from the pixels already decoded for the embedding, so a photo is decoded once per index.
// A thumbnail file exists before the row that points to it is committed, and is deleted only after the row that
// used it is gone: a crash in between leaves a file with no row, which the start-up sweep removes, never a row
// without its file.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { type DecodedImage, uprightRgb } from '../../../native-models/clip/preprocess.ts';

export const THUMBNAIL_SIZE = 256;

/**
 * How old a temporary file or a thumbnail no photo uses must be before the sweep deletes it: another process (the
 * CLI beside the window) may be writing it, or about to commit the row that uses it.
 */
export const SWEEP_AGE_MS = 60 * 60 * 1000;

const THUMBNAIL_NAME = /^([0-9a-f]{64})\.webp$/;
const TEMP_NAME = /\.tmp$/;

export function thumbnailPath(dir: string, hash: string): string {
  return path.join(dir, hash.slice(0, 2), `${hash}.webp`);
}

export async function writeThumbnail(
  dir: string,
  hash: string,
  decoded: DecodedImage,
): Promise<{ file: string; bytes: number }> {
  const file = thumbnailPath(dir, hash);
  await mkdir(path.dirname(file), { recursive: true });
  const up = uprightRgb(decoded);
  // unique: two files with the same content can be written at the same moment
  const tmp = `${file}.${randomUUID()}.tmp`;
  try {
    const info = await sharp(up.rgb, { raw: { width: up.width, height: up.height, channels: 3 } })
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80, effort: 1 }) // effort 1: a third cheaper than the default, same size here
      .toFile(tmp);
    await rename(tmp, file);
    return { file, bytes: info.size };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export interface SweepResult {
  /** Temporary files left by a killed writer. */
  temporary: number;
  /** Thumbnails of content no photo uses. */
  orphans: number;
  /** Thumbnails of photos that had no size row (made before the cache was measured). */
  measured: number;
}

/**
 * Cleans the thumbnail folder: temporary files and thumbnails no photo uses, both older than `ageMs`; and gives
 * every used thumbnail without a size row its row. `used` and `measure` ask the database at the moment of deciding.
 */
export async function sweepThumbnails(
  dir: string,
  db: { used(hash: string): boolean; measured(hash: string): boolean; measure(hash: string, bytes: number): void },
  signal?: AbortSignal,
  now = Date.now(),
  ageMs = SWEEP_AGE_MS,
): Promise<SweepResult> {
  const result: SweepResult = { temporary: 0, orphans: 0, measured: 0 };
  const shards = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const shard of shards) {
    if (!shard.isDirectory()) continue;
    const sub = path.join(dir, shard.name);
    for (const name of await readdir(sub).catch(() => [] as string[])) {
      if (signal?.aborted) return result; // the library closed: the next start goes on
      const file = path.join(sub, name);
      const hash = THUMBNAIL_NAME.exec(name)?.[1];
      if (hash && db.used(hash)) {
        if (db.measured(hash)) continue;
        const st = await stat(file).catch(() => null);
        if (st && db.used(hash)) {
          db.measure(hash, st.size);
          result.measured++;
        }
        continue;
      }
      if (!hash && !TEMP_NAME.test(name)) continue; // not ours
      const st = await stat(file).catch(() => null);
      if (!st || now - st.mtimeMs < ageMs) continue;
      if (hash) {
        // Asked again after the await, and deleted in the same turn: a photo indexed meanwhile in this process
        // keeps its thumbnail (the indexer marks a hash used before it writes the file).
        if (db.used(hash)) continue;
        rmSync(file, { force: true });
        result.orphans++;
      } else {
        await rm(file, { force: true });
        result.temporary++;
      }
    }
  }
  return result;
}

/**
 * Deletes the thumbnails of content that left the library, after the commit that dropped it. Each is checked and
 * deleted in the same turn of the event loop, so content indexed again meanwhile in this process keeps its file.
 */
export function removeThumbnails(dir: string, hashes: Iterable<string>, used: (hash: string) => boolean): number {
  let n = 0;
  for (const hash of hashes) {
    if (used(hash)) continue;
    try {
      rmSync(thumbnailPath(dir, hash), { force: true });
      n++;
    } catch {
      // left for the start-up sweep (a permission problem, a file in use on Windows)
    }
  }
  return n;
}
