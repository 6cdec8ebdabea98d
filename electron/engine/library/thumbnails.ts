// Thumbnails: WebP, about 256 px on the long side, named by content hash (a moved file keeps its thumbnail),
// made from the pixels already decoded for the embedding, so a photo is decoded once per index.
import { randomUUID } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { type DecodedImage, uprightRgb } from '../../../native-models/clip/preprocess.ts';

export const THUMBNAIL_SIZE = 256;

export function thumbnailPath(dir: string, hash: string): string {
  return path.join(dir, hash.slice(0, 2), `${hash}.webp`);
}

export async function writeThumbnail(dir: string, hash: string, decoded: DecodedImage): Promise<string> {
  const file = thumbnailPath(dir, hash);
  await mkdir(path.dirname(file), { recursive: true });
  const up = uprightRgb(decoded);
  // unique: two files with the same content can be written at the same moment
  const tmp = `${file}.${randomUUID()}.tmp`;
  await sharp(up.rgb, { raw: { width: up.width, height: up.height, channels: 3 } })
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80, effort: 1 }) // effort 1: a third cheaper than the default, same size here
    .toFile(tmp);
  await rename(tmp, file);
  return file;
}
