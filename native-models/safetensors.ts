// A strict reader of safetensors files (Hugging Face's weights format), for the few small tensors Glance takes from a
// model folder itself, such as the 768→512 Dense projection of sentence-transformers' multilingual CLIP text model.
//
// Layout: a little-endian u64 N, N bytes of UTF-8 JSON (tensor name → {dtype, shape, data_offsets}, plus an optional
// "__metadata__" of strings), then the data; offsets count from the first byte after the header and tensors are
// row-major little-endian. Only the header is read whole; each tensor asked for is read from its own byte range, so
// taking one projection out of a large file costs the header and that projection.
//
// Every entry is checked before any tensor is read, including the entries not asked for: a header that lies about one
// tensor is a damaged file, and saying so is better than handing back numbers from it. The checks are those of the
// reference implementation (huggingface/safetensors, `Metadata::validate`): the tensors' data lies back to back from
// the start of the data section, in some order, with no gap and no overlap, and nothing follows the last one. Because
// of that rule the end of the data is known from the header alone, so a file shorter than that is cut short
// ('safetensors-truncated'), and an offset that breaks the rule is damage ('safetensors-corrupt'), never the other way
// round.
import { type FileHandle, open } from 'node:fs/promises';
import { f16ToF32 } from './clip/float16.ts';

export type SafetensorsErrorCode =
  /** The file ends before the header says it does: an interrupted download, almost always. */
  | 'safetensors-truncated'
  /** The header is not what a safetensors writer writes, or a tensor asked for is not in it. */
  | 'safetensors-corrupt'
  /** A valid file, but a tensor asked for is in a dtype this reader does not turn into floats (I64, U8, F8_E4M3...). */
  | 'safetensors-unsupported';

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  constructor(
    readonly code: SafetensorsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SafetensorsTensor {
  /** As written in the file (F32, F16, BF16 or F64); the data is always converted to f32. */
  dtype: string;
  shape: number[];
  /** Row-major, shape's product long. */
  data: Float32Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsTensor>;
}

/** The reference implementation's limit (MAX_HEADER_SIZE): a longer header is damage, not a big model. */
const MAX_HEADER = 100_000_000;

/** Bytes per element of every dtype the reference implementation knows; any other name is a damaged header. */
const DTYPE_SIZE: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};
const READABLE = new Set(['F32', 'F16', 'BF16', 'F64']);

/** A Float32Array longer than this (8 GiB of f32) is past what one typed array holds in Node. */
const MAX_ELEMENTS = 2 ** 31;

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Reads a safetensors file's metadata and tensors, converted to f32: all of them, or only `names` (each must be in
 * the file). Throws SafetensorsError for a cut-short, damaged or unreadable file; errors of the file system (no such
 * file, no permission) are passed on as they are.
 */
export async function readSafetensors(file: string, opts?: { names?: string[] }): Promise<SafetensorsFile> {
  const fh = await open(file, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const { metadata, entries, dataStart } = await readHeader(fh, file, fileSize);

    const byName = new Map(entries.map((e) => [e.name, e]));
    const wanted = opts?.names ?? entries.map((e) => e.name);
    for (const name of wanted) {
      if (!byName.has(name)) {
        throw new SafetensorsError(
          'safetensors-corrupt',
          `${file} has no tensor '${name}' (it has ${listNames(entries)}): it is not the model expected or is ` +
            'damaged; delete the model and download it again',
        );
      }
    }

    const tensors = new Map<string, SafetensorsTensor>();
    for (const name of wanted) {
      const e = byName.get(name)!;
      if (!READABLE.has(e.dtype)) {
        throw new SafetensorsError(
          'safetensors-unsupported',
          `${file} stores tensor '${name}' as ${e.dtype}, which Glance cannot read (it reads F32, F16, BF16 and F64): ` +
            'this is not the model file expected',
        );
      }
      const count = (e.end - e.begin) / DTYPE_SIZE[e.dtype]!;
      if (count > MAX_ELEMENTS) {
        throw new SafetensorsError(
          'safetensors-unsupported',
          `${file}: tensor '${name}' has ${count.toLocaleString('en-US')} values, more than Glance can hold in one ` +
            'array: this is not the model file expected',
        );
      }
      const bytes = await readRange(fh, file, dataStart + e.begin, e.end - e.begin);
      tensors.set(name, { dtype: e.dtype, shape: e.shape, data: toFloat32(bytes, e.dtype, count) });
    }
    return { metadata, tensors };
  } finally {
    await fh.close();
  }
}

