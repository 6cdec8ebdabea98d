// SVG is not a photo format, and every way into Glance says so alike: the library's scan leaves .svg files out, and
// the one decoder that classify, indexing and chat attachments share refuses SVG content under any name. No SVG is
// ever rendered, so a drawing that points at a web address never makes Glance fetch it.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeImage } from '../../electron/engine/chat/attachments.ts';
import { decodeNewPhoto } from '../../electron/engine/library/indexer.ts';
import { scanFolder } from '../../electron/engine/library/scan.ts';
import { parsePreprocessConfig } from '../../native-models/clip/preprocess-config.ts';
import { ImageError } from '../../native-models/errors.ts';
import * as img from '../fixtures/images.ts';

let tmp: string;
let href: string;
const requests: string[] = [];
const server = createServer((req, res) => {
  requests.push(req.url ?? '');
  res.writeHead(404).end();
});

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-svg-'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  href = `http://127.0.0.1:${(server.address() as AddressInfo).port}/remote.png`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(tmp, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<ImageError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  return err as ImageError;
}

describe('SVG, wherever it comes in', () => {
  it('the scan leaves SVG files out of the library', async () => {
    const dir = path.join(tmp, 'photos');
    await img.writeSolid(path.join(dir, 'photo.jpg'), [10, 200, 30], 40, 30);
    await img.writeSvg(path.join(dir, 'drawing.svg'), href);
    await img.writeSvg(path.join(dir, 'drawing.svgz'), href, { gzip: true });
    const found: string[] = [];
    for await (const f of scanFolder(dir)) found.push(path.basename(f.path));
    expect(found).toEqual(['photo.jpg']);
  });

  it('indexing refuses a drawing renamed .jpg with the same error', async () => {
    const file = await img.writeSvg(path.join(tmp, 'renamed', 'drawing.jpg'), href);
    const cfg = parsePreprocessConfig({
      crop_size: 32,
      do_center_crop: true,
      do_normalize: true,
      do_rescale: true,
      do_resize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
      rescale_factor: 1 / 255,
      size: { shortest_edge: 32 },
    });
    const thumbs = path.join(tmp, 'thumbs');
    const err = await refusal(decodeNewPhoto(await readFile(file), file, 'h', cfg, thumbs));
    expect(err.code).toBe('image-svg');
    expect(err.message).toMatch(/drawing\.jpg: an SVG drawing, not a photo/);
    expect(await readdir(thumbs).catch(() => [])).toEqual([]);
    expect(requests).toEqual([]); // the image the drawing points at was never asked for
  });

  it('a chat attachment (path or bytes) is refused before anything is stored', async () => {
    const file = await img.writeSvg(path.join(tmp, 'attach.svg'), href);
    const store = path.join(tmp, 'attachments');
    for (const input of [file, await readFile(file)]) {
      const err = await refusal(storeImage(input, store, 'attach.svg'));
      expect(err.code).toBe('image-svg');
      expect(err.message).toMatch(/^attach\.svg: an SVG drawing, not a photo; Glance does not render SVG/);
    }
    expect(await readdir(store).catch(() => [])).toEqual([]);
    expect(requests).toEqual([]);
  });
});
