// The HEIC/HEIF decoding pool: real files from heif-enc, decoded by wasm libheif in worker threads. Same pixels as a
// decode on the calling thread, the event loop free while it runs, the file's own thumbnail item used for the model
// when it is big enough (and only then), damaged files refused with the same codes, and no worker that keeps a
// finished process alive.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHeif } from '../../native-models/clip/heif.ts';
import { HeifPool } from '../../native-models/clip/heif-pool.ts';
import { decodeForModel, decodeImage } from '../../native-models/clip/preprocess.ts';
import { parsePreprocessConfig } from '../../native-models/clip/preprocess-config.ts';
import { ImageError } from '../../native-models/errors.ts';
import { seededRandom } from '../fixtures/images.ts';
import { turnsDuring } from '../fixtures/loop-turns.ts';
import { damageHeif, solidRgb, writeHeic } from '../fixtures/raw-and-heic.ts';

const run = promisify(execFile);
const NO_LIMIT = Number.POSITIVE_INFINITY;

let dir: string;
let pool: HeifPool;
/** 640x480 of smooth colour and noise (something for the codec to get slightly wrong), with a 320 px thumbnail. */
let photo: Buffer;
let plain: Buffer;

function textured(width: number, height: number, seed: number): Uint8Array {
  const next = seededRandom(seed);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb[i] = (x * 255) / width;
      rgb[i + 1] = (y * 255) / height;
      rgb[i + 2] = Math.floor(next() * 64) + 96;
    }
  }
  return rgb;
}

async function errorOf(p: Promise<unknown>): Promise<ImageError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  return err as ImageError;
}

function errorOfSync(f: () => unknown): ImageError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    return err as ImageError;
  }
  throw new Error('expected an ImageError');
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'glance-heif-pool-'));
  pool = new HeifPool(2);
  const rgb = textured(640, 480, 11);
  photo = await readFile(await writeHeic(path.join(dir, 'photo.heic'), rgb, 640, 480, { thumbnail: 320 }));
  plain = await readFile(await writeHeic(path.join(dir, 'plain.heic'), rgb, 640, 480));
}, 60_000);

afterAll(async () => {
  await pool.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the HEIF pool', () => {
  it('decodes in a worker to the same pixels as a decode on this thread', async () => {
    const before = pool.decodes;
    const inWorker = await pool.decode(plain, 'plain.heic', NO_LIMIT);
    expect(pool.decodes).toBe(before + 1);
    const here = decodeHeif(plain, 'plain.heic', NO_LIMIT);
    expect(inWorker.full).toBeUndefined();
    expect([inWorker.image.width, inWorker.image.height]).toEqual([640, 480]);
    expect(Buffer.from(inWorker.image.data).equals(Buffer.from(here.image.data))).toBe(true);
  });

  it('leaves the event loop turning while a file decodes', async () => {
    await pool.decode(plain, 'warm-up', NO_LIMIT); // a started worker: what is counted is the decode alone
    const { result: out, turns } = await turnsDuring(() => pool.decode(plain, 'plain.heic', NO_LIMIT));
    expect(out.image.width).toBe(640);
    expect(turns).toBeGreaterThan(0);
  });

  it('runs as many decodes at once as it has workers, no more', async () => {
    const small = new HeifPool(2);
    try {
      const all = await Promise.all([0, 1, 2, 3, 4].map(() => small.decode(plain, 'plain.heic', NO_LIMIT)));
      expect(all.every((r) => r.image.width === 640)).toBe(true);
      expect(small.workers).toBeLessThanOrEqual(2);
      expect(small.decodes).toBe(5);
    } finally {
      await small.close();
    }
    expect(small.workers).toBe(0);
  });

  it('refuses what is queued when it is closed, with a message, and works again after', async () => {
    const closing = new HeifPool(1);
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'decoded',
        (e: Error) => e.message,
      );
    const first = outcome(closing.decode(plain, 'a.heic', NO_LIMIT));
    const second = outcome(closing.decode(plain, 'b.heic', NO_LIMIT));
    await closing.close();
    expect(await first).toBe('the HEIC decoder was shut down');
    expect(await second).toBe('the HEIC decoder was shut down');
    expect((await closing.decode(plain, 'c.heic', NO_LIMIT)).image.width).toBe(640);
    await closing.close();
  });
});

