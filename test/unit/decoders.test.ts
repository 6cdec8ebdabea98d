// Fallback decoders: HEIC through wasm libheif, camera RAW through its largest embedded JPEG, BMP through the JS
// reader, and nothing at all for files sharp reads itself.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeFallback, type Fallback, sniffFormat } from '../../native-models/clip/decoders.ts';
import { ImageError } from '../../native-models/errors.ts';
import { bmpBytes } from '../fixtures/images.ts';
import {
  damageHeif,
  solidRgb,
  writeFakeRaw,
  writeHeic,
  writeHeicSet,
  writeHeifSequence,
} from '../fixtures/raw-and-heic.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'glance-decoders-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const NO_LIMIT = Number.POSITIVE_INFINITY;

async function rejection(p: Promise<unknown>): Promise<ImageError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  return err as ImageError;
}

function mean(rgb: Uint8Array, channels = 3): number[] {
  const sum = [0, 0, 0];
  for (let i = 0; i < rgb.length; i += channels) for (let c = 0; c < 3; c++) sum[c]! += rgb[i + c]!;
  const n = rgb.length / channels;
  return sum.map((s) => s / n);
}

function expectColour(actual: number[], expected: readonly number[], tolerance: number): void {
  for (const [c, v] of actual.entries()) {
    expect(Math.abs(v - expected[c]!), `channel ${c}: ${v}`).toBeLessThanOrEqual(tolerance);
  }
}

function raw(f: Fallback | null): Extract<Fallback, { kind: 'raw' }> {
  if (f?.kind !== 'raw') throw new Error(`expected decoded pixels, got ${f?.kind ?? 'null'}`);
  return f;
}

function encoded(f: Fallback | null): Extract<Fallback, { kind: 'encoded' }> {
  if (f?.kind !== 'encoded') throw new Error(`expected encoded bytes, got ${f?.kind ?? 'null'}`);
  return f;
}

describe('HEIC', () => {
  const ORANGE = [230, 120, 40] as const;
  let heic: Buffer;
  beforeAll(async () => {
    heic = await readFile(await writeHeic(path.join(dir, 'orange.heic'), solidRgb(64, 48, ORANGE), 64, 48));
  });

  it('is what sharp as shipped cannot decode', async () => {
    expect(sniffFormat(heic)).toBe('heic');
    await expect(sharp(heic).raw().toBuffer()).rejects.toThrow();
  });

  it('decodes to the colour it was encoded with, upright', async () => {
    const out = raw(await decodeFallback(heic, 'orange.heic', NO_LIMIT));
    expect(out.image.width).toBe(64);
    expect(out.image.height).toBe(48);
    expect(out.image.data.length).toBe(64 * 48 * 3);
    expect(out.orientation).toBe(1);
    expectColour(mean(out.image.data), ORANGE, 6);
  });

  it('refuses an image above the pixel limit', async () => {
    const err = await rejection(decodeFallback(heic, 'orange.heic', 64 * 48 - 1));
    expect(err.code).toBe('image-too-large');
    expect(err.message).toMatch(/^orange\.heic: 64×48/);
  });

  it('says so when the file is cut short', async () => {
    const err = await rejection(decodeFallback(heic.subarray(0, Math.floor(heic.length * 0.6)), 'cut.heic', NO_LIMIT));
    expect(err.code).toBe('image-truncated');
    expect(err.message).toMatch(/cut\.heic: .*cut short/);
  });
});

