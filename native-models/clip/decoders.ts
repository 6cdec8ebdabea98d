// Decoders for photos that libvips as shipped with sharp cannot read: BMP (no loader), HEIC (libheif without the
// HEVC codec) and camera RAW files, which Glance reads through the JPEG preview every camera embeds: a RAW
// converter is far too heavy for tagging, and the preview is what the camera itself shows.
import { ImageError } from '../errors.ts';
import { decodeBmp, isBmp, type RawImage } from './bmp.ts';
import type { ThumbnailNeed } from './heif.ts';
import { heifPool } from './heif-pool.ts';

export type { ThumbnailNeed } from './heif.ts';

export type Fallback =
  /**
   * Pixels decoded here, upright unless `orientation` says otherwise. `full`, when set, is the size of the picture
   * these pixels stand for (a HEIF file's thumbnail item was decoded instead of the full image).
   */
  | { kind: 'raw'; image: RawImage; orientation?: number; full?: { width: number; height: number } }
  /** Bytes sharp can decode. `orientation`, when set, replaces whatever EXIF those bytes carry. */
  | { kind: 'encoded'; bytes: Uint8Array; orientation?: number };

export type FallbackFormat = 'bmp' | 'heic' | 'raw-tiff' | 'raf' | 'cr3';

/** Previews smaller than this on the long side are thumbnails, too small to tag from. */
export const MIN_PREVIEW_SIDE = 320;

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The major and compatible brands of an ISO-BMFF file (HEIF, CR3, MP4...), or null when it is not one. */
function ftypBrands(bytes: Uint8Array): string[] | null {
  if (bytes.length < 16 || ascii(bytes, 4, 8) !== 'ftyp') return null;
  const end = Math.min(view(bytes).getUint32(0), bytes.length);
  const brands = [ascii(bytes, 8, 12)];
  for (let p = 16; p + 4 <= end; p += 4) brands.push(ascii(bytes, p, p + 4));
  return brands;
}

/**
 * IFD0 of the TIFF structure at `base` (TIFF offsets count from its header): tag → value for single SHORT/LONG
 * entries, 0 for the rest (enough to ask whether a tag is there). Null when the structure is not readable.
 */
function tiffIfd0(bytes: Uint8Array, base: number): Map<number, number> | null {
  if (base + 8 > bytes.length) return null;
  const order = ascii(bytes, base, base + 2);
  if (order !== 'II' && order !== 'MM') return null;
  const le = order === 'II';
  const v = view(bytes);
  const ifd = base + v.getUint32(base + 4, le);
  if (ifd + 2 > bytes.length) return null;
  const count = v.getUint16(ifd, le);
  if (ifd + 2 + count * 12 > bytes.length) return null;
  const tags = new Map<number, number>();
  for (let e = ifd + 2; e < ifd + 2 + count * 12; e += 12) {
    const type = v.getUint16(e + 2, le);
    const single = v.getUint32(e + 4, le) === 1;
    const value = single && type === 3 ? v.getUint16(e + 8, le) : single && type === 4 ? v.getUint32(e + 8, le) : 0;
    tags.set(v.getUint16(e, le), value);
  }
  return tags;
}

function validOrientation(o: number | undefined): number | undefined {
  return o !== undefined && o >= 1 && o <= 8 ? o : undefined;
}

/** A TIFF from a camera. Plain TIFFs stay out: when sharp fails on one, its own error (truncated...) says more. */
function isCameraTiff(bytes: Uint8Array): boolean {
  if (bytes.length < 16) return false;
  const magic = ascii(bytes, 0, 4);
  // ORF and RW2 are TIFF structures under their own magic numbers.
  if (magic === 'IIRO' || magic === 'IIRS' || magic === 'MMOR' || magic === 'IIU\0') return true;
  if (magic !== 'II*\0' && magic !== 'MM\0*') return false;
  if (ascii(bytes, 8, 10) === 'CR') return true; // CR2
  const ifd0 = tiffIfd0(bytes, 0);
  return ifd0 !== null && (ifd0.has(0x010f) || ifd0.has(0xc612)); // Make, DNGVersion (NEF, ARW, DNG, PEF, SRW...)
}

/** Which fallback decoder applies to these bytes, if any. Never matches JPEG, PNG, WebP, GIF, AVIF or plain TIFF. */
export function sniffFormat(bytes: Uint8Array): FallbackFormat | null {
  if (isBmp(bytes)) return 'bmp';
  if (bytes.length >= 16 && ascii(bytes, 0, 15) === 'FUJIFILMCCD-RAW') return 'raf';
  const brands = ftypBrands(bytes);
  if (brands) {
    if (brands.includes('crx ')) return 'cr3';
    // AV1 in HEIF also lists mif1; it is sharp's to read (or to fail on).
    if (brands.includes('avif') || brands.includes('avis')) return null;
    return brands.some((b) => HEIC_BRANDS.has(b)) ? 'heic' : null;
  }
  return isCameraTiff(bytes) ? 'raw-tiff' : null;
}

/**
 * Pixels Glance can decode itself, or the bytes of a preview sharp can; null when no fallback applies. With
 * `thumbnail`, a HEIF file's own thumbnail item is decoded instead of the full image when it is at least that big.
 */
