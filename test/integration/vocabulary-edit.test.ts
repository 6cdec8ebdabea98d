// Editing the tag vocabulary on real parts (a real SQLite file, the tiny CLIP model, real images): a new vocabulary
// re-tags every photo from its stored embedding at once, without decoding or re-indexing; an invalid one is refused
// and the person's file left as it was; a reset brings the shipped default back.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Library } from '../../electron/engine/library/library.ts';
import { colourVocabulary } from '../fixtures/colour-vocabulary.ts';
import * as img from '../fixtures/images.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

let tmp: string;
let home: string;
let photos: string;
let lib: Library;

const colours = (words: string[]) => ({
  version: 1,
  neutral: ['a photo.', 'a picture.', 'an image.'],
  categories: [
    {
      name: 'Colours',
      labels: words.map((w) => ({ name: w, prompts: [`a photo of something ${w}.`, `a ${w} picture.`] })),
    },
  ],
});
const tagsOf = (file: string) =>
  lib
    .tags(path.join(photos, file))
    .tags.map((t) => t.name)
    .sort();

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-vocab-'));
  home = path.join(tmp, 'home');
  const modelDir = (await writeTinyClip(path.join(tmp, 'models', 'tiny-clip'))).dir;
  photos = path.join(tmp, 'photos');
  await img.writeSolid(path.join(photos, 'red.png'), [230, 20, 20], 60, 40);
  await img.writeSolid(path.join(photos, 'green.png'), [20, 200, 30], 60, 40);
  await img.writeSolid(path.join(photos, 'blue.png'), [10, 20, 220], 60, 40);
  lib = Library.open({ home, modelDir, vocabulary: colourVocabulary(['red', 'green']), batchSize: 4 });
  lib.setThreshold(0.5);
  expect(await lib.indexFolders([photos])).toMatchObject({ phase: 'done', indexed: 3 });
});

afterAll(async () => {
  lib?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('the vocabulary editor', () => {
  it('reports the vocabulary in use', async () => {
    const v = await lib.vocabulary();
    expect(v.labels.map((l) => l.name)).toEqual(['red', 'green']);
    expect(tagsOf('red.png')).toEqual(['red']);
    expect(tagsOf('blue.png')).toEqual([]);
  });

  it('a new vocabulary re-tags every photo from stored embeddings, without re-indexing', async () => {
    const r = await lib.setVocabulary(colours(['blue', 'green']));
    expect(r).toEqual({ labels: 2, retagged: 3 });
    const saved = JSON.parse(await readFile(path.join(home, 'vocabulary.json'), 'utf8'));
    expect(saved.categories[0].labels.map((l: { name: string }) => l.name)).toEqual(['blue', 'green']);
    expect(lib.customVocabulary()).toBe(true);
    expect((await lib.vocabulary()).labels.map((l) => l.name)).toEqual(['blue', 'green']);
    expect(tagsOf('blue.png')).toEqual(['blue']);
    expect(tagsOf('red.png')).not.toContain('red');
    expect(tagsOf('green.png')).toEqual(['green']);
    // nothing to do for the indexer: the tags came from the stored embeddings
    expect(await lib.indexFolders([photos])).toMatchObject({ phase: 'done', indexed: 0, unchanged: 3 });
    expect(tagsOf('blue.png')).toEqual(['blue']);
  });

  it("a label's new threshold and category take effect (the tag row follows the vocabulary)", async () => {
    const blueOf = () => lib.tags(path.join(photos, 'blue.png'));
    expect(blueOf().tags).toEqual([expect.objectContaining({ name: 'blue', category: 'Colours' })]);
    const edited = colours(['blue', 'green']);
    edited.categories[0]!.name = 'Cool';
    (edited.categories[0]!.labels[0] as { threshold?: number }).threshold = 0.999;
    await lib.setVocabulary(edited);
    // blue's own threshold is now above its margin: a candidate, no longer a tag; green moved to "Cool"
    expect(blueOf().tags).toEqual([]);
    expect(blueOf().candidates).toContainEqual(expect.objectContaining({ name: 'blue', category: 'Cool' }));
    expect(lib.tags(path.join(photos, 'green.png')).tags).toEqual([
      expect.objectContaining({ name: 'green', category: 'Cool' }),
    ]);
    expect(await lib.search({ tags: ['blue'] })).toEqual([]);
    // a person's own tag of the same name as a label does not reset the label's threshold
    lib.addTag(path.join(photos, 'red.png'), 'blue');
    expect(blueOf().tags).toEqual([]);
    expect((await lib.search({ tags: ['blue'] })).map((h) => path.basename(h.path))).toEqual(['red.png']);
    lib.removeTag(path.join(photos, 'red.png'), 'blue');
    await lib.setVocabulary(colours(['blue', 'green']));
    expect(blueOf().tags).toEqual([expect.objectContaining({ name: 'blue', category: 'Colours' })]);
  });

  it('an invalid vocabulary is refused with its code, and the saved file is left as it was', async () => {
    const file = path.join(home, 'vocabulary.json');
    const before = await readFile(file, 'utf8');
    for (const bad of [
      { neutral: [], categories: [] },
      colours(['blue', 'blue']),
      { neutral: ['a photo.'], categories: [{ name: 'X', labels: [{ name: 'cat', prompts: [] }] }] },
      'not an object',
    ]) {
      await expect(lib.setVocabulary(bad)).rejects.toMatchObject({ code: 'vocabulary-invalid' });
    }
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(tagsOf('blue.png')).toEqual(['blue']);
  });

  it('a reset deletes the person’s copy: the shipped default is used again', async () => {
    const r = await lib.resetVocabulary();
    expect(r.retagged).toBe(3);
    expect(r.labels).toBeGreaterThan(100);
    expect(existsSync(path.join(home, 'vocabulary.json'))).toBe(false);
    expect(lib.customVocabulary()).toBe(false);
    expect(tagsOf('blue.png')).not.toContain('green');
  });
});