describe('HEIF files with more than one picture, or an unusual primary one', () => {
  const ORANGE = [230, 120, 40] as const;
  const BLUE = [20, 120, 240] as const;
  let two: Buffer;
  beforeAll(async () => {
    two = await readFile(
      await writeHeicSet(path.join(dir, 'two.heic'), [
        { rgb: solidRgb(64, 48, ORANGE), width: 64, height: 48 },
        { rgb: solidRgb(32, 24, BLUE), width: 32, height: 24 },
      ]),
    );
  });

  it('decodes the primary picture of a file that holds several', async () => {
    const out = raw(await decodeFallback(two, 'two.heic', NO_LIMIT));
    expect([out.image.width, out.image.height]).toEqual([64, 48]);
    expectColour(mean(out.image.data), ORANGE, 6);
  });

  it('falls back to the next picture when the primary one does not decode', async () => {
    const out = raw(await decodeFallback(damageHeif(two, 'primary-undecodable'), 'p.heic', NO_LIMIT));
    expect([out.image.width, out.image.height]).toEqual([32, 24]);
    expectColour(mean(out.image.data), BLUE, 6);
  });

  it('reads the pictures of a file whose primary item libheif refuses (missing, or a hidden tile)', async () => {
    for (const damage of ['primary-missing', 'primary-hidden-tile'] as const) {
      const out = raw(await decodeFallback(damageHeif(two, damage), `${damage}.heic`, NO_LIMIT));
      expect([out.image.width, out.image.height], damage).toEqual([64, 48]);
      expectColour(mean(out.image.data), ORANGE, 6);
    }
  });

  it('decodes the first frame of an image sequence that holds no still image', async () => {
    const GREEN = [20, 160, 90] as const;
    const seq = await readFile(await writeHeifSequence(path.join(dir, 'burst.heic'), solidRgb(64, 64, GREEN), 64, 64));
    expect(sniffFormat(seq)).toBe('heic');
    const out = raw(await decodeFallback(seq, 'burst.heic', NO_LIMIT));
    expect([out.image.width, out.image.height]).toEqual([64, 64]);
    expectColour(mean(out.image.data), GREEN, 6);
    expect((await rejection(decodeFallback(seq, 'burst.heic', 64 * 64 - 1))).code).toBe('image-too-large');
  });

  it("names libheif's reason when nothing in the file can be read", async () => {
    const err = await rejection(decodeFallback(damageHeif(two, 'no-iloc'), 'x.heic', NO_LIMIT));
    expect(err.code).toBe('image-unreadable');
    expect(err.message).toMatch(/^x\.heic: a HEIC\/HEIF file that could not be read \(.*'iloc'/);
  });

  it('prints nothing of its own, whatever the file (libheif-js logs failures with console.log)', async () => {
    const log = vi.spyOn(console, 'log');
    const write = vi.spyOn(process.stdout, 'write');
    try {
      for (const damage of ['no-iloc', 'primary-undecodable', 'primary-missing'] as const) {
        await decodeFallback(damageHeif(two, damage), 'x.heic', NO_LIMIT).catch(() => undefined);
      }
      expect(log).not.toHaveBeenCalled();
      expect(write).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
      write.mockRestore();
    }
  });
});

describe('camera RAW', () => {
  const BLUE = [30, 60, 220] as const;

  it('is not readable by sharp, so the fallback is what reads it', async () => {
    const file = await writeFakeRaw(path.join(dir, 'x.nef'), {
      width: 640,
      height: 480,
      rgb: solidRgb(640, 480, BLUE),
    });
    const bytes = await readFile(file);
    expect(sniffFormat(bytes)).toBe('raw-tiff');
    await expect(sharp(bytes).metadata()).rejects.toThrow();
  });

  it('yields the largest embedded preview, not the thumbnail, with the camera orientation', async () => {
    const preview = { width: 640, height: 480, rgb: solidRgb(640, 480, BLUE) };
    const bytes = await readFile(await writeFakeRaw(path.join(dir, 'p.nef'), preview, { orientation: 6 }));
    const out = encoded(await decodeFallback(bytes, 'p.nef', NO_LIMIT));
    expect(out.orientation).toBe(6);
    const { data, info } = await sharp(out.bytes).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([640, 480]);
    expectColour(mean(data, info.channels), BLUE, 3);
  });

  it('leaves the orientation to the preview when the camera wrote none', async () => {
    const bytes = await readFile(
      await writeFakeRaw(path.join(dir, 'n.nef'), { width: 400, height: 300, rgb: solidRgb(400, 300, BLUE) }),
    );
    expect(encoded(await decodeFallback(bytes, 'n.nef', NO_LIMIT)).orientation).toBeUndefined();
  });

  it('refuses a preview above the pixel limit', async () => {
    const bytes = await readFile(
      await writeFakeRaw(path.join(dir, 'big.nef'), { width: 640, height: 480, rgb: solidRgb(640, 480, BLUE) }),
    );
    expect((await rejection(decodeFallback(bytes, 'big.nef', 640 * 480 - 1))).code).toBe('image-too-large');
  });

  it('is a clear error without a preview, or with only a thumbnail', async () => {
    for (const thumbnail of [false, true]) {
      const bytes = await readFile(await writeFakeRaw(path.join(dir, `none-${thumbnail}.nef`), null, { thumbnail }));
      const err = await rejection(decodeFallback(bytes, 'none.nef', NO_LIMIT));
      expect(err.code).toBe('image-unreadable');
      expect(err.message).toMatch(/none\.nef: a RAW file without a usable embedded preview/);
    }
  });

  it('says so when the file is cut inside the preview', async () => {
    const bytes = await readFile(
      await writeFakeRaw(path.join(dir, 'cut.nef'), { width: 640, height: 480, rgb: solidRgb(640, 480, BLUE) }),
    );
    const err = await rejection(decodeFallback(bytes.subarray(0, bytes.length - 200), 'cut.nef', NO_LIMIT));
    expect(err.code).toBe('image-truncated');
  });
});

describe('other formats', () => {
  it('reads BMP through the JavaScript reader', async () => {
    const px = solidRgb(5, 3, [9, 99, 199]);
    const out = raw(await decodeFallback(bmpBytes(px, 5, 3), 'x.bmp', NO_LIMIT));
    expect([out.image.width, out.image.height]).toEqual([5, 3]);
    expect(Array.from(out.image.data)).toEqual(Array.from(px));
  });

  it('has no fallback for what sharp reads itself, plain TIFF included', async () => {
    const image = () => sharp(solidRgb(8, 8, [1, 2, 3]), { raw: { width: 8, height: 8, channels: 3 } });
    for (const bytes of [
      await image().png().toBuffer(),
      await image().jpeg().toBuffer(),
      await image().tiff().toBuffer(),
      await image().avif().toBuffer(),
    ]) {
      expect(sniffFormat(bytes)).toBeNull();
      expect(await decodeFallback(bytes, 'x', NO_LIMIT)).toBeNull();
    }
  });
});
