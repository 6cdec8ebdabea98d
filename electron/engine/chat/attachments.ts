// Images for chat are normalised by the app before the binding sees them: decoded by Glance (any format the
// library reads, HEIC included; a broken file is refused here, where it costs nothing, instead of leaving a
// llama.cpp context stuck), turned upright, and stored once by content hash in a format the binding reads (its
// stb_image reads JPEG, PNG, GIF and BMP only): PNG for screenshots and graphics (text stays sharp), JPEG for photos.
//
// Size: llama.cpp sizes every image for its own projector (LLaVA-1.5 takes 336², Gemma 3 896², SmolVLM tiles of
// 512 up to its preprocessor's longest edge, Qwen2.5-VL up to 4,096 image tokens, about 3.2 megapixels at any aspect
// ratio). Scaling here to a fixed side (1344 px, as before) threw away half of a 2560-px screenshot that Qwen reads
// in full, so images are only bounded by what llama.node can afford to decode again on every turn.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { decodeImage, type ImageInput, uprightRgb } from '../../../native-models/clip/preprocess.ts';

/**
 * Pixels kept at most: 16 megapixels (48 MB of RGB for llama.node to decode and resize per image per turn), 5x what
 * the largest projector of the catalog uses; larger images are scaled down to this, keeping their aspect ratio.
 */
export const MAX_PIXELS = 16_000_000;

export interface StoredImage {
  hash: string;
  file: string;
  mime: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
}

const LOSSLESS_FORMATS = new Set(['png', 'gif', 'bmp', 'webp', 'tiff']);

/** The display size bounded to MAX_PIXELS. */
export function boundedSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, Math.sqrt(MAX_PIXELS / (width * height)));
  if (scale === 1) return { width, height };
  return { width: Math.max(1, Math.floor(width * scale)), height: Math.max(1, Math.floor(height * scale)) };
}

async function sourceMeta(input: ImageInput): Promise<Metadata | undefined> {
  try {
    return await sharp(input, { limitInputPixels: false }).metadata();
  } catch {
    return undefined; // formats only Glance's fallbacks read (HEIC, BMP, RAW): photos, so JPEG
  }
}

export async function storeImage(input: ImageInput, dir: string, label?: string): Promise<StoredImage> {
  // Decoded in full even when the file is kept as it is: that is what proves it whole.
  const decoded = await decodeImage(input, boundedSize, label ? { label } : {});
  const meta = await sourceMeta(input);
  let bytes: Uint8Array;
  let png: boolean;
  let size = { width: decoded.width, height: decoded.height };
  const original = decoded.storedWidth * decoded.storedHeight === decoded.width * decoded.height;
  const kept = meta?.format === 'jpeg' && original && decoded.orientation === 1 ? await keepableJpeg(input) : null;
  if (kept) {
    // an upright JPEG the binding reads, within bounds: the original bytes (re-encoding only loses quality)
    bytes = kept;
    png = false;
  } else {
    const up = uprightRgb(decoded);
    size = { width: up.width, height: up.height };
    png = LOSSLESS_FORMATS.has(meta?.format ?? '');
    const image = sharp(up.rgb, { raw: { width: up.width, height: up.height, channels: 3 } });
    bytes = await (png ? image.png({ compressionLevel: 6 }) : image.jpeg({ quality: 92 })).toBuffer();
  }
  const hash = createHash('sha256').update(bytes).digest('hex');
  const file = path.join(dir, hash.slice(0, 2), `${hash}.${png ? 'png' : 'jpg'}`);
  if (!(await stat(file).catch(() => null))) {
    await mkdir(path.dirname(file), { recursive: true });
    // unique: two files with the same content can be written at the same moment
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  }
  return { hash, file, mime: png ? 'image/png' : 'image/jpeg', ...size };
}

/**
 * The JPEG's own bytes when the binding reads them as Glance would show them: a baseline, extended or progressive
 * 8-bit frame of 1 or 3 components (stb_image reads no arithmetic, lossless, 12-bit or CMYK JPEG), and no colour
 * profile other than sRGB (the binding ignores profiles, where Glance's decode converts to sRGB). Else null.
 */
async function keepableJpeg(input: ImageInput): Promise<Uint8Array | null> {
  const bytes = typeof input === 'string' ? await readFile(input) : input;
  if (!plainJpegFrame(bytes)) return null;
  const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  if ((meta.orientation ?? 1) !== 1) return null;
  if (meta.icc && !/srgb/i.test(iccDescription(meta.icc))) return null;
  return bytes;
}

/** Whether the first frame header (SOFn) of a JPEG is one stb_image decodes. */
export function plainJpegFrame(b: Uint8Array): boolean {
  if (b[0] !== 0xff || b[1] !== 0xd8) return false;
  let i = 2;
  while (i + 3 < b.length) {
    if (b[i] !== 0xff) return false;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const precision = b[i + 4];
      const components = b[i + 9];
      return marker <= 0xc2 && precision === 8 && (components === 1 || components === 3);
    }
    if (marker === 0xda || marker === 0xd9) return false; // scan or end before any frame header
    i += 2 + ((b[i + 2]! << 8) | b[i + 3]!);
  }
  return false;
}

/** The profile's description ('desc' tag, ICC v2 text or v4 multi-language), or '' when it cannot be read. */
export function iccDescription(icc: Uint8Array): string {
  const v = new DataView(icc.buffer, icc.byteOffset, icc.byteLength);
  const ascii = (at: number, n: number) => String.fromCharCode(...icc.subarray(at, at + n));
  try {
    const tags = v.getUint32(128);
    for (let k = 0; k < tags && 132 + 12 * k + 12 <= icc.length; k++) {
      const at = 132 + 12 * k;
      if (ascii(at, 4) !== 'desc') continue;
      const off = v.getUint32(at + 4);
      const type = ascii(off, 4);
      if (type === 'desc') return ascii(off + 12, Math.min(v.getUint32(off + 8), 256)).replace(/\0+$/, '');
      if (type === 'mluc' && v.getUint32(off + 8) > 0) {
        const len = v.getUint32(off + 20);
        const start = off + v.getUint32(off + 24);
        let s = '';
        for (let j = 0; j + 1 < Math.min(len, 512); j += 2) s += String.fromCharCode(v.getUint16(start + j));
        return s;
      }
    }
  } catch {
    // a profile cut short: unreadable, so not known to be sRGB
  }
  return '';
}
