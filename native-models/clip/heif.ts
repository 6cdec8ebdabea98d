// HEIC/HEIF decoding through libheif compiled to wasm (libheif-js). Synchronous and CPU-bound (about 2 s for a
// 12 MP photo): it runs in the worker threads of heif-pool.ts, never on the engine's event loop. Pure wasm, so a
// worker is safe (no native code that could take the process down).
import { createRequire } from 'node:module';
import { ImageError } from '../errors.ts';
import type { RawImage } from './bmp.ts';

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The smallest picture a caller can use instead of the full image: the file's own thumbnail item is decoded when
 * it is at least this big (in display orientation), as indexing only needs the model's input size.
 */
export type ThumbnailNeed = { shortSide: number } | { width: number; height: number };

export interface HeifPicture {
  image: RawImage;
  /** Set when `image` is the file's thumbnail item: the size of the full picture it stands for. */
  full?: { width: number; height: number };
}

/** True when a thumbnail of this size is enough for `need`. */
export function thumbnailServes(width: number, height: number, need: ThumbnailNeed): boolean {
  return 'shortSide' in need ? Math.min(width, height) >= need.shortSide : width >= need.width && height >= need.height;
}

/**
 * Decodes a HEIC/HEIF file to packed RGB: its thumbnail item when `thumbnail` is given and one serves it, else the
 * primary image (or the next picture, or an image sequence's first frame). libheif applies the HEIF rotation and
 * mirroring (irot/imir). Damaged files raise ImageError ('image-truncated', 'image-unreadable', 'image-too-large').
 */
export function decodeHeif(bytes: Uint8Array, what: string, maxPixels: number, thumbnail?: ThumbnailNeed): HeifPicture {
  if (boxesCutShort(bytes)) {
    throw new ImageError('image-truncated', `${what}: the file is cut short (incomplete download or copy?)`);
  }
  const lh = loadLibheif();
  const small = thumbnail ? thumbnailOf(lh, bytes, maxPixels, thumbnail) : null;
  return small ?? { image: decodeFull(lh, bytes, what, maxPixels) };
}

/**
 * The smallest thumbnail item of the primary image that serves `need`, decoded, with the primary image's size; null
 * when there is none (or anything about it fails: the full decode then runs and reports what is wrong).
 */
function thumbnailOf(lh: Libheif, bytes: Uint8Array, maxPixels: number, need: ThumbnailNeed): HeifPicture | null {
  const u32 = (ptr: number) => lh.HEAPU32[ptr >>> 2]!;
  const scratch = lh._malloc(32); // the heif_error (12 bytes), then out-parameters
  const err = scratch;
  const out = scratch + 16;
  const data = lh._malloc(bytes.length);
  const ctx = lh._heif_context_alloc();
  const handles: number[] = [];
  let ids = 0;
  let image = 0;
  try {
    lh.HEAPU8.set(bytes, data);
    lh._heif_context_read_from_memory(err, ctx, data, bytes.length, 0);
    if (u32(err) !== 0) return null;
    lh._heif_context_get_primary_image_handle(err, ctx, out);
    if (u32(err) !== 0) return null;
    const primary = u32(out);
    handles.push(primary);
    const full = { width: lh._heif_image_handle_get_width(primary), height: lh._heif_image_handle_get_height(primary) };
    // a file above the limit is refused by the full decode, with its message, not indexed from its thumbnail
    if (full.width * full.height > maxPixels) return null;
    const count = lh._heif_image_handle_get_number_of_thumbnails(primary);
    if (count <= 0) return null;
    ids = lh._malloc(4 * count);
    const listed = lh._heif_image_handle_get_list_of_thumbnail_IDs(primary, ids, count);
    let best: { handle: number; pixels: number } | null = null;
    for (let i = 0; i < listed; i++) {
      lh._heif_image_handle_get_thumbnail(err, primary, u32(ids + 4 * i), out);
      if (u32(err) !== 0) continue;
      const handle = u32(out);
      handles.push(handle);
      const [w, h] = [lh._heif_image_handle_get_width(handle), lh._heif_image_handle_get_height(handle)];
      if (thumbnailServes(w, h, need) && w * h <= full.width * full.height && (!best || w * h < best.pixels)) {
        best = { handle, pixels: w * h };
      }
    }
    if (!best) return null;
    const { heif_colorspace_RGB: rgbSpace } = lh.heif_colorspace;
    const { heif_chroma_interleaved_RGB: rgbChroma } = lh.heif_chroma;
    lh._heif_decode_image(err, best.handle, out, rgbSpace.value, rgbChroma.value, 0);
    if (u32(err) !== 0) return null;
    image = u32(out);
    const channel = lh.heif_channel.heif_channel_interleaved.value;
    const plane = lh._heif_image_get_plane_readonly2(image, channel, out + 4);
    const size = {
      width: lh._heif_image_get_width(image, channel),
      height: lh._heif_image_get_height(image, channel),
      stride: u32(out + 4),
    };
    if (!plane || !thumbnailServes(size.width, size.height, need)) return null;
    return { image: packRows(lh.HEAPU8.subarray(plane, plane + size.stride * size.height), size), full };
  } finally {
    if (image) lh._heif_image_release(image);
    for (const h of handles) lh._heif_image_handle_release(h);
    if (ids) lh._free(ids);
    lh._heif_context_free(ctx);
    lh._free(data);
    lh._free(scratch);
  }
}

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
  _heif_context_get_primary_image_handle(err: number, ctx: number, out: number): void;
  _heif_image_handle_get_width(handle: number): number;
  _heif_image_handle_get_height(handle: number): number;
  _heif_image_handle_get_number_of_thumbnails(handle: number): number;
  _heif_image_handle_get_list_of_thumbnail_IDs(handle: number, ids: number, count: number): number;
  _heif_image_handle_get_thumbnail(err: number, handle: number, id: number, out: number): void;
  _heif_image_handle_release(handle: number): void;
  _heif_decode_image(err: number, handle: number, out: number, space: number, chroma: number, o: number): void;
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

function decodeFull(lh: Libheif, bytes: Uint8Array, what: string, maxPixels: number): RawImage {
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
        const decoded = lh.heif_js_decode_image2(
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
