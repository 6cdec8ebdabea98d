// The safetensors reader: round trips through the fixture writer, one file built byte by byte here (so that the
// writer and the reader cannot share a mistake), and each kind of broken file, refused with its code and a message
// that names the file.
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, SafetensorsError, type SafetensorsErrorCode } from '../../native-models/safetensors.ts';
import { writeSafetensors } from '../fixtures/safetensors-writer.ts';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'glance-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fresh(): string {
  return path.join(dir, `f${n++}.safetensors`);
}

/** A file from its parts, by hand: the header as given (an object is JSON-encoded, unpadded), then the data. */
async function raw(header: unknown, data: Buffer = Buffer.alloc(0), declared?: bigint): Promise<string> {
  const json = typeof header === 'string' ? Buffer.from(header, 'utf8') : Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(declared ?? BigInt(json.length));
  const file = fresh();
  await writeFile(file, Buffer.concat([length, json, data]));
  return file;
}

async function refused(file: string, code: SafetensorsErrorCode, names?: string[]): Promise<string> {
  const err = await readSafetensors(file, names ? { names } : undefined).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SafetensorsError);
  const e = err as SafetensorsError;
  expect(e.code).toBe(code);
  expect(e.message).toContain(file);
  return e.message;
}

function ramp(count: number, scale = 1): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => (Math.sin(i * 0.37) * 3 + i / count) * scale);
}

function expectClose(got: Float32Array, want: Float32Array, relative: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const tolerance = Math.abs(want[i]!) * relative + 1e-30;
    if (Math.abs(got[i]! - want[i]!) > tolerance) {
      expect.fail(`value ${i}: got ${got[i]}, want ${want[i]} within ${tolerance}`);
    }
  }
}

describe('readSafetensors round trips', () => {
  it('reads F32 exactly, with shapes, scalars and metadata', async () => {
    const file = fresh();
    const weight = ramp(12);
    const bias = Float32Array.from([-1.5, 0, 2 ** -20]);
    const scalar = Float32Array.from([42]);
    await writeSafetensors(
      file,
      {
        'linear.weight': { dtype: 'F32', shape: [3, 4], data: weight },
        'linear.bias': { dtype: 'F32', shape: [3], data: bias },
        scale: { dtype: 'F32', shape: [], data: scalar },
      },
      { format: 'pt', note: 'häßlich ✓' },
    );
    const st = await readSafetensors(file);
    expect(st.metadata).toEqual({ format: 'pt', note: 'häßlich ✓' });
    expect([...st.tensors.keys()].sort()).toEqual(['linear.bias', 'linear.weight', 'scale']);
    expect(st.tensors.get('linear.weight')).toEqual({ dtype: 'F32', shape: [3, 4], data: weight });
    expect(st.tensors.get('linear.bias')).toEqual({ dtype: 'F32', shape: [3], data: bias });
    expect(st.tensors.get('scale')).toEqual({ dtype: 'F32', shape: [], data: scalar });
  });

  it('reads F16 and BF16 within their precision', async () => {
    const file = fresh();
    const values = ramp(64, 10);
    await writeSafetensors(file, {
      half: { dtype: 'F16', shape: [8, 8], data: values },
      brain: { dtype: 'BF16', shape: [64], data: values },
    });
    const st = await readSafetensors(file);
    expect(st.metadata).toEqual({});
    const half = st.tensors.get('half')!;
    const brain = st.tensors.get('brain')!;
    expect([half.dtype, half.shape, brain.dtype, brain.shape]).toEqual(['F16', [8, 8], 'BF16', [64]]);
    // 11 and 8 significant bits, rounded to nearest: half an ulp at most
    expectClose(half.data, values, 2 ** -11);
    expectClose(brain.data, values, 2 ** -8);
  });

  it('reads only the tensors named', async () => {
    const file = fresh();
    await writeSafetensors(file, {
      a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) },
      b: { dtype: 'F16', shape: [1], data: Float32Array.from([3]) },
      c: { dtype: 'F32', shape: [1], data: Float32Array.from([4]) },
    });
    const st = await readSafetensors(file, { names: ['c', 'a'] });
    expect([...st.tensors.keys()]).toEqual(['c', 'a']);
    expect(st.tensors.get('a')!.data).toEqual(Float32Array.from([1, 2]));
    expect(st.tensors.get('c')!.data).toEqual(Float32Array.from([4]));
  });

  it('reads a Dense projection of the multilingual CLIP text model shape', async () => {
    const file = fresh();
    const weight = ramp(512 * 768);
    const bias = ramp(512, 0.01);
    await writeSafetensors(file, {
      'linear.weight': { dtype: 'F32', shape: [512, 768], data: weight },
      'linear.bias': { dtype: 'F32', shape: [512], data: bias },
    });
    const st = await readSafetensors(file, { names: ['linear.weight', 'linear.bias'] });
    expect(st.tensors.get('linear.weight')!.shape).toEqual([512, 768]);
    // compared as bytes: a deep equality over 393,216 values takes seconds
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bytes(st.tensors.get('linear.weight')!.data).equals(bytes(weight))).toBe(true);
    expect(st.tensors.get('linear.bias')!.data).toEqual(bias);
  });

  it('writes the header padded with spaces to a multiple of 8 bytes, tensors in name order', async () => {
    const file = fresh();
    await writeSafetensors(file, {
      z: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) },
      a: { dtype: 'F32', shape: [1], data: Float32Array.from([2]) },
    });
    const bytes = await readFile(file);
    const length = Number(bytes.readBigUInt64LE(0));
    expect(length % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
    expect(header.a.data_offsets).toEqual([0, 4]);
    expect(header.z.data_offsets).toEqual([4, 8]);
    expect(bytes.length).toBe(8 + length + 8);
  });
});

