// Image → CHW float32 tensor, the way Hugging Face's CLIPImageProcessor does it (convert to RGB, resize the short
// side with bicubic, centre crop, rescale, normalize), but arranged for speed with libvips:
// - the resize runs in the file's stored orientation, so JPEG shrink-on-load stays in play (asking sharp to rotate
//   first silently loses most of that gain);
// - EXIF orientation and the centre crop are applied afterwards, in JavaScript, while the tensor is built.
// The long side is floor(short * long / short') as the reference computes it; sharp's `fit: 'cover'` rounds instead
// and shifts the crop by a pixel, which moves normalized values by up to 0.5.
import { open, readFile, stat } from 'node:fs/promises';
import { gunzipSync, constants as zlib } from 'node:zlib';
import sharp, { type Metadata } from 'sharp';
import { ImageError } from '../errors.ts';
import { decodeFallback, sniffFormat, type ThumbnailNeed } from './decoders.ts';
import type { PreprocessConfig } from './preprocess-config.ts';

// The pixel cache helps editors, not a pipeline that sees every file once.
sharp.cache(false);
// SVG is a drawing, not a photo, and rendering one can load other files and web addresses: Glance refuses it by
// content below with a clear message, and libvips' SVG loader is blocked for the whole process so that no other path
// (a renamed file, a sniff that misses) can ever render one.
sharp.block({ operation: ['VipsForeignLoadSvg'] });

/** sharp's own default (0x3fff²): above it a file is treated as a decompression bomb and never decoded. */
export const DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

export type ImageInput = string | Uint8Array;

export interface PreprocessOptions {
  maxPixels?: number;
  /** How messages name the image when it is given as bytes (its path, usually). */
  label?: string;
}

function describe(input: ImageInput, label?: string): string {
  return label ?? (typeof input === 'string' ? input : 'the image');
}

// sharp's own messages (its src/common.cc and src/pipeline.cc), matched whole: what follows a prefix is libvips'
// and the decoders' wording, which is quoted, never searched for loose words ("required field 262 missing" is a
// damaged TIFF, not a missing file).
const SHARP_MISSING = /^Input file is missing: /;
const SHARP_UNSUPPORTED = /^Input (file|buffer) contains unsupported image format$/;
const SHARP_PIXEL_LIMIT = /^Input image exceeds pixel limit$/;
const SHARP_CORRUPT_HEADER = /^Input (file|buffer) has corrupt header: ?/;
// A decoder's warning failed the decode (sharp's failOn: 'warning'). The decoder lines after it cannot be trusted:
// libvips keeps one warning list per process, so they may belong to another image decoded at the same moment, or be
// gone. A warning there is almost always data ending early or garbled.
const SHARP_WARNING = /^Warning treated as error due to failOn setting$/;
// Decoder lines that say the data ends early: libjpeg's two warnings and libvips' own, giflib's, libheif's.
const CUT_SHORT =
  /^(VipsJpeg: (premature end of JPEG image|Premature end of JPEG file|Premature end of input file)|gifload(_buffer|_source)?: Unexpected end of GIF source data|heif: Invalid input: Unexpected end of file\b.*)$/m;
// Decoder lines for data that is there but broken: libpng's and libtiff's read errors.
const READ_ERROR = /^(vipspng: libpng read error|tiff2vips: read error)$/m;

const cutShort = (what: string, err: unknown) =>
  new ImageError('image-truncated', `${what}: the file is damaged or cut short (incomplete download or copy?)`, {
    cause: err,
  });

/** Turns sharp's wording into an error a person can act on. */
function imageError(what: string, err: unknown): ImageError {
  const msg = (err instanceof Error ? err.message : String(err)).trim();
  const [first = '', ...rest] = msg.split('\n');
  if (SHARP_MISSING.test(first)) return new ImageError('image-not-found', `${what}: file not found`, { cause: err });
  if (SHARP_UNSUPPORTED.test(msg)) {
    return new ImageError('image-not-an-image', `${what}: not an image, or a format Glance cannot read`, {
      cause: err,
    });
  }
  if (SHARP_PIXEL_LIMIT.test(msg)) {
    return new ImageError('image-too-large', `${what}: too many pixels to decode safely`, { cause: err });
  }
  if (SHARP_WARNING.test(first)) return cutShort(what, err);
  // The decoders' own lines, the first one after sharp's "corrupt header" prefix.
  const header = SHARP_CORRUPT_HEADER.exec(first);
  const lines = [header ? first.slice(header[0].length) : first, ...rest].filter((l) => l.trim());
  const decoder = lines.join('\n');
  if (CUT_SHORT.test(decoder)) return cutShort(what, err);
  if (header || READ_ERROR.test(decoder)) {
    // The decoder's first line names what is broken ("tiff2vips: required field 262 missing").
    const part = header ? 'its header is unreadable' : 'its data is unreadable';
    const detail = lines[0] ? ` (${lines[0]})` : '';
    return new ImageError('image-damaged', `${what}: the file is damaged, ${part}${detail}`, { cause: err });
  }
  return new ImageError('image-unreadable', `${what}: could not be decoded (${first})`, { cause: err });
}

