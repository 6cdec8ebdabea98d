// A bounded reader of GGUF headers (key-values and tensor infos, never the weights). Every count and length in a
// header is checked against the bytes left in the file before anything is read or allocated for it, so a header
// claiming 2^40 tensors or a 2^60-byte string is refused from its first bytes. node-llama-cpp's reader allocates
// per claimed entry (80 s and 3.7 GB for such a header) and llama.cpp's own refusal of a bad header crashes the
// engine (llama.node turns every load failure into a segfault): this reader is what the pre-flight checks use.
//
// It also refuses what llama.cpp's gguf loader (ggml/src/gguf.cpp) refuses, so a file that passes here is one that
// llama.cpp can at least open: versions other than 2 and 3, empty or duplicate keys, unknown value types, nested
// arrays, a general.alignment that is not a u32 power of two, tensor names of 64 bytes or more, duplicate tensors,
// more than 4 dimensions, negative dimensions, rows that are not whole blocks, and tensor data that is not laid out
// back to back from the start of the data section.
import { type FileHandle, open } from 'node:fs/promises';

/** GGUF value types, as numbered in the file. */
export const GGUF_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

const TYPE_NAME = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'];
/** Bytes of one value of each fixed-size type (0: string and array, which carry their length). */
const TYPE_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

export function ggufTypeName(type: number): string {
  return TYPE_NAME[type] ?? `type ${type}`;
}

// ggml tensor types: [elements per block, bytes per block]. Types 4, 5 and 31-33 were removed from ggml (block size
// 0 there: llama.cpp refuses them); types past the end of this table are newer than this reader.
const GGML_BLOCK: Record<number, readonly [number, number]> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 36], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  16: [256, 66], // IQ2_XXS
  17: [256, 74], // IQ2_XS
  18: [256, 98], // IQ3_XXS
  19: [256, 50], // IQ1_S
  20: [32, 18], // IQ4_NL
  21: [256, 110], // IQ3_S
  22: [256, 82], // IQ2_S
  23: [256, 136], // IQ4_XS
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  29: [256, 56], // IQ1_M
  30: [1, 2], // BF16
  34: [256, 54], // TQ1_0
  35: [256, 66], // TQ2_0
  39: [32, 17], // MXFP4
};
const REMOVED_GGML_TYPES = new Set([4, 5, 31, 32, 33]);

/** Arrays longer than this are checked and skipped, not kept: vocabularies and merges are not needed here. */
const MAX_KEPT_ARRAY = 4096;
/** ggml's GGML_MAX_NAME: a tensor name must be shorter. */
const MAX_TENSOR_NAME = 64;
const MAX_DIMS = 4;
// The fewest bytes one key-value and one tensor info can take: a one-byte key, its type and a one-byte value; an
// empty name, n_dims 0, the ggml type and the offset.
const MIN_KV_BYTES = 8 + 1 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;
const CHUNK = 64 * 1024;
// llama.cpp's own limits on strings and arrays (GGUF_MAX_STRING_LENGTH, GGUF_MAX_ARRAY_ELEMENTS), and a limit on
// tensors and keys far above any real model's (thousands): a larger claim is damage, not a cut-short file.
const MAX_STRING = 2 ** 30;
const MAX_ARRAY = 2 ** 30;
const MAX_ENTRIES = 2 ** 20;
/** Far beyond any disk (a petabyte), small enough that the offset sums below stay exact in a double. */
const MAX_DATA = 2n ** 50n;

export type GgufScalar = number | bigint | boolean | string;

export interface GgufEntry {
  /** GGUF type of the value; for arrays, GGUF_TYPE.array and the element type in itemType. */
  type: number;
  itemType?: number;
  /** The value; for an array longer than MAX_KEPT_ARRAY, undefined (only its length is known). */
  value: GgufScalar | GgufScalar[] | undefined;
  /** Elements of an array. */
  length?: number;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml's ne: fastest dimension first. */
  dims: number[];
  ggmlType: number;
  /** From the start of the data section. */
  offset: number;
  /** Bytes of data, or undefined for a ggml type this reader does not know. */
  bytes: number | undefined;
}