export async function decodeFallback(
  bytes: Uint8Array,
  what: string,
  maxPixels: number,
  thumbnail?: ThumbnailNeed,
): Promise<Fallback | null> {
  switch (sniffFormat(bytes)) {
    case 'bmp':
      return { kind: 'raw', image: decodeBmp(bytes, what, maxPixels) };
    case 'heic': {
      // libheif applies the HEIF rotation and mirroring (irot/imir) while decoding, and those, not the EXIF
      // Orientation tag that phones also write, are what HEIF readers follow: applying EXIF on top would turn
      // the picture twice. The decode (wasm, about 2 s for 12 MP) runs in a worker thread, off the event loop.
      const { image, full } = await heifPool().decode(bytes, what, maxPixels, thumbnail);
      return { kind: 'raw', image, orientation: 1, ...(full ? { full } : {}) };
    }
    case 'raw-tiff':
      // The preview JPEG seldom carries an orientation; the camera's IFD0 says how to show the picture.
      return rawPreview(bytes, what, maxPixels, validOrientation(tiffIfd0(bytes, 0)?.get(0x0112)));
    case 'cr3':
      return rawPreview(bytes, what, maxPixels, cr3Orientation(bytes));
    case 'raf':
      // Fujifilm's preview is a complete camera JPEG whose own EXIF has the orientation.
      return rawPreview(bytes, what, maxPixels, undefined);
    default:
      return null;
  }
}

// --- RAW previews ---------------------------------------------------------------------------------------------

interface EmbeddedJpeg {
  start: number;
  end: number;
  width: number;
  height: number;
  /** Baseline or progressive 8-bit Huffman, which is what sharp decodes (RAW sensor data is often lossless JPEG). */
  decodable: boolean;
}

/**
 * Follows the marker segments of the JPEG starting at `start` to its frame size and its end (EOI). 'cut' when the
 * file ends inside a JPEG that had a frame header, null when the bytes are no JPEG after all.
 */
function parseJpeg(b: Uint8Array, start: number): EmbeddedJpeg | 'cut' | null {
  const u16 = (p: number) => (b[p]! << 8) | b[p + 1]!;
  let frame: Omit<EmbeddedJpeg, 'start' | 'end'> | undefined;
  let p = start + 2;
  for (;;) {
    if (p + 2 > b.length) return frame ? 'cut' : null;
    if (b[p] !== 0xff) return null;
    const marker = b[p + 1]!;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xd9) return frame ? { start, end: p + 2, ...frame } : null;
    if (marker === 0xd8 || marker === 0x00) return null;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      p += 2;
      continue;
    }
    if (p + 4 > b.length) return frame ? 'cut' : null;
    const segmentEnd = p + 2 + u16(p + 2);
    if (segmentEnd > b.length) return frame ? 'cut' : null;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (segmentEnd < p + 10) return null;
      const components = b[p + 9]!;
      frame = {
        height: u16(p + 5),
        width: u16(p + 7),
        decodable: marker <= 0xc2 && b[p + 4] === 8 && (components === 1 || components === 3),
      };
    }
    p = segmentEnd;
    if (marker !== 0xda) continue;
    if (!frame) return null;
    // Entropy-coded data: runs to the next marker that is neither a stuffed 0xFF00 nor a restart marker.
    for (;;) {
      p = b.indexOf(0xff, p);
      if (p < 0 || p + 1 >= b.length) return 'cut';
      const next = b[p + 1]!;
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) p += 2;
      else if (next === 0xff) p++;
      else break;
    }
  }
}

const SOI = Buffer.from([0xff, 0xd8, 0xff]);

function rawPreview(bytes: Uint8Array, what: string, maxPixels: number, orientation: number | undefined): Fallback {
  // Scanning for JPEGs instead of following each maker's tags (SubIFDs, maker notes, RAF and CR3 boxes) finds
  // the previews of every format the same way; a JPEG's segments and EOI give its bounds without decoding it.
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const usable: EmbeddedJpeg[] = [];
  let cut = false;
  let at = buf.indexOf(SOI);
  while (at >= 0) {
    const jpeg = parseJpeg(bytes, at);
    if (jpeg === 'cut') cut = true;
    if (jpeg && jpeg !== 'cut' && jpeg.decodable && Math.max(jpeg.width, jpeg.height) >= MIN_PREVIEW_SIDE) {
      usable.push(jpeg);
    }
    // Skipping a whole JPEG also skips the EXIF thumbnail inside it.
    at = buf.indexOf(SOI, jpeg && jpeg !== 'cut' ? jpeg.end : at + 1);
  }
  const fitting = usable.filter((j) => j.width * j.height <= maxPixels);
  const best = fitting.reduce<EmbeddedJpeg | undefined>(
    (a, j) => (a && a.width * a.height >= j.width * j.height ? a : j),
    undefined,
  );
  if (best) {
    // A copy, so that the RAW file's tens of megabytes can be freed while the preview is decoded.
    return { kind: 'encoded', bytes: bytes.slice(best.start, best.end), ...(orientation ? { orientation } : {}) };
  }
  if (usable.length > 0) {
    throw new ImageError('image-too-large', `${what}: every preview in this RAW file is above the pixel limit`);
  }
  if (cut) throw new ImageError('image-truncated', `${what}: the file is cut short (incomplete download or copy?)`);
  throw new ImageError(
    'image-unreadable',
    `${what}: a RAW file without a usable embedded preview (Glance reads camera RAW files through the JPEG ` +
      `preview the camera stores in them, and this one has none of at least ${MIN_PREVIEW_SIDE} pixels)`,
  );
}

/** CR3 keeps its IFD0 in a CMT1 box near the start of the file. */
function cr3Orientation(bytes: Uint8Array): number | undefined {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 1 << 20));
  const box = head.indexOf('CMT1');
  return box < 0 ? undefined : validOrientation(tiffIfd0(bytes, box + 4)?.get(0x0112));
}