/**
 * True for SVG (and gzipped SVGZ) text, by content: the name says nothing (a drawing renamed .jpg is still one).
 * The head of the file is enough: an SVG opens with its <svg> element after an XML declaration, comments or a
 * doctype.
 */
export function isSvg(head: Uint8Array): boolean {
  let bytes = head.subarray(0, 4096);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      // a cut gzip stream: inflate what is there, from 1 KB at most (never a whole gzip bomb)
      bytes = gunzipSync(head.subarray(0, 1024), { finishFlush: zlib.Z_SYNC_FLUSH }).subarray(0, 4096);
    } catch {
      return false;
    }
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return /^\uFEFF?\s*</.test(text) && /<svg[\s>/]/i.test(text);
}

/** The first bytes of a file: enough to recognise the formats that need a fallback decoder. */
async function readHead(file: string, bytes = 64 * 1024): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const buf = new Uint8Array(bytes);
    const { bytesRead } = await handle.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function checkInput(input: ImageInput): Promise<void> {
  if (typeof input !== 'string') {
    if (input.byteLength === 0) throw new ImageError('image-empty', 'the image is empty (0 bytes)');
    return;
  }
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(input);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageError('image-not-found', `${input}: file not found`);
    throw new ImageError('image-unreadable', `${input}: cannot be read (${code ?? String(err)})`, { cause: err });
  }
  // Before anything opens it: a FIFO blocks the read until someone writes to it, a device may never end.
  if (!info.isFile()) {
    const kind = info.isDirectory()
      ? 'a folder'
      : info.isFIFO()
        ? 'a named pipe (FIFO)'
        : info.isSocket()
          ? 'a socket'
          : 'a device';
    throw new ImageError(
      'image-not-a-file',
      `${input}: is ${kind}, not a file; Glance reads photos from regular files only`,
    );
  }
  if (info.size === 0) throw new ImageError('image-empty', `${input}: the file is empty (0 bytes)`);
}

/** Size after the resize step, in display orientation (width, height), as the reference processor computes it. */
export function resizedSize(width: number, height: number, cfg: PreprocessConfig): { width: number; height: number } {
  if (cfg.shortestEdge) {
    const s = cfg.shortestEdge;
    if (width <= height) return { width: s, height: Math.max(1, Math.floor((s * height) / width)) };
    return { width: Math.max(1, Math.floor((s * width) / height)), height: s };
  }
  if (cfg.resizeTo) return { width: cfg.resizeTo.width, height: cfg.resizeTo.height };
  return { width, height };
}

// For EXIF orientation o, where display pixel (X, Y) comes from in the stored image of size (sw, sh):
// sx = ax*X + bx*Y + cx, sy = ay*X + by*Y + cy.
function orientationMap(o: number, sw: number, sh: number): [number, number, number, number, number, number] {
  switch (o) {
    case 2:
      return [-1, 0, sw - 1, 0, 1, 0];
    case 3:
      return [-1, 0, sw - 1, 0, -1, sh - 1];
    case 4:
      return [1, 0, 0, 0, -1, sh - 1];
    case 5:
      return [0, 1, 0, 1, 0, 0];
    case 6:
      return [0, 1, 0, -1, 0, sh - 1];
    case 7:
      return [0, -1, sw - 1, -1, 0, sh - 1];
    case 8:
      return [0, -1, sw - 1, 1, 0, 0];
    default:
      return [1, 0, 0, 0, 1, 0];
  }
}

/**
 * Builds the model's CHW tensor from resized RGB pixels that are still in stored orientation: applies the EXIF
 * orientation, the centre crop (zero padding where the image is smaller than the crop, as the reference pads),
 * the rescale and the normalization in one pass.
 */
