// Preprocessing: known pixels in, known tensor out. Cases are small enough to check by hand, and wherever a
// resize would blur the answer the geometry is chosen so that no scaling happens.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeForModel, preprocessImage, resizedSize, toChwTensor } from '../../native-models/clip/preprocess.ts';
import { type PreprocessConfig, parsePreprocessConfig } from '../../native-models/clip/preprocess-config.ts';
import { ImageError } from '../../native-models/errors.ts';
import * as img from '../fixtures/images.ts';
import { solidRgb, writeFakeRaw, writeHeic } from '../fixtures/raw-and-heic.ts';

const exec = promisify(execFile);

const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];

/** The real CLIP processor's config, at a small size. */
const clipConfig = (size: number) =>
  parsePreprocessConfig({
    crop_size: { height: size, width: size },
    do_center_crop: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: MEAN,
    image_std: STD,
    rescale_factor: 1 / 255,
    size: { shortest_edge: size },
  });

/** Identity normalization, so tensor values are simply pixel / 255. */
const plainConfig = (size: number): PreprocessConfig => ({
  ...clipConfig(size),
  mean: [0, 0, 0],
  std: [1, 1, 1],
});

const norm = (v: number, c: number) => (v / 255 - MEAN[c]!) / STD[c]!;

/** Channel c of a CHW tensor as rows of numbers, for readable assertions. */
function channel(t: Float32Array, c: number, w: number, h: number): number[][] {
  return Array.from({ length: h }, (_, y) => Array.from(t.subarray(c * w * h + y * w, c * w * h + (y + 1) * w)));
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-pre-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('toChwTensor (orientation, crop, normalize in one pass)', () => {
  const cfg: PreprocessConfig = { ...plainConfig(1), crop: null, output: { width: 2, height: 1 } };

  it('lays out planes R, G, B', () => {
    const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0]); // red, green
    expect(Array.from(toChwTensor(rgb, 2, 1, 1, cfg))).toEqual([1, 0, 0, 1, 0, 0]);
  });

  it('rotates 90° clockwise for orientation 6', () => {
    // stored 2x1 [red, green]; displayed rotated clockwise it is 1x2: red on top, green below
    const out = toChwTensor(Uint8Array.from([255, 0, 0, 0, 255, 0]), 2, 1, 6, {
      ...cfg,
      output: { width: 1, height: 2 },
    });
    expect(Array.from(out)).toEqual([1, 0, 0, 1, 0, 0]);
  });

  it('pads with zero pixels where the crop is larger than the image', () => {
    const out = toChwTensor(Uint8Array.from([255, 255, 255]), 1, 1, 1, {
      ...clipConfig(3),
    });
    expect(out[4]).toBeCloseTo(norm(255, 0), 5); // centre
    expect(out[0]).toBeCloseTo(norm(0, 0), 5); // corner
  });
});

describe('resize geometry of the reference processor', () => {
  it('short side to the target, long side floored (298, not 299, for 4:3)', () => {
    const cfg = clipConfig(224);
    expect(resizedSize(4032, 3024, cfg)).toEqual({ width: 298, height: 224 });
    expect(resizedSize(3024, 4032, cfg)).toEqual({ width: 224, height: 298 });
    expect(resizedSize(500, 500, cfg)).toEqual({ width: 224, height: 224 });
    expect(resizedSize(3, 2, cfg)).toEqual({ width: 336, height: 224 }); // tiny images are upscaled
  });
});