export interface GgufHeader {
  version: number;
  fileSize: number;
  alignment: number;
  kv: Map<string, GgufEntry>;
  tensors: GgufTensorInfo[];
  /** Where the data section starts (the end of the header, padded to the alignment). */
  dataOffset: number;
  /** Where the last tensor's data ends: the size the file must have at least. */
  dataEnd: number;
}

export type GgufFormatProblem =
  /** The file ends inside its header. */
  | 'header-truncated'
  /** A version llama.cpp does not read. */
  | 'version'
  /** A count or length larger than the rest of the file could hold. */
  | 'absurd-size'
  /** Anything else llama.cpp's loader would refuse. */
  | 'invalid';

export class GgufFormatError extends Error {
  override readonly name = 'GgufFormatError';
  constructor(
    readonly problem: GgufFormatProblem,
    message: string,
    readonly version?: number,
  ) {
    super(message);
  }
}

/** Positional reads through a small window: the header is read once, front to back. */
class Cursor {
  pos = 0;
  private buf = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly fileSize: number,
  ) {}

  remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Makes n bytes at pos readable from the window (n is at most a string's length, already bounded). */
  private async need(n: number, what: string): Promise<number> {
    if (n > this.remaining()) {
      throw new GgufFormatError(
        'header-truncated',
        `the file ends inside its header (reading ${what} at byte ${this.pos.toLocaleString('en-US')})`,
      );
    }
    const at = this.pos - this.bufStart;
    if (at >= 0 && at + n <= this.buf.length) return at;
    const size = Math.min(Math.max(n, CHUNK), this.remaining());
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await this.fh.read(buf, got, size - got, this.pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < n) throw new GgufFormatError('header-truncated', `the file ends inside its header (reading ${what})`);
    this.buf = buf.subarray(0, got);
    this.bufStart = this.pos;
    return 0;
  }

  async u32(what: string): Promise<number> {
    const at = await this.need(4, what);
    this.pos += 4;
    return this.buf.readUInt32LE(at);
  }

  async i32(what: string): Promise<number> {
    const at = await this.need(4, what);
    this.pos += 4;
    return this.buf.readInt32LE(at);
  }

  async u64(what: string): Promise<bigint> {
    const at = await this.need(8, what);
    this.pos += 8;
    return this.buf.readBigUInt64LE(at);
  }

  async i64(what: string): Promise<bigint> {
    const at = await this.need(8, what);
    this.pos += 8;
    return this.buf.readBigInt64LE(at);
  }

  async scalar(type: number, what: string): Promise<GgufScalar> {
    const at = await this.need(TYPE_SIZE[type] || 8, what);
    const b = this.buf;
    let v: GgufScalar;
    switch (type) {
      case GGUF_TYPE.u8:
        v = b.readUInt8(at);
        break;
      case GGUF_TYPE.i8:
        v = b.readInt8(at);
        break;
      case GGUF_TYPE.u16:
        v = b.readUInt16LE(at);
        break;
      case GGUF_TYPE.i16:
        v = b.readInt16LE(at);
        break;
      case GGUF_TYPE.u32:
        v = b.readUInt32LE(at);
        break;
      case GGUF_TYPE.i32:
        v = b.readInt32LE(at);
        break;
      case GGUF_TYPE.f32:
        v = b.readFloatLE(at);
        break;
      case GGUF_TYPE.bool:
        v = b.readInt8(at) !== 0;
        break;
      case GGUF_TYPE.u64:
        v = b.readBigUInt64LE(at);
        break;
      case GGUF_TYPE.i64:
        v = b.readBigInt64LE(at);
        break;
      default:
        v = b.readDoubleLE(at);
    }
    this.pos += TYPE_SIZE[type]!;
    return v;
  }

  /** A string's length, refused when longer than the rest of the file. */
  async stringLength(what: string): Promise<number> {
    return bounded(await this.u64(`the length of ${what}`), 1, this.remaining(), `bytes in ${what}`, MAX_STRING);
  }

  async string(what: string): Promise<string> {
    const n = await this.stringLength(what);
    const at = await this.need(n, what);
    this.pos += n;
    return this.buf.toString('utf8', at, at + n);
  }

  skip(n: number): void {
    this.pos += n;
  }

  /**
   * Skips n strings (a vocabulary: 150,000 for Qwen). Lengths are read straight from the window, which is refilled
   * only when a length crosses its end: one await per string would take over a second.
   */
  async skipStrings(n: number, what: string): Promise<void> {
    for (let i = 0; i < n; i++) {
      let at = this.pos - this.bufStart;
      if (at < 0 || at + 8 > this.buf.length) at = await this.need(8, `the length of element ${i} of ${what}`);
      const length = this.buf.readBigUInt64LE(at);
      this.pos += 8;
      this.pos += bounded(length, 1, this.remaining(), `bytes in element ${i} of ${what}`, MAX_STRING);
    }
  }
}