export function toChwTensor(
  rgb: Uint8Array,
  storedWidth: number,
  storedHeight: number,
  orientation: number,
  cfg: PreprocessConfig,
): Float32Array {
  const swap = orientation >= 5 && orientation <= 8;
  const dispW = swap ? storedHeight : storedWidth;
  const dispH = swap ? storedWidth : storedHeight;
  const { width: outW, height: outH } = cfg.output;
  const top = cfg.crop ? Math.floor((dispH - outH) / 2) : 0;
  const left = cfg.crop ? Math.floor((dispW - outW) / 2) : 0;
  const [ax, bx, cx, ay, by, cy] = orientationMap(orientation, storedWidth, storedHeight);
  const scale = cfg.rescale ?? 1;
  const mul = [0, 1, 2].map((c) => scale / (cfg.std ? cfg.std[c]! : 1));
  const add = [0, 1, 2].map((c) => (cfg.mean ? -cfg.mean[c]! / cfg.std![c]! : 0));
  const plane = outW * outH;
  const out = new Float32Array(3 * plane);
  for (let y = 0; y < outH; y++) {
    const Y = y + top;
    for (let x = 0; x < outW; x++) {
      const X = x + left;
      const o = y * outW + x;
      if (X < 0 || Y < 0 || X >= dispW || Y >= dispH) {
        out[o] = add[0]!;
        out[plane + o] = add[1]!;
        out[2 * plane + o] = add[2]!;
        continue;
      }
      const i = ((ay * X + by * Y + cy) * storedWidth + (ax * X + bx * Y + cx)) * 3;
      out[o] = rgb[i]! * mul[0]! + add[0]!;
      out[plane + o] = rgb[i + 1]! * mul[1]! + add[1]!;
      out[2 * plane + o] = rgb[i + 2]! * mul[2]! + add[2]!;
    }
  }
  return out;
}

/** An image decoded and resized for the model, still in stored orientation (see the note at the top). */
export interface DecodedImage {
  rgb: Uint8Array;
  storedWidth: number;
  storedHeight: number;
  /** EXIF orientation, 1-8. */
  orientation: number;
  /** The original size, in display orientation. */
  width: number;
  height: number;
}

/** Decodes one image (path or bytes) to RGB at the size the model's preprocessing resizes to. */
export function decodeForModel(
  input: ImageInput,
  cfg: PreprocessConfig,
  opts: PreprocessOptions = {},
): Promise<DecodedImage> {
  // The model needs no more than its input size: a HEIF file's own thumbnail item does when it is that big (the
  // indexer's 256 px thumbnail is made from this same decode, whose long side is at least as long).
  const thumbnail: ThumbnailNeed | undefined = cfg.shortestEdge
    ? { shortSide: cfg.shortestEdge }
    : cfg.resizeTo
      ? { width: cfg.resizeTo.width, height: cfg.resizeTo.height }
      : undefined;
  return decodeImage(input, (w, h) => resizedSize(w, h, cfg), { ...opts, ...(thumbnail ? { thumbnail } : {}) });
}

/**
 * Decodes one image (path or bytes) to 8-bit RGB at the size `sizeFor` picks from its display size, still in
 * stored orientation: any format Glance reads, with shrink-on-load, bombs refused before decoding.
 */
