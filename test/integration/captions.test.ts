// Captions on real parts: a real SQLite library (migration 6's tables, FTS5 and triggers), the tiny CLIP model through
// ONNX Runtime for the CLIP side of a text search, real image files, exiftool for the exported caption.
// The tiny model sees colours only: its text tower gives "dog" no meaning, so "red dog" ranks photos by redness, and
// what puts a photo of another colour first can only be its caption.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CaptionQueue, captionQuery, fuseRankings } from '../../electron/engine/library/captions.ts';
import { Library, LibraryError } from '../../electron/engine/library/library.ts';
import { colourVocabulary } from '../fixtures/colour-vocabulary.ts';
import * as img from '../fixtures/images.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

const exec = promisify(execFile);
let tmp: string;
let photos: string;
let lib: Library;
/** photo file name -> id */
const id: Record<string, number> = {};

const file = (...parts: string[]) => path.join(photos, ...parts);
const names = (hits: { path: string }[]) => hits.map((h) => path.basename(h.path));
const ftsRows = () =>
  lib.db.prepare('SELECT rowid AS id, text FROM caption_fts ORDER BY rowid').all() as { id: number; text: string }[];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-captions-'));
  const modelDir = (await writeTinyClip(path.join(tmp, 'models', 'tiny-clip'))).dir;
  photos = path.join(tmp, 'photos');
  // from the reddest to the least red: CLIP's order for "red"
  await img.writeSolid(file('red.png'), [255, 0, 0], 40, 30);
  await img.writeSolid(file('crimson.png'), [220, 30, 30], 40, 30);
  await img.writeSolid(file('orange.png'), [240, 120, 30], 40, 30);
  await img.writeSolid(file('blue.png'), [10, 20, 230], 40, 30);
  await img.writeSolid(file('green.png'), [20, 200, 30], 40, 30);
  await img.writeSolid(file('other', 'yellow.png'), [240, 230, 20], 40, 30);
  lib = Library.open({
    home: path.join(tmp, 'home'),
    modelDir,
    vocabulary: colourVocabulary(),
    batchSize: 4,
  });
  const p = await lib.indexFolders([photos]);
  expect(p, JSON.stringify(p)).toMatchObject({ indexed: 6 });
  for (const r of lib.db.prepare('SELECT id, path FROM photos').all() as { id: number; path: string }[]) {
    id[path.basename(r.path)] = r.id;
  }
});