describe('readSafetensors on a file built byte by byte', () => {
  // w: F32 [2, 2] = 1.5, -2, 0.25, 1e9 (bit patterns written out); h: F16 [2] = 1, -2; b: BF16 [1] = 3.140625
  // (0x4049); d: F64 [1] = 0.25; i: I64 [1] = 7. Offsets deliberately not in name order, and the header not padded.
  async function handBuilt(): Promise<string> {
    const data = Buffer.from([
      // w at 0..16: 0x3fc00000, 0xc0000000, 0x3e800000, 0x4e6e6b28, little-endian
      0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x80, 0x3e, 0x28, 0x6b, 0x6e, 0x4e,
      // d at 16..24: 0x3fd0000000000000
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd0, 0x3f,
      // h at 24..28: 0x3c00, 0xc000
      0x00, 0x3c, 0x00, 0xc0,
      // b at 28..30: 0x4049
      0x49, 0x40,
      // i at 30..38: 7
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]);
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},' +
      '"h":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},' +
      '"b":{"dtype":"BF16","shape":[1],"data_offsets":[28,30]},' +
      '"i":{"dtype":"I64","shape":[1],"data_offsets":[30,38]},' +
      '"d":{"dtype":"F64","shape":[1],"data_offsets":[16,24]}}';
    const length = Buffer.alloc(8);
    length.writeUInt32LE(Buffer.byteLength(header), 0);
    const file = fresh();
    await writeFile(file, Buffer.concat([length, Buffer.from(header), data]));
    return file;
  }

  it('decodes each float dtype to the exact values', async () => {
    const file = await handBuilt();
    const st = await readSafetensors(file, { names: ['w', 'h', 'b', 'd'] });
    expect(st.metadata).toEqual({ format: 'pt' });
    expect(st.tensors.get('w')).toEqual({ dtype: 'F32', shape: [2, 2], data: Float32Array.from([1.5, -2, 0.25, 1e9]) });
    expect(st.tensors.get('h')).toEqual({ dtype: 'F16', shape: [2], data: Float32Array.from([1, -2]) });
    expect(st.tensors.get('b')).toEqual({ dtype: 'BF16', shape: [1], data: Float32Array.from([3.140625]) });
    expect(st.tensors.get('d')).toEqual({ dtype: 'F64', shape: [1], data: Float32Array.from([0.25]) });
  });

  it('refuses a tensor in a dtype it does not convert, only when it is asked for', async () => {
    const file = await handBuilt();
    const message = await refused(file, 'safetensors-unsupported', ['w', 'i']);
    expect(message).toContain("'i'");
    expect(message).toContain('I64');
    await refused(file, 'safetensors-unsupported');
  });
});