export async function decodeImage(
  input: ImageInput,
  sizeFor: (width: number, height: number) => { width: number; height: number },
  opts: PreprocessOptions & { thumbnail?: ThumbnailNeed } = {},
): Promise<DecodedImage> {
  await checkInput(input);
  const what = describe(input, opts.label);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  // What sharp decodes: the input itself, or what a fallback decoder made of it where libvips cannot (HEIC,
  // BMP, a camera RAW's embedded preview). RAW files are sniffed first: libtiff would read their tiny thumbnail.
  let source: ImageInput = input;
  let raw: { width: number; height: number; channels: 3 } | undefined;
  let meta: Pick<Metadata, 'width' | 'height' | 'orientation'> | undefined;
  // the size of the picture when a smaller stand-in (a HEIF thumbnail item) is what gets decoded
  let full: { width: number; height: number } | undefined;
  const head = typeof input === 'string' ? await readHead(input) : input;
  if (isSvg(head)) {
    throw new ImageError(
      'image-svg',
      `${what}: an SVG drawing, not a photo; Glance does not render SVG (a drawing can load other files and web ` +
        'addresses, and Glance never fetches anything). Export it as PNG to use it',
    );
  }
  if (sniffFormat(head)) {
    const bytes = typeof input === 'string' ? await readFile(input) : input;
    const fallback = await decodeFallback(bytes, what, maxPixels, opts.thumbnail);
    if (fallback?.kind === 'raw') {
      full = fallback.full;
      source = fallback.image.data;
      raw = { width: fallback.image.width, height: fallback.image.height, channels: 3 };
      meta = { width: fallback.image.width, height: fallback.image.height, orientation: fallback.orientation ?? 1 };
    } else if (fallback?.kind === 'encoded') {
      source = fallback.bytes;
      const m = await sharp(source, { limitInputPixels: false })
        .metadata()
        .catch((err) => {
          throw imageError(what, err);
        });
      meta = { width: m.width, height: m.height, orientation: fallback.orientation ?? m.orientation };
    }
  }
  if (!meta) {
    try {
      // No pixel limit for the header: the size check below gives the better message.
      meta = await sharp(input, { limitInputPixels: false }).metadata();
    } catch (err) {
      throw imageError(what, err);
    }
  }
  const { width, height } = meta;
  if (!width || !height) throw new ImageError('image-not-an-image', `${what}: has no pixel size`);
  if ((full?.width ?? width) * (full?.height ?? height) > maxPixels) {
    const mp = (n: number) => `${Math.round(n / 1e6)} megapixels`;
    throw new ImageError(
      'image-too-large',
      `${what}: ${width}×${height} (${mp(width * height)}) is above the ${mp(maxPixels)} limit; ` +
        'a file this size is refused so that a broken or hostile image cannot exhaust memory',
    );
  }
  const orientation = meta.orientation && meta.orientation >= 1 && meta.orientation <= 8 ? meta.orientation : 1;
  const swap = orientation >= 5;
  const display = sizeFor(swap ? height : width, swap ? width : height);
  const storedW = swap ? display.height : display.width;
  const storedH = swap ? display.width : display.height;

  let data: Buffer;
  let info: { width: number; height: number; channels: number; depth?: string };
  try {
    ({ data, info } = await sharp(source, { limitInputPixels: maxPixels, ...(raw ? { raw } : {}) })
      .resize(storedW, storedH, { fit: 'fill', kernel: 'cubic' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw imageError(what, err);
  }
  if (
    info.width !== storedW ||
    info.height !== storedH ||
    info.channels !== 3 ||
    data.length !== storedW * storedH * 3
  ) {
    throw new ImageError(
      'image-unreadable',
      `${what}: decoded to ${info.width}×${info.height}×${info.channels} (${info.depth}), expected ${storedW}×${storedH}×3 (8-bit)`,
    );
  }
  return {
    rgb: data,
    storedWidth: storedW,
    storedHeight: storedH,
    orientation,
    // a stand-in's pixels are upright (HEIF: libheif turns them), so the full size needs no swap
    width: full?.width ?? (swap ? height : width),
    height: full?.height ?? (swap ? width : height),
  };
}

/** Decodes one image (path or bytes) and returns its 3 x H x W float32 tensor for the vision model. */
export async function preprocessImage(
  input: ImageInput,
  cfg: PreprocessConfig,
  opts: PreprocessOptions = {},
): Promise<Float32Array> {
  const d = await decodeForModel(input, cfg, opts);
  return toChwTensor(d.rgb, d.storedWidth, d.storedHeight, d.orientation, cfg);
}

/** The decoded pixels turned upright (EXIF orientation applied), RGB row-major. */
export function uprightRgb(d: DecodedImage): { rgb: Uint8Array; width: number; height: number } {
  const swap = d.orientation >= 5;
  const w = swap ? d.storedHeight : d.storedWidth;
  const h = swap ? d.storedWidth : d.storedHeight;
  if (d.orientation === 1) return { rgb: d.rgb, width: w, height: h };
  const [ax, bx, cx, ay, by, cy] = orientationMap(d.orientation, d.storedWidth, d.storedHeight);
  const out = new Uint8Array(w * h * 3);
  for (let Y = 0; Y < h; Y++) {
    for (let X = 0; X < w; X++) {
      const i = ((ay * X + by * Y + cy) * d.storedWidth + (ax * X + bx * Y + cx)) * 3;
      out.set(d.rgb.subarray(i, i + 3), (Y * w + X) * 3);
    }
  }
  return { rgb: out, width: w, height: h };
}