afterAll(async () => {
  lib?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('the search words of a query', () => {
  it('drops English stopwords and photo words, quotes every word, and gives up when nothing is left', () => {
    expect(captionQuery('A photo of the running dogs on a beach')).toBe('"running" "dogs" "beach"');
    // FTS5 syntax in a search is just words (AND, NEAR: stopwords too)
    expect(captionQuery('dog AND NEAR(cat) "x" col:y*')).toBe('"dog" "cat" "x" "col" "y"');
    expect(captionQuery('a picture of it')).toBeNull();
    expect(captionQuery('Café crème')).toBe('"café" "crème"');
  });
});

describe('captions and their full-text index', () => {
  it('stores one caption per photo and model; the newest model caption shows; photoDetail carries it', () => {
    expect(lib.caption(id['green.png']!)).toBeNull();
    expect(lib.photoDetail(id['green.png']!).caption).toBeNull();
    const first = lib.setModelCaption(id['green.png']!, 'smolvlm', '  Two running dogs on a sunny beach. ');
    expect(first).toEqual({
      text: 'Two running dogs on a sunny beach.',
      model: 'smolvlm',
      createdAt: expect.any(Number),
      edited: false,
    });
    lib.setModelCaption(id['green.png']!, 'smolvlm', 'Two running dogs on a beach.');
    const rows = lib.db.prepare('SELECT model, text FROM captions WHERE photo_id = ?').all(id['green.png']);
    expect(rows).toEqual([{ model: 'smolvlm', text: 'Two running dogs on a beach.' }]);
    expect(lib.photoDetail(id['green.png']!).caption?.text).toBe('Two running dogs on a beach.');
    expect(lib.photoDetail(file('green.png')).caption?.model).toBe('smolvlm');
    expect(ftsRows()).toEqual([{ id: id['green.png'], text: 'Two running dogs on a beach.' }]);
  });

  it('finds a caption by its words with English stemming: "dog run" finds "running dogs"', async () => {
    const hits = await lib.search({ text: 'dog run', limit: 3 });
    expect(names(hits)[0]).toBe('green.png');
    // "run" alone, "beaches", "DOGS": stems and case
    for (const text of ['run', 'beaches', 'DOGS', 'the dogs running']) {
      expect(names(await lib.search({ text, limit: 1 }))).toEqual(['green.png']);
    }
    // every word must be there: "snow" is not in the caption, so CLIP alone ranks ("red": the reddest first)
    expect(lib.store.captionMatches('"red" "dog" "snow"', 10)).toEqual([]);
    expect(names(await lib.search({ text: 'red dog snow', limit: 1 }))).toEqual(['red.png']);
  });

  it('refuses captions it cannot keep, with a reason', () => {
    expect(() => lib.setModelCaption(id['green.png']!, 'smolvlm', '   ')).toThrow(/empty caption/);
    expect(() => lib.setModelCaption(id['green.png']!, 'person', 'x')).toThrow(/kept for a person/);
    expect(() => lib.setModelCaption(id['green.png']!, '', 'x')).toThrow(LibraryError);
    expect(() => lib.setPersonCaption(id['green.png']!, 'x'.repeat(2001))).toThrow(/at most 2000 characters/);
    expect(() => lib.setModelCaption(999_999, 'smolvlm', 'x')).toThrow(/no photo with id 999999/);
    expect(lib.caption(id['green.png']!)?.text).toBe('Two running dogs on a beach.');
  });
});

describe('a person’s caption', () => {
  it('wins over every model caption, survives a new model caption, and removing it shows the model’s again', async () => {
    const blue = id['blue.png']!;
    lib.setModelCaption(blue, 'smolvlm', 'A blue wall.');
    const mine = lib.setPersonCaption(blue, ' The door of our house in Porto ');
    expect(mine).toMatchObject({ text: 'The door of our house in Porto', model: 'person', edited: true });
    // a later model caption (a redo, another model) is stored beneath it and does not show
    expect(lib.setModelCaption(blue, 'smolvlm', 'A blue painted wall.')).toMatchObject({ edited: true });
    expect(lib.setModelCaption(blue, 'llava', 'A wall painted blue.')).toMatchObject({
      text: 'The door of our house in Porto',
    });
    expect(lib.caption(blue)).toMatchObject({ text: 'The door of our house in Porto', edited: true });
    // only the shown caption is searchable
    expect(names(await lib.search({ text: 'Porto door', limit: 1 }))).toEqual(['blue.png']);
    expect(ftsRows().find((r) => r.id === blue)?.text).toBe('The door of our house in Porto');
    // a redo never returns it
    const redo = lib.photosToCaption({ model: 'smolvlm', redoBefore: Date.now() + 1000 });
    const listed: number[] = [];
    for (let p = redo.next(); p; p = redo.next()) listed.push(p.id);
    expect(listed).not.toContain(blue);
    expect(listed).toContain(id['green.png']);

    // cleared: the newest model caption shows again, and is what the words find
    expect(lib.setPersonCaption(blue, '   ')).toMatchObject({ text: 'A wall painted blue.', model: 'llava' });
    expect(ftsRows().find((r) => r.id === blue)?.text).toBe('A wall painted blue.');
    expect(lib.store.captionMatches('"porto"', 10)).toEqual([]);
    lib.setPersonCaption(blue, 'The door of our house in Porto');
  });
});

describe('fusion of caption matches with CLIP', () => {
  it('ranks caption matches first, by reciprocal rank fusion of bm25 and CLIP ranks, then CLIP’s other hits', async () => {
    // CLIP's own order for the query (no caption has "red" yet): redness
    const clipOnly = await lib.search({ text: 'red dog', limit: 6 });
    expect(names(clipOnly).slice(0, 3)).toEqual(['red.png', 'crimson.png', 'orange.png']);
    const clipScore = new Map(clipOnly.map((h) => [h.id, h.score]));

    // Three captions with both words, so that bm25 and CLIP disagree (bm25: yellow, crimson, orange; CLIP: crimson,
    // orange, yellow). RRF: crimson 1/62 + 1/61 = 0.032522, yellow 1/61 + 1/63 = 0.032266, orange 1/63 + 1/62 =
    // 0.032002: neither bm25's order nor CLIP's.
    lib.setModelCaption(id['yellow.png']!, 'smolvlm', 'Red dog, red dog.');
    lib.setModelCaption(id['crimson.png']!, 'smolvlm', 'A red dog on the grass.');
    lib.setModelCaption(
      id['orange.png']!,
      'smolvlm',
      'A small red dog asleep on a long orange sofa beside the big window of a quiet house.',
    );
    // red.png, the reddest, has a caption without "dog": CLIP's favourite, but no caption match
    lib.setModelCaption(id['red.png']!, 'smolvlm', 'A red car parked by the road.');

    expect(lib.store.captionMatches('"red" "dog"', 10)).toEqual([
      id['yellow.png'],
      id['crimson.png'],
      id['orange.png'],
    ]);
    const within = [id['crimson.png']!, id['orange.png']!, id['yellow.png']!];
    expect([...within].sort((a, b) => clipScore.get(b)! - clipScore.get(a)!)).toEqual(within);

    const hits = await lib.search({ text: 'red dog', limit: 6 });
    const tier2 = names(clipOnly).filter((n) => !['crimson.png', 'yellow.png', 'orange.png'].includes(n));
    expect(tier2[0]).toBe('red.png');
    expect(names(hits)).toEqual(['crimson.png', 'yellow.png', 'orange.png', ...tier2]);
    // scores stay CLIP's cosine similarities, in both tiers
    for (const h of hits) expect(h.score).toBeCloseTo(clipScore.get(h.id)!, 5);
    // filters apply to caption matches too
    expect(names(await lib.search({ text: 'red dog', limit: 6, folder: path.join(photos, 'other') }))).toEqual([
      'yellow.png',
    ]);
    // the limit cuts after fusion
    expect(names(await lib.search({ text: 'red dog', limit: 2 }))).toEqual(['crimson.png', 'yellow.png']);
  });

  it('fuses by rank, not by bm25 order or CLIP order alone', () => {
    // matches in bm25 order A(1) B(2) C(3); CLIP within them B(1) C(2) A(3):
    // RRF A = 1/61 + 1/63 = 0.032266, B = 1/62 + 1/61 = 0.032522, C = 1/63 + 1/62 = 0.032002
    const fused = fuseRankings(
      [1, 2, 3],
      [
        { id: 2, score: 0.9 },
        { id: 3, score: 0.8 },
        { id: 1, score: 0.7 },
      ],
      [
        { id: 9, score: 0.95 },
        { id: 2, score: 0.9 },
        { id: 8, score: 0.85 },
      ],
      10,
    );
    expect(fused).toEqual([
      { id: 2, score: 0.9 },
      { id: 1, score: 0.7 },
      { id: 3, score: 0.8 },
      { id: 9, score: 0.95 },
      { id: 8, score: 0.85 },
    ]);
    // a match CLIP has no vector for ranks last in CLIP's list, and has no score
    expect(fuseRankings([5, 6], [{ id: 6, score: 0.5 }], [], 10)).toEqual([
      { id: 6, score: 0.5 },
      { id: 5, score: null },
    ]);
  });
});

describe('photos to caption', () => {
  it('lists the photos without a caption by the model, by id, with a count, skipping a person’s', () => {
    // captions so far by smolvlm: green, blue (a person's too), orange, crimson, yellow, red: all of them
    expect(lib.photosToCaption({ model: 'smolvlm' }).total).toBe(0);
    // by another model: all but blue (a person's caption would hide it)
    const q = lib.photosToCaption({ model: 'tiny-llava' });
    const all = Object.entries(id)
      .filter(([n]) => n !== 'blue.png')
      .map(([, i]) => i)
      .sort((a, b) => a - b);
    expect(q.total).toBe(all.length);
    const first = q.next();
    expect(first).toEqual({ id: all[0], path: expect.stringMatching(/\.png$/) });
    // a job killed here and started again: the photo it finished is not listed again, none is skipped
    lib.setModelCaption(first!.id, 'tiny-llava', 'done');
    const again = lib.photosToCaption({ model: 'tiny-llava' });
    expect(again.total).toBe(all.length - 1);
    const rest: number[] = [];
    for (let p = again.next(); p; p = again.next()) {
      rest.push(p.id);
      if (rest.length === 1) lib.setModelCaption(all[3]!, 'tiny-llava', 'captioned meanwhile'); // skipped below
    }
    expect(rest).toEqual(all.slice(1).filter((i) => i !== all[3]));
    expect(again.next()).toBeNull();
  });

  it('redoes captions older than the redo’s start, and a resumed redo skips what it already did', async () => {
    const start = Date.now() + 1; // every caption so far is older
    const redo = lib.photosToCaption({ model: 'tiny-llava', redoBefore: start });
    expect(redo.total).toBe(5); // all but blue
    const first = redo.next()!;
    await new Promise((r) => setTimeout(r, 2)); // the redo's caption is written after its start
    lib.setModelCaption(first.id, 'tiny-llava', 'redone');
    expect(lib.photosToCaption({ model: 'tiny-llava', redoBefore: start }).total).toBe(4);
  });

  it('reads the photos a page at a time by id, none skipped or repeated at the page edges', () => {
    const spy = vi.spyOn(lib.store, 'captionsMissingPage');
    const reader = new CaptionQueue(lib.store, { model: 'paged' }, 2);
    const all = Object.values(id).sort((a, b) => a - b);
    expect(reader.total).toBe(all.length - 1); // blue has a person's caption
    const read: number[] = [];
    for (let p = reader.next(); p; p = reader.next()) read.push(p.id);
    const pages = spy.mock.calls.map(([, after, limit]) => [after, limit]);
    spy.mockRestore();
    expect(read).toEqual(all.filter((i) => i !== id['blue.png']));
    // pages of 2, each after the last id of the one before, never the whole list at once
    expect(pages[0]).toEqual([0, 2]);
    expect(pages.length).toBe(Math.ceil(read.length / 2) + (read.length % 2 === 0 ? 1 : 0));
    for (const [, limit] of pages) expect(limit).toBe(2);
  });

  it('keeps to the given folders, and refuses a folder that is not in the library', () => {
    const folder = lib.folders()[0]!.id;
    expect(lib.photosToCaption({ model: 'x', folderIds: [folder] }).total).toBe(5);
    expect(() => lib.photosToCaption({ model: 'x', folderIds: [folder + 100] })).toThrow(/no folder/);
  });
});

describe('captions follow their photo', () => {
  it('a photo whose content changed loses its model captions, never a person’s', async () => {
    lib.setPersonCaption(id['green.png']!, 'Our dogs');
    await img.writeSolid(file('green.png'), [20, 150, 30], 40, 30); // new content at the same path
    await img.writeSolid(file('crimson.png'), [200, 30, 30], 40, 30);
    const p = await lib.indexFolders(undefined);
    expect(p.indexed).toBe(2);
    expect(lib.db.prepare('SELECT model FROM captions WHERE photo_id = ?').all(id['green.png'])).toEqual([
      { model: 'person' },
    ]);
    expect(lib.caption(id['crimson.png']!)).toBeNull();
    expect(ftsRows().find((r) => r.id === id['crimson.png'])).toBeUndefined();
    expect(ftsRows().find((r) => r.id === id['green.png'])?.text).toBe('Our dogs');
  });

  it('deleting a photo removes its captions and its searchable words', async () => {
    const orange = id['orange.png']!;
    expect(ftsRows().some((r) => r.id === orange)).toBe(true);
    await rm(file('orange.png'));
    expect((await lib.indexFolders(undefined)).removed).toBe(1);
    expect(lib.db.prepare('SELECT count(*) AS n FROM captions WHERE photo_id = ?').get(orange)).toEqual({ n: 0 });
    expect(ftsRows().some((r) => r.id === orange)).toBe(false);
    expect(names(await lib.search({ text: 'red dog', limit: 2 }))[0]).toBe('yellow.png');
  });
});

describe('XMP export of the caption', () => {
  it('writes the shown caption as dc:description, which exiftool reads back', async () => {
    const out = await lib.exportXmp(photos);
    expect(out.failed).toEqual([]);
    const sidecar = `${file('green.png')}.xmp`;
    const written = out.written.find((w) => w.path === sidecar);
    expect(written).toMatchObject({ description: 'Our dogs' });
    const { stdout } = await exec('exiftool', ['-j', '-XMP-dc:Description', '-XMP-dc:Subject', sidecar]);
    const read = JSON.parse(stdout)[0];
    expect(read.Description).toBe('Our dogs');
    const tags = lib.tags(id['green.png']!).tags.map((t) => t.name);
    expect(read.Subject === undefined ? [] : [read.Subject].flat()).toEqual(tags);
    // written again: nothing changes
    const again = await lib.exportXmp(photos);
    expect(again.written.find((w) => w.path === sidecar)).toEqual({ path: sidecar, created: false, added: [] });
    // a new caption replaces the description
    lib.setPersonCaption(id['green.png']!, 'Our two dogs at the beach');
    await lib.exportXmp(photos);
    const after = JSON.parse((await exec('exiftool', ['-j', '-XMP-dc:Description', sidecar])).stdout)[0];
    expect(after.Description).toBe('Our two dogs at the beach');
  });
});