describe('preprocessImage on files', () => {
  it('a solid colour becomes a constant normalized tensor', async () => {
    const file = await img.writeSolid(path.join(tmp, 'solid.png'), [200, 100, 50], 50, 40);
    const t = await preprocessImage(file, clipConfig(32));
    expect(t).toHaveLength(3 * 32 * 32);
    [200, 100, 50].forEach((v, c) => {
      for (const x of t.subarray(c * 1024, (c + 1) * 1024)) expect(x).toBeCloseTo(norm(v, c), 5);
    });
  });

  it('a left/right split keeps its halves in place after the centre crop', async () => {
    // 64x32, shortest edge 32: no scaling; the crop takes columns 16..47, the split is at 32
    const file = await img.writeSplit(path.join(tmp, 'split.png'), [255, 0, 0], [0, 0, 255], 64, 32, 'vertical');
    const t = await preprocessImage(file, plainConfig(32));
    const red = channel(t, 0, 32, 32);
    const blue = channel(t, 2, 32, 32);
    for (const row of red) expect(row).toEqual([...Array(16).fill(1), ...Array(16).fill(0)]);
    for (const row of blue) expect(row).toEqual([...Array(16).fill(0), ...Array(16).fill(1)]);
  });

  it('a top/bottom split stays top/bottom', async () => {
    const file = await img.writeSplit(path.join(tmp, 'hsplit.png'), [0, 255, 0], [0, 0, 0], 32, 32, 'horizontal');
    const g = channel(await preprocessImage(file, plainConfig(32)), 1, 32, 32);
    expect(g.slice(0, 16).every((r) => r.every((v) => v === 1))).toBe(true);
    expect(g.slice(16).every((r) => r.every((v) => v === 0))).toBe(true);
  });

  /** Rows (or columns) with distinct grey levels, to see exactly which ones the crop keeps. */
  async function stripes(name: string, w: number, h: number, alongX: boolean) {
    const px = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) px.fill((alongX ? x : y) * 5, (y * w + x) * 3, (y * w + x + 1) * 3);
    return img.writeFromRaw(path.join(tmp, name), px, w, h);
  }

  it('crops a portrait at floor((h - crop) / 2) from the top', async () => {
    const file = await stripes('portrait.png', 32, 41, false); // top = floor(9 / 2) = 4
    const rows = channel(await preprocessImage(file, plainConfig(32)), 0, 32, 32);
    rows.forEach((row, y) => {
      expect(row[0]! * 255).toBeCloseTo((y + 4) * 5, 3);
    });
  });

  it('crops a landscape at floor((w - crop) / 2) from the left', async () => {
    const file = await stripes('landscape.png', 45, 32, true); // left = floor(13 / 2) = 6
    const [row] = channel(await preprocessImage(file, plainConfig(32)), 1, 32, 32);
    row!.forEach((v, x) => {
      expect(v * 255).toBeCloseTo((x + 6) * 5, 3);
    });
  });

  it('applies every EXIF orientation as a viewer would', async () => {
    // a 6x4 display image with four distinct quadrants and a gradient, so every flip and turn shows
    const w = 6;
    const h = 4;
    const display = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) display.set([x * 40, y * 60, (x < 3 ? 0 : 100) + (y < 2 ? 0 : 50)], (y * w + x) * 3);
    }
    // shortest edge 4: no scaling, crop columns 1..4
    const cfg = plainConfig(4);
    for (const o of [1, 2, 3, 4, 5, 6, 7, 8] as const) {
      const stored = img.orientStored(display, w, h, o);
      const file = await img.writeFromRaw(
        path.join(tmp, `orient-${o}.png`),
        stored.pixels,
        stored.width,
        stored.height,
        {
          orientation: o,
        },
      );
      expect((await sharp(file).metadata()).orientation).toBe(o);
      // ground truth: libvips' own EXIF rotation
      const truth = await sharp(file).rotate().raw().toBuffer();
      const t = await preprocessImage(file, cfg);
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 4; y++) {
          for (let x = 0; x < 4; x++) {
            expect(Math.round(t[c * 16 + y * 4 + x]! * 255), `orientation ${o} at ${x},${y}`).toBe(
              truth[(y * w + x + 1) * 3 + c],
            );
          }
        }
      }
    }
  });

  it('reads bytes as well as paths', async () => {
    const file = await img.writeSolid(path.join(tmp, 'bytes.png'), [10, 20, 30], 40, 40);
    const fromBytes = await preprocessImage(new Uint8Array(await readFile(file)), clipConfig(32));
    expect(Array.from(fromBytes)).toEqual(Array.from(await preprocessImage(file, clipConfig(32))));
  });
});

