// What an image is handed to llama.cpp as: a fixed-size projector gets large images shrunk with a proper filter
// (llama.cpp's own resize would alias), the others get the stored file and size it themselves.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectorInputs, projectorInput, projectorLimit } from '../../native-models/llava/image-input.ts';
import * as img from '../fixtures/images.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-image-input-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const decode = async (url: string, type = 'png') => {
  expect(url.startsWith(`data:image/${type};base64,`)).toBe(true);
  return sharp(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'));
};

describe('projectorLimit', () => {
  it("follows llama.cpp's resize rule of each projector type", () => {
    const p = { imageSize: 336, patchSize: 14 };
    expect(projectorLimit({ ...p, projectorType: 'mlp' })).toEqual({ shortSide: 336 }); // LLaVA-1.5
    expect(projectorLimit({ ...p, projectorType: 'gemma3', imageSize: 896 })).toEqual({ shortSide: 896 });
    expect(projectorLimit({ ...p, projectorType: 'mlp', gridPinpoints: [336, 672, 672, 336] })).toBeNull(); // 1.6
    // Qwen2.5-VL: 4096 tokens of 28x28 pixels, about 3.2 megapixels
    expect(projectorLimit({ ...p, projectorType: 'qwen2.5vl_merger' })).toEqual({ pixels: 3_211_264 });
    expect(projectorLimit({ ...p, projectorType: 'idefics3', imageSize: 512, preprocImageSize: 2048 })).toEqual({
      longSide: 2048,
    });
    expect(projectorLimit({ ...p, projectorType: 'idefics3', imageSize: 512 })).toBeNull();
    expect(projectorLimit({ ...p, projectorType: 'pixtral' })).toBeNull();
  });
});

describe('projectorInput', () => {
  it('hands over a small image, or any image for a projector that sizes it itself, as the file', async () => {
    const small = await img.writeSolid(path.join(tmp, 'small.png'), [1, 2, 3], 400, 300);
    expect(await projectorInput(small, { shortSide: 336 })).toBe(small);
    const big = await img.writeSolid(path.join(tmp, 'big.png'), [1, 2, 3], 2560, 1440);
    expect(await projectorInput(big, null)).toBe(big);
  });

  it('shrinks an image above a pixel or long-side limit to that limit, keeping its aspect ratio', async () => {
    const photo = await img.writeSolid(path.join(tmp, 'wide.png'), [9, 9, 9], 3000, 2000);
    const q = await (await decode(await projectorInput(photo, { pixels: 3_211_264 }))).metadata();
    expect(q.width! * q.height!).toBeLessThanOrEqual(3_211_264);
    expect(q.width! * q.height!).toBeGreaterThan(3_211_264 * 0.99);
    const s = await (await decode(await projectorInput(photo, { longSide: 2048 }))).metadata();
    expect([s.width, s.height]).toEqual([2048, 1365]);
    expect(await projectorInput(photo, { pixels: 6_000_000 })).toBe(photo);
  });

  it('shrinks a large image to cover the square on both axes, low-pass filtered', async () => {
    // one-pixel black and white columns: a fourfold shrink that picks pixels (as llama.cpp's does) keeps only one
    // colour; a filtered one gives the grey the eye sees
    const w = 1792;
    const h = 1344;
    const pixels = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) pixels.fill(i % 2 ? 255 : 0, i * 3, i * 3 + 3);
    const stripes = await img.writeFromRaw(path.join(tmp, 'stripes.png'), pixels, w, h);
    const out = await decode(await projectorInput(stripes, { shortSide: 336 }));
    const meta = await out.metadata();
    expect([meta.width, meta.height]).toEqual([448, 336]);
    const stats = await out.stats();
    for (const c of stats.channels) {
      expect(Math.abs(c.mean - 127.5)).toBeLessThan(8);
      expect(c.stdev).toBeLessThan(8);
    }
  });

  it('is remembered per file, so every turn hands llama.cpp the same bytes', async () => {
    const big = await img.writeSolid(path.join(tmp, 'photo.jpg'), [200, 100, 50], 1200, 900);
    const inputs = new ProjectorInputs({ shortSide: 336 });
    const a = inputs.get(big);
    expect(inputs.get(big)).toBe(a);
    expect(await a).toBe(await projectorInput(big, { shortSide: 336 }));
    // a photo goes on as a JPEG (a screenshot as a PNG: lossless)
    expect((await (await decode(await a, 'jpeg')).metadata()).width).toBe(448);
  });
});