async function readHeader(
  fh: FileHandle,
  file: string,
  fileSize: number,
): Promise<{ metadata: Record<string, string>; entries: Entry[]; dataStart: number }> {
  const corrupt = (why: string) =>
    new SafetensorsError('safetensors-corrupt', `${file} is damaged (${why}): delete the model and download it again`);

  if (fileSize < 8) {
    throw new SafetensorsError(
      'safetensors-truncated',
      `${file} is truncated (${bytes(fileSize)}, too short to hold even the header's length): ` +
        'delete the model and download it again',
    );
  }
  const lengthBytes = await readRange(fh, file, 0, 8);
  const declared = lengthBytes.readBigUInt64LE(0);
  // Refused before anything is allocated for it: random bytes read as a length are a huge number.
  if (declared > BigInt(MAX_HEADER)) {
    throw corrupt(`its header claims to be ${declared.toLocaleString('en-US')} bytes long, over the 100 MB limit`);
  }
  const headerSize = Number(declared);
  if (8 + headerSize > fileSize) {
    throw new SafetensorsError(
      'safetensors-truncated',
      `${file} is truncated (it ends inside its header: the header says ${bytes(headerSize)}, ` +
        `found ${bytes(fileSize - 8)}): delete the model and download it again`,
    );
  }
  const dataStart = 8 + headerSize;

  let json: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(await readRange(fh, file, 8, headerSize));
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(
      'safetensors-corrupt',
      `${file} is damaged (its header is not valid JSON: ${(err as Error).message}): ` +
        'delete the model and download it again',
      { cause: err },
    );
  }
  if (!isObject(json)) throw corrupt('its header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(value)) throw corrupt('its __metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw corrupt(`its __metadata__ value '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(checkEntry(name, value, corrupt));
  }

  // The reference layout: sorted by where they start, each tensor begins where the one before ended, the first at 0.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < at) {
      throw corrupt(
        `tensors '${previous!.name}' and '${e.name}' overlap: [${previous!.begin}, ${previous!.end}] and ` +
          `[${e.begin}, ${e.end}]`,
      );
    }
    if (e.begin > at) {
      throw corrupt(
        `tensor '${e.name}' has data_offsets [${e.begin}, ${e.end}] but its data should start at byte ` +
          `${at.toLocaleString('en-US')} of the data section, where the data before it ends`,
      );
    }
    at = e.end;
    previous = e;
  }

  const expected = dataStart + at;
  if (fileSize < expected) {
    throw new SafetensorsError(
      'safetensors-truncated',
      `${file} is truncated (header says ${bytes(expected)}, found ${bytes(fileSize)}): ` +
        'delete the model and download it again',
    );
  }
  if (fileSize > expected) {
    throw corrupt(
      `it has ${bytes(fileSize - expected)} after its last tensor; the header says ${bytes(expected)} in all`,
    );
  }
  return { metadata, entries, dataStart };
}

function checkEntry(name: string, value: unknown, corrupt: (why: string) => SafetensorsError): Entry {
  if (!isObject(value)) throw corrupt(`the entry of tensor '${name}' is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZE)) {
    throw corrupt(
      `tensor '${name}' has dtype ${JSON.stringify(dtype) ?? 'undefined'}, which is not a safetensors dtype`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw corrupt(`tensor '${name}' has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw corrupt(`tensor '${name}' has data_offsets ${JSON.stringify(offsets)}, not two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw corrupt(`tensor '${name}' has data_offsets [${begin}, ${end}], which end before they begin`);
  // The product is checked at each step: a shape of huge dimensions must not round its way to a matching size.
  let elements = 1;
  for (const d of shape as number[]) {
    elements *= d;
    if (!Number.isSafeInteger(elements))
      throw corrupt(`tensor '${name}' has shape ${JSON.stringify(shape)}, too large`);
  }
  const size = elements * DTYPE_SIZE[dtype]!;
  if (!Number.isSafeInteger(size) || end - begin !== size) {
    throw corrupt(
      `tensor '${name}' is ${dtype} of shape [${(shape as number[]).join(', ')}], ${bytes(size)}, ` +
        `but its data_offsets [${begin}, ${end}] span ${bytes(end - begin)}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Reads exactly `length` bytes at `position`; fewer means the file shrank since its size was taken. */
async function readRange(fh: FileHandle, file: string, position: number, length: number): Promise<Buffer> {
  // Buffer.alloc, not allocUnsafe: the pool's slices can start at any byte, and typed views need their own buffer.
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) {
      throw new SafetensorsError(
        'safetensors-truncated',
        `${file} is truncated (it ended at byte ${(position + got).toLocaleString('en-US')} while reading it; ` +
          'was it being written or downloaded?): delete the model and download it again',
      );
    }
    got += bytesRead;
  }
  return buf;
}

/** Little-endian bytes to f32, whatever the machine's own byte order. */
function toFloat32(buf: Buffer, dtype: string, count: number): Float32Array {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
      break;
    case 'BF16': {
      // bfloat16 is the upper half of an f32: put it back in place and read the f32.
      const word = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        word.setUint32(0, view.getUint16(i * 2, true) << 16);
        out[i] = word.getFloat32(0);
      }
      break;
    }
    default:
      throw new Error(`unreachable: no conversion from ${dtype}`);
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function bytes(n: number): string {
  return `${n.toLocaleString('en-US')} byte${n === 1 ? '' : 's'}`;
}

function listNames(entries: Entry[]): string {
  if (entries.length === 0) return 'no tensors';
  const names = entries.map((e) => `'${e.name}'`);
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')} and ${names.length - 8} more`;
}