describe('every format people keep photos in', () => {
  it('decodes each writable format to the same colour', async () => {
    const files = await img.writeSolidAll(path.join(tmp, 'formats'), [30, 140, 220], 48, 40);
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const t = await preprocessImage(f, plainConfig(16));
      expect(t[0]! * 255, f).toBeCloseTo(30, -0.5);
      expect(t[256]! * 255, f).toBeCloseTo(140, -0.5);
      expect(t[512]! * 255, f).toBeCloseTo(220, -0.5);
    }
  });

  const special: [string, (f: string) => Promise<string>, string][] = [
    ['grayscale', img.writeGrayscale, 'g.png'],
    ['alpha', img.writeRgba, 'rgba.png'],
    ['palette', img.writePalette, 'pal.png'],
    ['16-bit', img.write16Bit, 'deep.png'],
    ['CMYK', img.writeCmykJpeg, 'cmyk.jpg'],
    ['tiny (upscaled)', img.writeTiny, 'tiny.png'],
  ];
  for (const [name, write, file] of special) {
    it(`${name} images give a full, finite 3-channel tensor`, async () => {
      const t = await preprocessImage(await write(path.join(tmp, file)), clipConfig(32));
      expect(t).toHaveLength(3 * 32 * 32);
      expect(t.every(Number.isFinite)).toBe(true);
    });
  }

  it('16-bit images are scaled to 8-bit levels, not clipped', async () => {
    const t = await preprocessImage(await img.write16Bit(path.join(tmp, 'deep2.png')), plainConfig(16));
    expect(Math.max(...t)).toBeLessThanOrEqual(1);
    expect(Math.max(...t)).toBeGreaterThan(0.2);
  });

  it('grayscale gives three equal channels', async () => {
    const t = await preprocessImage(await img.writeGrayscale(path.join(tmp, 'g2.png')), plainConfig(16));
    for (let i = 0; i < 256; i++) {
      expect(t[i]).toBe(t[256 + i]);
      expect(t[i]).toBe(t[512 + i]);
    }
  });

  it('animated images use their first frame', async () => {
    const t = await preprocessImage(await img.writeAnimatedGif(path.join(tmp, 'anim.gif')), plainConfig(16));
    expect(t[0]).toBeGreaterThan(0.9); // red frame first
    expect(t[512]).toBeLessThan(0.1);
  });
});

describe('formats libvips cannot read as shipped', () => {
  it('HEIC photos decode (through libheif) to their colour', async () => {
    const file = await writeHeic(path.join(tmp, 'phone.heic'), solidRgb(64, 48, [200, 40, 40]), 64, 48);
    const t = await preprocessImage(file, plainConfig(16));
    expect(t[0]! * 255).toBeCloseTo(200, -1.2);
    expect(t[256]! * 255).toBeCloseTo(40, -1.2);
  });

  it('camera RAW files use their largest embedded preview, upright', async () => {
    // the preview is 480x320 blue; the RAW's EXIF says rotate 90° (orientation 6), so it displays as portrait
    const file = await writeFakeRaw(
      path.join(tmp, 'IMG_0001.NEF'),
      { width: 480, height: 320, rgb: solidRgb(480, 320, [20, 40, 220]) },
      {
        orientation: 6,
        thumbnail: true,
      },
    );
    const d = await decodeForModel(file, plainConfig(16));
    expect({ width: d.width, height: d.height }).toEqual({ width: 320, height: 480 });
    const t = await preprocessImage(file, plainConfig(16));
    expect(t[512]! * 255).toBeGreaterThan(180); // blue preview, not the green thumbnail
  });
});