/**
 * A count from the header, refused when `min` bytes per entry would not fit in what is left of the file. A count
 * within what any real file holds (`limit`) that overruns the file means the file was cut short; a larger one, that
 * the header is damaged.
 */
function bounded(n: bigint, min: number, left: number, what: string, limit: number): number {
  if (n * BigInt(min) <= BigInt(left)) return Number(n);
  const claim = `the header claims ${n.toLocaleString('en-US')} ${what}`;
  if (n > BigInt(limit)) {
    throw new GgufFormatError(
      'absurd-size',
      `${claim}, more than the ${left.toLocaleString('en-US')} bytes left in the file could hold`,
    );
  }
  throw new GgufFormatError('header-truncated', `the file ends inside its header (${claim})`);
}

async function readValue(c: Cursor, key: string): Promise<GgufEntry> {
  const type = await c.u32(`the type of ${key}`);
  if (type === GGUF_TYPE.array) {
    const itemType = await c.u32(`the element type of ${key}`);
    if (itemType === GGUF_TYPE.array || TYPE_NAME[itemType] === undefined) {
      throw new GgufFormatError('invalid', `key ${key} is an array of ${ggufTypeName(itemType)}, which GGUF has not`);
    }
    const count = await c.u64(`the length of ${key}`);
    const length = bounded(count, TYPE_SIZE[itemType] || 8, c.remaining(), `elements in ${key}`, MAX_ARRAY);
    const keep = length <= MAX_KEPT_ARRAY;
    const value: GgufScalar[] = [];
    if (itemType === GGUF_TYPE.string && !keep) {
      await c.skipStrings(length, key);
    } else if (itemType === GGUF_TYPE.string) {
      for (let i = 0; i < length; i++) value.push(await c.string(`element ${i} of ${key}`));
    } else if (keep) {
      for (let i = 0; i < length; i++) value.push(await c.scalar(itemType, key));
    } else {
      c.skip(length * TYPE_SIZE[itemType]!); // bounded above by the bytes left
    }
    return { type, itemType, value: keep ? value : undefined, length };
  }
  if (TYPE_NAME[type] === undefined) {
    throw new GgufFormatError('invalid', `key ${key} has value type ${type}, which GGUF has not`);
  }
  if (type === GGUF_TYPE.string) return { type, value: await c.string(`the value of ${key}`) };
  return { type, value: await c.scalar(type, key) };
}

function versionProblem(version: number): string | undefined {
  if (version === 2 || version === 3) return undefined;
  if (version !== 0 && (version & 0xffff) === 0) {
    return `its GGUF version field reads ${version}: a big-endian file, which llama.cpp does not read here`;
  }
  if (version === 1) return 'it is GGUF version 1, which llama.cpp no longer reads (it reads versions 2 and 3)';
  return `it is GGUF version ${version}, and llama.cpp reads versions 2 and 3 only`;
}

/**
 * Reads the header of a GGUF file, bounded by the file's size. Throws GgufFormatError for anything llama.cpp's
 * loader would refuse; the caller has already checked that the file exists and starts with "GGUF".
 */
