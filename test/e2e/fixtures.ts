// What the end-to-end tests start from: a local fake hub that serves the tiny CLIP and LLaVA fixture models under
// the catalog's repositories and file names, and a folder of generated photos. The default CLIP model's files are
// pinned to their reviewed hashes, so the window must refuse the hub's stand-in for them (installTinyClip, in
// test/fixtures/installed-model.ts, puts the tiny model in place instead); Gemma 3's are trusted on first use, so the
// stand-in downloads and installs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CHAT_CATALOG, CLIP_CATALOG, DEFAULT_CLIP_ID } from '../../native-models/catalog.ts';
import { type FakeFile, type FakeHub, startFakeHub } from '../fixtures/fake-hub.ts';
import * as img from '../fixtures/images.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';
import { writeTinyLlava } from '../fixtures/tiny-llava.ts';

/** The chat model the window downloads from the fake hub: no published hashes, its files trusted on first use. */
export const E2E_CHAT_ID = 'gemma-3-4b';

export async function startModelHub(
  dir: string,
  knobs: { delayMs?: number; chunkSize?: number } = {},
): Promise<FakeHub> {
  const clip = await writeTinyClip(path.join(dir, 'clip'));
  const llava = await writeTinyLlava(path.join(dir, 'llava'));
  const clipEntry = CLIP_CATALOG.find((e) => e.id === DEFAULT_CLIP_ID)!;
  const chat = CHAT_CATALOG.find((e) => e.id === E2E_CHAT_ID)!;
  const files: FakeFile[] = [];
  for (const f of clipEntry.files) {
    files.push({
      repo: clipEntry.repo,
      file: f.file,
      data: await readFile(path.join(clip.dir, f.file)),
      lfs: f.file.endsWith('.onnx'),
    });
  }
  files.push({ repo: chat.repo, file: chat.model.file, data: await readFile(llava.model), lfs: true });
  files.push({ repo: chat.repo, file: chat.mmproj.file, data: await readFile(llava.mmproj), lfs: true });
  return startFakeHub(files, knobs);
}

/** Solid-colour photos the tiny CLIP model tells apart. */
export async function writePhotos(dir: string): Promise<string> {
  await img.writeSolid(path.join(dir, 'red-car.jpg'), [230, 20, 20], 160, 120);
  await img.writeSolid(path.join(dir, 'green-field.png'), [20, 200, 30], 120, 160);
  await img.writeSolid(path.join(dir, 'blue-sea.png'), [10, 20, 220], 140, 140);
  await img.writeSolid(path.join(dir, 'trip', 'yellow-sun.jpg'), [240, 230, 20], 160, 100);
  return dir;
}