async function errorOf(input: string | Uint8Array): Promise<ImageError> {
  const err = await preprocessImage(input, clipConfig(32)).then(
    () => null,
    (e) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  return err as ImageError;
}

describe('bad inputs get their own clear errors', () => {
  it('zero-byte file', async () => {
    const e = await errorOf(await img.writeZeroByte(path.join(tmp, 'zero.jpg')));
    expect(e.code).toBe('image-empty');
    expect(e.message).toMatch(/empty/);
  });

  it('empty bytes', async () => {
    expect((await errorOf(new Uint8Array())).code).toBe('image-empty');
  });

  it('truncated JPEG', async () => {
    const e = await errorOf(await img.writeTruncatedJpeg(path.join(tmp, 'cut.jpg')));
    expect(e.code).toBe('image-truncated');
    expect(e.message).toMatch(/cut short/);
  });

  it('a text file named .jpg', async () => {
    const e = await errorOf(await img.writeTextAsJpg(path.join(tmp, 'notes.jpg')));
    expect(e.code).toBe('image-not-an-image');
  });

  it('a 30000x30000 PNG header (decompression bomb) is refused before decoding', async () => {
    const e = await errorOf(await img.writeHugePngHeader(path.join(tmp, 'bomb.png')));
    expect(e.code).toBe('image-too-large');
    expect(e.message).toContain('30000×30000');
  });

  it('a missing file and a folder', async () => {
    expect((await errorOf(path.join(tmp, 'nope.jpg'))).code).toBe('image-not-found');
    const folder = await errorOf(tmp);
    expect(folder.code).toBe('image-not-a-file');
    expect(folder.message).toBe(`${tmp}: is a folder, not a file; Glance reads photos from regular files only`);
  });

  it('a TIFF with a required tag missing is damaged, not missing', async () => {
    const file = await img.writeTiffWithoutTag262(path.join(tmp, 'no-photometric.tif'));
    for (const input of [file, await readFile(file)]) {
      const e = await errorOf(input);
      expect(e.code).toBe('image-damaged');
      expect(e.message).toMatch(
        /: the file is damaged, its header is unreadable \(tiff2vips: required field 262 missing\)$/,
      );
    }
  });

  it("each decoder's wording for a file cut short gets its code: cut short where it says so, else damaged", async () => {
    const noise = Uint8Array.from({ length: 128 * 128 * 3 }, (_, i) => (i * 2654435761) >>> 24);
    const image = () => sharp(noise, { raw: { width: 128, height: 128, channels: 3 } });
    const cut = (b: Buffer) => b.subarray(0, Math.floor(b.length * 0.4));
    const codes = {
      gif: (await errorOf(cut(await image().gif().toBuffer()))).code, // giflib: "Unexpected end of GIF source data"
      png: (await errorOf(cut(await image().png().toBuffer()))).code, // libpng: "read error", no reason given
      webp: (await errorOf(cut(await image().webp().toBuffer()))).code, // libwebp: "unable to parse image"
    };
    expect(codes).toEqual({ gif: 'image-truncated', png: 'image-damaged', webp: 'image-damaged' });
  });

  it('a FIFO named .jpg is refused by stat, never opened (opening it would wait for a writer forever)', async () => {
    const fifo = path.join(tmp, 'pipe.jpg');
    await exec('mkfifo', [fifo]);
    const e = await errorOf(fifo);
    expect(e.code).toBe('image-not-a-file');
    expect(e.message).toBe(`${fifo}: is a named pipe (FIFO), not a file; Glance reads photos from regular files only`);
  });

  it('a socket named .jpg is refused the same way', async () => {
    const sock = path.join(tmp, 'socket.jpg');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const e = await errorOf(sock);
      expect(e.code).toBe('image-not-a-file');
      expect(e.message).toMatch(/is a socket, not a file/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('SVG is not a photo format', () => {
  it('is refused by content, as a file, as bytes, gzipped, and under a photo name, without a fetch', async () => {
    const requests: string[] = [];
    const server = createHttpServer((req, res) => {
      requests.push(req.url ?? '');
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const href = `http://127.0.0.1:${(server.address() as AddressInfo).port}/remote.png`;
    try {
      const files = [
        await img.writeSvg(path.join(tmp, 'drawing.svg'), href),
        await img.writeSvg(path.join(tmp, 'drawing.svgz'), href, { gzip: true }),
        await img.writeSvg(path.join(tmp, 'renamed.jpg'), href),
      ];
      for (const input of [...files, await readFile(files[0]!)]) {
        const e = await errorOf(input);
        expect(e.code).toBe('image-svg');
        expect(e.message).toMatch(/an SVG drawing, not a photo; Glance does not render SVG/);
      }
      // libvips' SVG loader is blocked for the whole process: not even sharp itself renders one now
      await expect(sharp(files[0]!).raw().toBuffer()).rejects.toThrow('unsupported image format');
      expect(requests).toEqual([]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('preprocessor_config.json parsing', () => {
  it('reads the CLIP processor layout, old and new', () => {
    const old = parsePreprocessConfig({ size: 224, crop_size: 224 });
    expect(old.shortestEdge).toBe(224);
    expect(old.output).toEqual({ height: 224, width: 224 });
    expect(old.mean).toEqual(MEAN);
    const fixed = parsePreprocessConfig({ size: { height: 256, width: 256 }, do_center_crop: false });
    expect(fixed.resizeTo).toEqual({ height: 256, width: 256 });
    expect(fixed.output).toEqual({ height: 256, width: 256 });
  });

  it('names the field that is wrong', () => {
    expect(() => parsePreprocessConfig({ size: { shortest_edge: 224 }, do_center_crop: false })).toThrow(/output size/);
    expect(() => parsePreprocessConfig({ size: 224, crop_size: 224, image_std: [1, 0, 1] })).toThrow(/image_std/);
    expect(() => parsePreprocessConfig([])).toThrow(/JSON object/);
  });
});