describe('readSafetensors refuses broken files', () => {
  const f32 = (shape: number[], data_offsets: [number, number]) => ({ dtype: 'F32', shape, data_offsets });

  it('a file cut short in its data', async () => {
    const file = fresh();
    await writeSafetensors(file, { w: { dtype: 'F32', shape: [4, 4], data: ramp(16) } });
    const size = (await readFile(file)).length;
    await truncate(file, size - 10);
    const message = await refused(file, 'safetensors-truncated');
    expect(message).toContain(`header says ${size.toLocaleString('en-US')} bytes`);
    expect(message).toContain(`found ${(size - 10).toLocaleString('en-US')} bytes`);
    expect(message).toContain('download it again');
  });

  it('a file too short for the header length, or empty', async () => {
    const file = fresh();
    await writeFile(file, Buffer.from([1, 0, 0]));
    await refused(file, 'safetensors-truncated');
    const empty = fresh();
    await writeFile(empty, Buffer.alloc(0));
    await refused(empty, 'safetensors-truncated');
  });

  it('a header length beyond the end of the file', async () => {
    const file = await raw({ w: f32([1], [0, 4]) }, Buffer.alloc(4), 5000n);
    expect(await refused(file, 'safetensors-truncated')).toContain('ends inside its header');
  });

  it('a header length over 100 MB', async () => {
    const file = await raw({ w: f32([1], [0, 4]) }, Buffer.alloc(4), 0xffff_ffff_ffff_fff0n);
    expect(await refused(file, 'safetensors-corrupt')).toContain('100 MB');
  });

  it('a header that is not JSON, not UTF-8, or not an object', async () => {
    expect(await refused(await raw('{"w": {"dtype": "F32",'), 'safetensors-corrupt')).toContain('not valid JSON');
    const notUtf8 = fresh();
    const length = Buffer.alloc(8);
    length.writeUInt32LE(4, 0);
    await writeFile(notUtf8, Buffer.concat([length, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]));
    await refused(notUtf8, 'safetensors-corrupt');
    expect(await refused(await raw('[1, 2]'), 'safetensors-corrupt')).toContain('not a JSON object');
    expect(await refused(await raw({ w: 'F32' }), 'safetensors-corrupt')).toContain("'w'");
  });

  it('metadata that is not strings', async () => {
    const file = await raw({ __metadata__: { epochs: 3 }, w: f32([1], [0, 4]) }, Buffer.alloc(4));
    expect(await refused(file, 'safetensors-corrupt')).toContain('epochs');
  });

  it('an unknown dtype', async () => {
    const file = await raw({ w: { dtype: 'F17', shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(4));
    const message = await refused(file, 'safetensors-corrupt');
    expect(message).toContain('F17');
    expect(message).toContain("'w'");
  });

  it('a shape that is not non-negative integers', async () => {
    await refused(await raw({ w: f32([-1], [0, 0]) }), 'safetensors-corrupt');
    await refused(await raw({ w: f32([1.5], [0, 4]) }, Buffer.alloc(4)), 'safetensors-corrupt');
    await refused(await raw({ w: { dtype: 'F32', data_offsets: [0, 4] } }, Buffer.alloc(4)), 'safetensors-corrupt');
    // each dimension is safe, their product is not
    await refused(await raw({ w: f32([2 ** 30, 2 ** 30, 2 ** 30], [0, 4]) }, Buffer.alloc(4)), 'safetensors-corrupt');
  });

  it('a shape that does not match the size of its data', async () => {
    const file = await raw({ w: f32([2, 3], [0, 20]) }, Buffer.alloc(20));
    const message = await refused(file, 'safetensors-corrupt');
    expect(message).toContain('24 bytes');
    expect(message).toContain('20 bytes');
  });

  it('overlapping tensors', async () => {
    const file = await raw({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, Buffer.alloc(12));
    const message = await refused(file, 'safetensors-corrupt');
    expect(message).toContain('overlap');
    expect(message).toContain("'a'");
    expect(message).toContain("'b'");
  });

  it('offsets out of range: ending before they begin, past the data, not integers', async () => {
    await refused(await raw({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }), 'safetensors-corrupt');
    // a lone tensor that claims to start at byte 100 of a 4-byte data section
    const past = await raw({ w: f32([1], [100, 104]) }, Buffer.alloc(4));
    expect(await refused(past, 'safetensors-corrupt')).toContain('[100, 104]');
    // a gap between two tensors
    await refused(await raw({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, Buffer.alloc(12)), 'safetensors-corrupt');
    await refused(await raw({ w: f32([1], [0, 4, 8] as never) }, Buffer.alloc(4)), 'safetensors-corrupt');
    await refused(await raw({ w: f32([1], [-4, 0]) }, Buffer.alloc(4)), 'safetensors-corrupt');
  });

  it('bytes after the last tensor', async () => {
    const file = await raw({ w: f32([1], [0, 4]) }, Buffer.alloc(9));
    expect(await refused(file, 'safetensors-corrupt')).toContain('5 bytes after its last tensor');
  });

  it('a tensor asked for that is not there, saying what is', async () => {
    const file = fresh();
    await writeSafetensors(file, {
      'linear.weight': { dtype: 'F32', shape: [2, 2], data: ramp(4) },
    });
    const message = await refused(file, 'safetensors-corrupt', ['linear.weight', 'linear.bias']);
    expect(message).toContain("no tensor 'linear.bias'");
    expect(message).toContain("'linear.weight'");
  });
});