describe('the thumbnail item', () => {
  it('is decoded instead of the full image when it is at least the size needed', async () => {
    const out = await pool.decode(photo, 'photo.heic', NO_LIMIT, { shortSide: 224 });
    expect([out.image.width, out.image.height]).toEqual([320, 240]);
    expect(out.full).toEqual({ width: 640, height: 480 });
  });

  it('is passed over when it is smaller than needed, and without a need', async () => {
    const bigger = await pool.decode(photo, 'photo.heic', NO_LIMIT, { shortSide: 241 });
    expect([bigger.image.width, bigger.image.height]).toEqual([640, 480]);
    expect(bigger.full).toBeUndefined();
    const fixed = await pool.decode(photo, 'photo.heic', NO_LIMIT, { width: 321, height: 200 });
    expect(fixed.image.width).toBe(640);
    const full = await pool.decode(photo, 'photo.heic', NO_LIMIT);
    expect(full.image.width).toBe(640);
  });

  it('is what the model decode reads, which still reports the photo’s own size', async () => {
    const cfg = parsePreprocessConfig({ size: { shortest_edge: 224 }, crop_size: 224 });
    const decoded = await decodeForModel(photo, cfg, { label: 'photo.heic' });
    expect([decoded.width, decoded.height]).toEqual([640, 480]);
    expect([decoded.storedWidth, decoded.storedHeight]).toEqual([298, 224]);
    // too small a thumbnail for a 256 px model: the full picture is decoded, with the same size reported
    const large = parsePreprocessConfig({ size: { shortest_edge: 256 }, crop_size: 256 });
    const full = await decodeForModel(photo, large, { label: 'photo.heic' });
    expect([full.width, full.height, full.storedHeight]).toEqual([640, 480, 256]);
  });

  it('is never what a decode for detail reads (chat attachments ask for no thumbnail)', async () => {
    const decoded = await decodeImage(photo, (width, height) => ({ width, height }), { label: 'photo.heic' });
    expect([decoded.storedWidth, decoded.storedHeight, decoded.width, decoded.height]).toEqual([640, 480, 640, 480]);
  });

  it('leaves a file above the pixel limit refused, not indexed from its thumbnail', async () => {
    const err = await errorOf(pool.decode(photo, 'photo.heic', 640 * 480 - 1, { shortSide: 224 }));
    expect(err.code).toBe('image-too-large');
  });
});

describe('damaged files', () => {
  it('give the same error codes and messages from the worker as on this thread', async () => {
    const cases: [string, Uint8Array][] = [
      ['cut short', photo.subarray(0, Math.floor(photo.length * 0.6))],
      ['no iloc', damageHeif(plain, 'no-iloc')],
      ['not heif inside', Buffer.concat([plain.subarray(0, 32), Buffer.alloc(200)])],
    ];
    for (const [what, bytes] of cases) {
      const here = errorOfSync(() => decodeHeif(bytes, what, NO_LIMIT, { shortSide: 224 }));
      const there = await errorOf(pool.decode(bytes, what, NO_LIMIT, { shortSide: 224 }));
      expect({ code: there.code, message: there.message }, what).toEqual({ code: here.code, message: here.message });
    }
  });
});

describe('a process that decoded a HEIC', () => {
  it('exits on its own when its work is done (no worker keeps it alive)', async () => {
    const file = path.join(dir, 'solid.heic');
    await writeHeic(file, solidRgb(64, 48, [200, 30, 30]), 64, 48);
    const script = path.join(dir, 'decode-and-end.mts');
    const decoders = path.resolve('native-models/clip/decoders.ts');
    await writeFile(
      script,
      `import { readFile } from 'node:fs/promises';
import { decodeFallback } from ${JSON.stringify(decoders)};
const out = await decodeFallback(await readFile(${JSON.stringify(file)}), 'solid.heic', Infinity);
process.stdout.write(out && out.kind === 'raw' ? \`decoded \${out.image.width}x\${out.image.height}\` : 'nothing');
`,
    );
    // a guard against a hang, not a measurement: a process that did not exit is killed and the test fails
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script], { timeout: 60_000 });
    expect(stdout).toBe('decoded 64x48');
  });
});
