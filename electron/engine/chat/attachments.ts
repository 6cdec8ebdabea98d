// Images for chat are normalised by the app before the binding sees them: decoded by Glance (any format the
// library reads, HEIC included; a broken file is refused here, where it costs nothing, instead of leaving a
// llama.cpp context stuck), turned upright, scaled down to what vision projectors use, and stored once by content
// hash: PNG for screenshots and graphics (text stays sharp), JPEG for photos.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { decodeImage, type ImageInput, uprightRgb } from '../../../native-models/clip/preprocess.ts';

/** Long side kept: above what LLaVA (336) or Qwen2.5-VL's default budget use, below what costs memory for nothing. */
export const MAX_SIDE = 1344;

export interface StoredImage {
  hash: string;
  file: string;
  mime: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
}

const LOSSLESS_FORMATS = new Set(['png', 'gif', 'bmp', 'webp', 'tiff']);

async function sourceFormat(input: ImageInput): Promise<string | undefined> {
  try {
    return (await sharp(input, { limitInputPixels: false }).metadata()).format;
  } catch {
    return undefined; // formats only Glance's fallbacks read (HEIC, BMP, RAW): photos, so JPEG
  }
}

export async function storeImage(input: ImageInput, dir: string, label?: string): Promise<StoredImage> {
  const decoded = await decodeImage(
    input,
    (w, h) => {
      const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
    },
    label ? { label } : {},
  );
  const up = uprightRgb(decoded);
  const png = LOSSLESS_FORMATS.has((await sourceFormat(input)) ?? '');
  const image = sharp(up.rgb, { raw: { width: up.width, height: up.height, channels: 3 } });
  const bytes = await (png ? image.png({ compressionLevel: 6 }) : image.jpeg({ quality: 92 })).toBuffer();
  const hash = createHash('sha256').update(bytes).digest('hex');
  const file = path.join(dir, hash.slice(0, 2), `${hash}.${png ? 'png' : 'jpg'}`);
  if (!(await stat(file).catch(() => null))) {
    await mkdir(path.dirname(file), { recursive: true });
    // unique: two files with the same content can be written at the same moment
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  }
  return { hash, file, mime: png ? 'image/png' : 'image/jpeg', width: up.width, height: up.height };
}
