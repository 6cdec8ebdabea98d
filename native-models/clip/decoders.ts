// Decoders for photos that libvips as shipped with sharp cannot read: BMP (no loader), HEIC (libheif without the
// HEVC codec) and camera RAW files, which Glance reads through the JPEG preview every camera embeds: a RAW
// converter is far too heavy for tagging, and the preview is what the camera itself shows.
import { createRequire } from 'node:module';
import { ImageError } from '../errors.ts';
import { decodeBmp, isBmp, type RawImage } from './bmp.ts';

export type Fallback =
  /** Pixels decoded here, upright unless `orientation` says otherwise. */
  | { kind: 'raw'; image: RawImage; orientation?: number }
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

/** Pixels Glance can decode itself, or the bytes of a preview sharp can; null when no fallback applies. */
export async function decodeFallback(bytes: Uint8Array, what: string, maxPixels: number): Promise<Fallback | null> {
  switch (sniffFormat(bytes)) {
    case 'bmp':
      return { kind: 'raw', image: decodeBmp(bytes, what, maxPixels) };
    case 'heic':
      // libheif applies the HEIF rotation and mirroring (irot/imir) while decoding, and those, not the EXIF
      // Orientation tag that phones also write, are what HEIF readers follow: applying EXIF on top would turn
      // the picture twice.
      return { kind: 'raw', image: await decodeHeic(bytes, what, maxPixels), orientation: 1 };
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

// --- HEIC -----------------------------------------------------------------------------------------------------

// libheif compiled to wasm (libheif-js), driven through its C API rather than heic-decode's wrapper: the wrapper
// prints its failures ("Could not parse HEIF file", "Decoding image failed", "No images found") to standard output,
// where they broke `--json`, hides libheif's reason behind "HEIF image not found", and offers only the top-level
// images, not a way past an undecodable primary one.
interface HeifError {
  code: { value: number };
  subcode: { value: number };
  message: string;
}
interface HeifDecoded {
  image: unknown;
  channels: { id: { value: number }; width: number; height: number; stride: number; data: Uint8Array }[];
}
interface Libheif {
  heif_context_alloc(): unknown;
  heif_context_free(ctx: unknown): void;
  heif_context_read_from_memory(ctx: unknown, bytes: Uint8Array): HeifError;
  heif_js_context_get_list_of_top_level_image_IDs(ctx: unknown): number[] | HeifError;
  heif_js_context_get_image_handle(ctx: unknown, id: number): unknown;
  heif_image_handle_get_width(handle: unknown): number;
  heif_image_handle_get_height(handle: unknown): number;
  heif_image_handle_is_primary_image(handle: unknown): number;
  heif_image_handle_release(handle: unknown): void;
  heif_js_decode_image2(handle: unknown, colorspace: unknown, chroma: unknown): HeifDecoded | HeifError;
  heif_image_release(image: unknown): void;
  heif_colorspace: { heif_colorspace_RGB: { value: number } };
  heif_chroma: { heif_chroma_interleaved_RGB: { value: number } };
  heif_channel: { heif_channel_interleaved: { value: number } };
  // The C functions themselves (pointers into the wasm heap): the embind layer has no image sequences.
  // A heif_error is returned through a pointer to 12 bytes (code, subcode, message), as wasm returns structs.
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _heif_context_alloc(): number;
  _heif_context_free(ctx: number): void;
  _heif_context_read_from_memory(err: number, ctx: number, data: number, size: number, options: number): void;
  _heif_context_has_sequence(ctx: number): number;
  _heif_context_get_track(ctx: number, id: number): number;
  _heif_track_release(track: number): void;
  _heif_track_get_image_resolution(err: number, track: number, width: number, height: number): void;
  _heif_track_decode_next_image(
    err: number,
    track: number,
    out: number,
    space: number,
    chroma: number,
    o: number,
  ): void;
  _heif_image_get_plane_readonly2(image: number, channel: number, stride: number): number;
  _heif_image_get_width(image: number, channel: number): number;
  _heif_image_get_height(image: number, channel: number): number;
  _heif_image_release(image: number): void;
}

let libheif: Libheif | undefined;
// Loaded on first use: instantiating it compiles a 1.4 MB wasm libheif, wasted on libraries without HEIC files.
// It is heic-decode's own libheif-js (the package.json dependency), found from there; CommonJS without types, hence
// require and the interface above. What the C code prints goes to stderr: standard output is Glance's alone.
function loadLibheif(): Libheif {
  if (!libheif) {
    const fromHeicDecode = createRequire(createRequire(import.meta.url).resolve('heic-decode'));
    const factory = fromHeicDecode('libheif-js/libheif-wasm/libheif-bundle.js') as (m: object) => Libheif;
    const toStderr = (text: string) => process.stderr.write(`libheif: ${text}\n`);
    libheif = factory({ print: toStderr, printErr: toStderr });
  }
  return libheif;
}

const isHeifError = (v: unknown): v is HeifError =>
  typeof v === 'object' && v !== null && 'code' in v && typeof (v as HeifError).message === 'string';

/** True when a top-level box runs past the end: the usual state of an interrupted copy or download. */
function boxesCutShort(bytes: Uint8Array): boolean {
  const v = view(bytes);
  let p = 0;
  while (p < bytes.length) {
    if (p + 8 > bytes.length) return true;
    let size = v.getUint32(p);
    if (size === 1) {
      if (p + 16 > bytes.length) return true;
      size = Number(v.getBigUint64(p + 8));
    } else if (size === 0) {
      return false; // runs to the end of the file
    }
    if (size < 8) return false; // not a box structure this check understands; leave it to libheif
    p += size;
  }
  return p > bytes.length;
}

/** The children of the box whose content spans [start, end): type and content bounds. */
function* boxes(bytes: Uint8Array, start: number, end: number): Generator<{ type: string; at: number; end: number }> {
  const v = view(bytes);
  for (let p = start; p + 8 <= end; ) {
    const size = v.getUint32(p);
    if (size < 8 || p + size > end) return;
    yield { type: ascii(bytes, p + 4, p + 8), at: p + 8, end: p + size };
    p += size;
  }
}

const HEIF_IMAGE_ITEMS = new Set(['hvc1', 'grid', 'iovl', 'iden', 'av01', 'jpeg', 'avc1', 'vvc1', 'j2k1', 'unci']);
// libheif's suberrors for a primary item it cannot use: none named, named but absent or not an image, invalid.
const PRIMARY_REFUSED = new Set([107, 2000, 124]); // No_pitm_box, Nonexisting_item_referenced, No_or_invalid_primary
// Each retry parses a copy of the file: enough for the pictures a file holds, not one per tile of a big grid.
const MAX_PRIMARY_RETRIES = 8;

/**
 * The image items of a HEIF file's meta box, visible ones first, and where its primary-item ID (pitm) is stored.
 * Enough to point pitm at another item when libheif refuses the one the file names.
 */
function heifItems(bytes: Uint8Array): { pitm: { at: number; wide: boolean } | null; items: number[] } {
  const v = view(bytes);
  const meta = [...boxes(bytes, 0, bytes.length)].find((b) => b.type === 'meta');
  if (!meta) return { pitm: null, items: [] };
  let pitm: { at: number; wide: boolean } | null = null;
  const visible: number[] = [];
  const hidden: number[] = [];
  for (const box of boxes(bytes, meta.at + 4, meta.end)) {
    if (box.type === 'pitm' && box.at + 6 <= box.end) pitm = { at: box.at + 4, wide: bytes[box.at] !== 0 };
    if (box.type !== 'iinf' || box.at + 6 > box.end) continue;
    const first = box.at + 4 + (bytes[box.at] === 0 ? 2 : 4); // the entry count is 16 or 32 bits
    for (const infe of boxes(bytes, first, box.end)) {
      const version = bytes[infe.at]!;
      const typeAt = infe.at + (version === 2 ? 8 : 10); // after version, flags, the 16/32-bit ID, protection
      if (infe.type !== 'infe' || version < 2 || typeAt + 4 > infe.end) continue;
      const id = version === 2 ? v.getUint16(infe.at + 4) : v.getUint32(infe.at + 4);
      const type = ascii(bytes, typeAt, typeAt + 4);
      if (!HEIF_IMAGE_ITEMS.has(type)) continue;
      ((bytes[infe.at + 3]! & 1) === 1 ? hidden : visible).push(id);
    }
  }
  return { pitm, items: [...visible, ...hidden] };
}

/**
 * Reads the container, or explains why not. A file whose primary item libheif refuses (missing, hidden, of a kind
 * it does not know) is read again with each other image item named primary in a copy: its other pictures are
 * often fine.
 */
function readHeif(lh: Libheif, bytes: Uint8Array, what: string): unknown {
  const attempt = (buffer: Uint8Array): unknown | HeifError => {
    const ctx = lh.heif_context_alloc();
    const err = lh.heif_context_read_from_memory(ctx, buffer);
    if (err.code.value === 0) return ctx;
    lh.heif_context_free(ctx);
    return err;
  };
  const first = attempt(bytes);
  if (!isHeifError(first)) return first;
  const { pitm, items } = heifItems(bytes);
  if (pitm && PRIMARY_REFUSED.has(first.subcode.value)) {
    const named = pitm.wide ? view(bytes).getUint32(pitm.at) : view(bytes).getUint16(pitm.at);
    const others = items.filter((id) => id !== named && (pitm.wide || id <= 0xffff));
    for (const id of others.slice(0, MAX_PRIMARY_RETRIES)) {
      const copy = Uint8Array.from(bytes);
      if (pitm.wide) view(copy).setUint32(pitm.at, id);
      else view(copy).setUint16(pitm.at, id);
      const ctx = attempt(copy);
      if (!isHeifError(ctx)) return ctx;
    }
  }
  throw new ImageError('image-unreadable', `${what}: a HEIC/HEIF file that could not be read (${first.message})`, {
    cause: first,
  });
}

async function decodeHeic(bytes: Uint8Array, what: string, maxPixels: number): Promise<RawImage> {
  if (boxesCutShort(bytes)) {
    throw new ImageError('image-truncated', `${what}: the file is cut short (incomplete download or copy?)`);
  }
  const lh = loadLibheif();
  const ctx = readHeif(lh, bytes, what);
  try {
    // The primary image, then the other top-level ones: a file whose primary image does not decode (a codec
    // libheif lacks, damaged data) is indexed by the next picture in it rather than refused. Tiles, thumbnails,
    // depth maps and HDR gain maps are not top-level images.
    const ids = lh.heif_js_context_get_list_of_top_level_image_IDs(ctx);
    const handles = (Array.isArray(ids) ? ids : [])
      .map((id) => lh.heif_js_context_get_image_handle(ctx, id))
      .filter((h) => !isHeifError(h))
      .sort((a, b) => lh.heif_image_handle_is_primary_image(b) - lh.heif_image_handle_is_primary_image(a));
    let failure: string | undefined;
    if (handles.length === 0) {
      // No still image: an image sequence (a burst, a live photo's motion) is indexed by its first frame.
      const frame = firstFrame(lh, bytes, what, maxPixels);
      if (frame) return frame;
    }
    try {
      for (const [i, handle] of handles.entries()) {
        const width = lh.heif_image_handle_get_width(handle);
        const height = lh.heif_image_handle_get_height(handle);
        if (width * height > maxPixels) {
          // The picture the file is about is refused, not replaced by a smaller one (a thumbnail-sized stand-in).
          if (i === 0) throw new ImageError('image-too-large', `${what}: ${width}×${height} is above the pixel limit`);
          continue;
        }
        const decoded = await lh.heif_js_decode_image2(
          handle,
          lh.heif_colorspace.heif_colorspace_RGB,
          lh.heif_chroma.heif_chroma_interleaved_RGB,
        );
        if (isHeifError(decoded)) {
          failure ??= decoded.message;
          continue;
        }
        try {
          return interleavedRgb(lh, decoded);
        } finally {
          lh.heif_image_release(decoded.image);
        }
      }
    } finally {
      for (const h of handles) lh.heif_image_handle_release(h);
    }
    throw new ImageError(
      'image-unreadable',
      `${what}: a HEIC/HEIF file that could not be decoded (${failure ?? 'it holds no image'})`,
    );
  } finally {
    lh.heif_context_free(ctx);
  }
}

/** The first frame of the file's first visual track, or null when it has none. Through libheif's C functions. */
function firstFrame(lh: Libheif, bytes: Uint8Array, what: string, maxPixels: number): RawImage | null {
  const u32 = (ptr: number) => lh.HEAPU32[ptr >>> 2]!;
  const u16 = (ptr: number) => lh.HEAPU8[ptr]! | (lh.HEAPU8[ptr + 1]! << 8);
  const scratch = lh._malloc(32); // the heif_error (12 bytes), then out-parameters
  const err = scratch;
  const out = scratch + 16;
  const data = lh._malloc(bytes.length);
  const ctx = lh._heif_context_alloc();
  let track = 0;
  let image = 0;
  const check = (doing: string) => {
    if (u32(err) === 0) return;
    let message = '';
    for (let p = u32(err + 8); p && lh.HEAPU8[p]; p++) message += String.fromCharCode(lh.HEAPU8[p]!);
    throw new ImageError('image-unreadable', `${what}: an image sequence whose ${doing} failed (${message})`);
  };
  try {
    lh.HEAPU8.set(bytes, data);
    lh._heif_context_read_from_memory(err, ctx, data, bytes.length, 0);
    if (u32(err) !== 0 || !lh._heif_context_has_sequence(ctx)) return null;
    track = lh._heif_context_get_track(ctx, 0); // 0: the first visual track
    if (!track) return null;
    lh._heif_track_get_image_resolution(err, track, out, out + 2);
    check('size');
    const [width, height] = [u16(out), u16(out + 2)];
    if (width * height > maxPixels) {
      throw new ImageError('image-too-large', `${what}: ${width}×${height} is above the pixel limit`);
    }
    const { heif_colorspace_RGB: rgbSpace } = lh.heif_colorspace;
    const { heif_chroma_interleaved_RGB: rgbChroma } = lh.heif_chroma;
    lh._heif_track_decode_next_image(err, track, out, rgbSpace.value, rgbChroma.value, 0);
    check('first frame');
    image = u32(out);
    const channel = lh.heif_channel.heif_channel_interleaved.value;
    const plane = lh._heif_image_get_plane_readonly2(image, channel, out + 4);
    const frame = {
      width: lh._heif_image_get_width(image, channel),
      height: lh._heif_image_get_height(image, channel),
      stride: u32(out + 4),
    };
    return packRows(lh.HEAPU8.subarray(plane, plane + frame.stride * frame.height), frame);
  } finally {
    if (image) lh._heif_image_release(image);
    if (track) lh._heif_track_release(track);
    lh._heif_context_free(ctx);
    lh._free(data);
    lh._free(scratch);
  }
}

/** Packed RGB rows from a plane whose rows are `stride` bytes apart (libheif pads them). */
function packRows(data: Uint8Array, { width, height, stride }: { width: number; height: number; stride: number }) {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) rgb.set(data.subarray(y * stride, y * stride + width * 3), y * width * 3);
  return { data: rgb, width, height };
}

/** libheif's interleaved RGB plane, rows packed (libheif pads them to its stride). */
function interleavedRgb(lh: Libheif, decoded: HeifDecoded): RawImage {
  const plane = decoded.channels.find((c) => c.id.value === lh.heif_channel.heif_channel_interleaved.value);
  if (!plane) throw new Error('libheif returned no interleaved RGB plane');
  return packRows(plane.data, plane);
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