export async function readGgufHeader(file: string): Promise<GgufHeader> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const c = new Cursor(fh, fileSize);
    c.skip(4); // the magic
    const version = await c.u32('the version');
    const problem = versionProblem(version);
    if (problem) throw new GgufFormatError('version', problem, version);
    const tensorCount = await c.u64('the tensor count');
    const kvCount = await c.u64('the key count');
    const nTensors = bounded(tensorCount, MIN_TENSOR_INFO_BYTES, c.remaining(), 'tensors', MAX_ENTRIES);
    const nKv = bounded(
      kvCount,
      MIN_KV_BYTES,
      c.remaining() - nTensors * MIN_TENSOR_INFO_BYTES,
      'key-values',
      MAX_ENTRIES,
    );

    const kv = new Map<string, GgufEntry>();
    for (let i = 0; i < nKv; i++) {
      const key = await c.string(`key ${i}`);
      if (key === '') throw new GgufFormatError('invalid', `key ${i} is empty`);
      if (kv.has(key)) throw new GgufFormatError('invalid', `key ${key} appears twice`);
      kv.set(key, await readValue(c, key));
    }

    let alignment = 32;
    const align = kv.get('general.alignment');
    if (align) {
      if (align.type !== GGUF_TYPE.u32) {
        throw new GgufFormatError('invalid', `general.alignment is a ${ggufTypeName(align.type)}, not a u32`);
      }
      alignment = align.value as number;
      if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
        throw new GgufFormatError('invalid', `general.alignment is ${alignment}, not a power of two`);
      }
    }

    const tensors: GgufTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < nTensors; i++) {
      const name = await c.string(`the name of tensor ${i}`);
      if (Buffer.byteLength(name) >= MAX_TENSOR_NAME) {
        throw new GgufFormatError(
          'invalid',
          `tensor ${i}'s name is ${Buffer.byteLength(name)} bytes long (at most 63)`,
        );
      }
      if (names.has(name)) throw new GgufFormatError('invalid', `tensor ${name} appears twice`);
      names.add(name);
      const nDims = await c.u32(`the dimensions of ${name}`);
      if (nDims > MAX_DIMS) throw new GgufFormatError('invalid', `tensor ${name} has ${nDims} dimensions (at most 4)`);
      const dims: number[] = [];
      let elements = 1n;
      for (let d = 0; d < nDims; d++) {
        const ne = await c.i64(`a dimension of ${name}`);
        if (ne < 0n) throw new GgufFormatError('invalid', `tensor ${name} has a negative dimension (${ne})`);
        elements *= ne;
        dims.push(Number(ne));
      }
      const ggmlType = await c.i32(`the type of ${name}`);
      if (ggmlType < 0 || REMOVED_GGML_TYPES.has(ggmlType)) {
        throw new GgufFormatError('invalid', `tensor ${name} has ggml type ${ggmlType}, which llama.cpp does not have`);
      }
      const block = GGML_BLOCK[ggmlType];
      let bytes: number | undefined;
      if (block) {
        const [perBlock, bytesPerBlock] = block;
        if ((dims[0] ?? 1) % perBlock !== 0) {
          throw new GgufFormatError(
            'invalid',
            `tensor ${name} has rows of ${dims[0]} values, not a whole number of ${perBlock}-value blocks`,
          );
        }
        const total = (elements / BigInt(perBlock)) * BigInt(bytesPerBlock);
        if (total > MAX_DATA) {
          throw new GgufFormatError('absurd-size', `tensor ${name} claims ${total.toLocaleString('en-US')} bytes`);
        }
        bytes = Number(total);
      }
      const offset = await c.u64(`the offset of ${name}`);
      if (offset > MAX_DATA) {
        throw new GgufFormatError(
          'absurd-size',
          `tensor ${name} claims to start at byte ${offset.toLocaleString('en-US')}`,
        );
      }
      tensors.push({ name, dims, ggmlType, offset: Number(offset), bytes });
    }

    const pad = (n: number) => Math.ceil(n / alignment) * alignment;
    const dataOffset = nTensors > 0 ? pad(c.pos) : c.pos;
    // llama.cpp wants the tensors back to back, each padded to the alignment, in the order they are listed.
    let expected = 0;
    let dataEnd = dataOffset;
    for (const t of tensors) {
      if (expected >= 0 && t.offset !== expected) {
        throw new GgufFormatError(
          'invalid',
          `tensor ${t.name} starts at data offset ${t.offset}, where llama.cpp expects ${expected}`,
        );
      }
      expected = t.bytes === undefined ? -1 : pad(t.offset + t.bytes); // an unknown type: stop checking the layout
      dataEnd = Math.max(dataEnd, dataOffset + t.offset + (t.bytes ?? 1));
    }
    return { version, fileSize, alignment, kv, tensors, dataOffset, dataEnd };
  } finally {
    await fh.close();
  }
}
