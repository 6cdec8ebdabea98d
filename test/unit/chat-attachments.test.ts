// Chat attachments as the binding will read them: original JPEG bytes kept when nothing needs changing, rotated
// photos turned upright, screenshots kept at the resolution a high-resolution projector uses, huge images bounded.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  boundedSize,
  iccDescription,
  MAX_PIXELS,
  plainJpegFrame,
  storeImage,
} from '../../electron/engine/chat/attachments.ts';
import * as img from '../fixtures/images.ts';

let tmp: string;
let store: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-attachments-'));
  store = path.join(tmp, 'store');
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/**
 * Image tokens Qwen2.5-VL's projector gives an image, by llama.cpp's rule (mtmd-image.cpp, dyn_size "smart resize"):
 * sides rounded to multiples of 28 (patch 14 x merge 2), scaled into 8 … 4096 tokens of 28x28 pixels.
 */
function qwenTokens(width: number, height: number): number {
  const f = 28;
  const [min, max] = [8 * f * f, 4096 * f * f];
  let h = Math.max(f, Math.round(height / f) * f);
  let w = Math.max(f, Math.round(width / f) * f);
  if (h * w > max) {
    const beta = Math.sqrt((height * width) / max);
    h = Math.max(f, Math.floor(height / beta / f) * f);
    w = Math.max(f, Math.floor(width / beta / f) * f);
  } else if (h * w < min) {
    const beta = Math.sqrt(min / (height * width));
    h = Math.ceil((height * beta) / f) * f;
    w = Math.ceil((width * beta) / f) * f;
  }
  return (w / f) * (h / f);
}

const RED = [220, 30, 30] as const;
const BLUE = [30, 40, 220] as const;

async function pixelAt(file: string, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

describe('storeImage', () => {
  it('stores an upright JPEG within bounds byte for byte (no second JPEG generation)', async () => {
    const plain = await img.writeSolid(path.join(tmp, 'plain.jpg'), [30, 120, 200], 90, 60);
    // withMetadata embeds an sRGB profile: an sRGB JPEG is kept too
    const display = new Uint8Array(64 * 48 * 3).map((_, i) => (i * 37) % 251);
    const srgb = await img.writeFromRaw(path.join(tmp, 'srgb.jpg'), display, 64, 48, { orientation: 1, quality: 90 });
    const progressive = path.join(tmp, 'progressive.jpg');
    await sharp(display, { raw: { width: 64, height: 48, channels: 3 } })
      .jpeg({ progressive: true })
      .toFile(progressive);
    for (const file of [plain, srgb, progressive]) {
      const original = await readFile(file);
      const s = await storeImage(file, store);
      expect(s.mime).toBe('image/jpeg');
      expect(Buffer.compare(await readFile(s.file), original)).toBe(0);
      // bytes from a drop or a paste too
      expect((await storeImage(new Uint8Array(original), store)).file).toBe(s.file);
    }
    expect((await sharp(srgb).metadata()).icc).toBeDefined();
  });

  it('turns a rotated JPEG upright (the binding ignores EXIF orientation)', async () => {
    const display = new Uint8Array(60 * 40 * 3);
    for (let i = 0; i < 60 * 40; i++) display.set(i % 60 < 30 ? RED : BLUE, i * 3);
    const stored = img.orientStored(display, 60, 40, 6);
    const file = await img.writeFromRaw(path.join(tmp, 'rotated.jpg'), stored.pixels, stored.width, stored.height, {
      orientation: 6,
    });
    expect((await sharp(file).metadata()).width).toBe(40);
    const s = await storeImage(file, store);
    expect([s.width, s.height]).toEqual([60, 40]);
    const meta = await sharp(s.file).metadata();
    expect([meta.width, meta.height, meta.orientation ?? 1]).toEqual([60, 40, 1]);
    const near = (p: number[], q: readonly number[]) => p.every((v, i) => Math.abs(v - q[i]!) < 12);
    expect(near(await pixelAt(s.file, 5, 20), RED)).toBe(true);
    expect(near(await pixelAt(s.file, 55, 20), BLUE)).toBe(true);
  });

  it('re-encodes JPEGs the binding cannot read or would show in other colours', async () => {
    const cmyk = await img.writeCmykJpeg(path.join(tmp, 'cmyk.jpg'));
    const p3 = path.join(tmp, 'p3.jpg');
    await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 60, b: 20 } } })
      .withIccProfile('p3')
      .jpeg()
      .toFile(p3);
    expect(iccDescription((await sharp(p3).metadata()).icc!)).not.toMatch(/srgb/i);
    for (const file of [cmyk, p3]) {
      const s = await storeImage(file, store);
      expect(s.mime).toBe('image/jpeg');
      expect(Buffer.compare(await readFile(s.file), await readFile(file))).not.toBe(0);
      expect((await sharp(s.file).metadata()).channels).toBe(3);
    }
  });

  it('keeps a 2560-px screenshot at full resolution: Qwen2.5-VL gets every image token it can use', async () => {
    const shot = await img.writeSplit(path.join(tmp, 'screen.png'), [250, 250, 250], [20, 20, 20], 2560, 1440);
    const s = await storeImage(shot, store);
    expect(s.mime).toBe('image/png');
    expect([s.width, s.height]).toEqual([2560, 1440]);
    expect(qwenTokens(s.width, s.height)).toBe(qwenTokens(2560, 1440));
    // what the former 1344-px cap handed it: under a third of the tokens
    expect(qwenTokens(1344, 756)).toBe(1296);
    expect(qwenTokens(2560, 1440)).toBe(4080);
  });

  it('bounds a too-large image to MAX_PIXELS, keeping its aspect ratio (a JPEG too: it is not kept as it is)', async () => {
    const big = await img.writeSolid(path.join(tmp, 'big.jpg'), [10, 200, 90], 5100, 3400);
    const s = await storeImage(big, store);
    expect(s.width * s.height).toBeLessThanOrEqual(MAX_PIXELS);
    expect(s.width * s.height).toBeGreaterThan(MAX_PIXELS * 0.99);
    expect(Math.abs(s.width / s.height - 1.5)).toBeLessThan(0.001);
    const meta = await sharp(s.file).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', s.width, s.height]);
    expect(boundedSize(2560, 1440)).toEqual({ width: 2560, height: 1440 });
  });
});

describe('plainJpegFrame', () => {
  // SOI, an APP0 segment, then a frame header: marker, length, precision, height, width, components
  const jpeg = (sof: number, precision: number, components: number) =>
    Uint8Array.from([
      0xff,
      0xd8,
      0xff,
      0xe0,
      0,
      4,
      0,
      0,
      0xff,
      sof,
      0,
      11,
      precision,
      0,
      8,
      0,
      8,
      components,
      1,
      0x11,
      0,
    ]);
  it('accepts the frames stb_image decodes and refuses the others', () => {
    expect(plainJpegFrame(jpeg(0xc0, 8, 3))).toBe(true); // baseline
    expect(plainJpegFrame(jpeg(0xc2, 8, 1))).toBe(true); // progressive, grey
    expect(plainJpegFrame(jpeg(0xc9, 8, 3))).toBe(false); // arithmetic coding
    expect(plainJpegFrame(jpeg(0xc3, 8, 3))).toBe(false); // lossless
    expect(plainJpegFrame(jpeg(0xc1, 12, 3))).toBe(false); // 12-bit
    expect(plainJpegFrame(jpeg(0xc0, 8, 4))).toBe(false); // CMYK
    expect(plainJpegFrame(Uint8Array.from([0xff, 0xd8, 0xff]))).toBe(false); // cut short
  });
});
