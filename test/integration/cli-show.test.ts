// glance show FILE: one photo's everything, read from a real library (SQLite, indexed with the tiny CLIP model),
// the command run in-process with its output captured.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { showCommand, usage } from '../../electron/cli/commands/show.ts';
import type { CliIo } from '../../electron/cli/io.ts';
import { Library } from '../../electron/engine/library/library.ts';
import { colourVocabulary } from '../fixtures/colour-vocabulary.ts';
import * as img from '../fixtures/images.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

let tmp: string;
let home: string;
let modelDir: string;
let red: string;
let dated: string;
let takenAt: number;

async function show(...args: string[]) {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    env: { ...process.env, GLANCE_HOME: home },
    tty: false,
  };
  const code = await showCommand([...args, '--model', modelDir], io);
  return { code, out, err };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-show-'));
  home = path.join(tmp, 'home');
  modelDir = (await writeTinyClip(path.join(tmp, 'model'))).dir;
  red = path.join(tmp, 'pics', 'red.png');
  dated = path.join(tmp, 'pics', 'dated.jpg');
  await img.writeSolid(red, [230, 20, 20], 80, 60);
  await sharp({ create: { width: 30, height: 50, channels: 3, background: [10, 20, 230] } })
    .withExif({ IFD2: { DateTimeOriginal: '2021:07:04 12:30:00' } })
    .jpeg()
    .toFile(dated);
  const lib = Library.open({ home, modelDir, vocabulary: colourVocabulary() });
  try {
    expect((await lib.indexFolders([path.join(tmp, 'pics')])).indexed).toBe(2);
    lib.setThreshold(0.5);
    lib.addTag(red, 'holiday');
    const id = lib.photoDetail(red).row.id;
    lib.setModelCaption(id, 'smolvlm-256m', 'A red square on a plain background.');
    takenAt = lib.photoDetail(dated).row.taken_at!;
  } finally {
    lib.close();
  }
});

afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('glance show', () => {
  it('prints path, size, date, dimensions, tags with margins and the caption with its model', async () => {
    const r = await show(red);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const size = (await stat(red)).size;
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(red);
    expect(lines[1]).toBe(`  size        ${size} bytes`); // a bigger file: "1.23 MB (1234567 bytes)"
    expect(r.out).toMatch(/ {2}date {8}\d{4}-\d\d-\d\d \d\d:\d\d \(file modified; no capture date in the photo\)/);
    expect(r.out).toContain('  dimensions  80 × 60');
    expect(r.out).toContain('  tags        margin above the threshold (0.5)');
    expect(r.out).toMatch(/\n {4}red {22}\+0\.\d{3} {2}\(score 0\.\d{3}\)\n/);
    expect(r.out).toMatch(/\n {4}holiday {18}yours\n/);
    expect(r.out).toMatch(
      /\n {2}caption {5}A red square on a plain background\.\n {14}\(smolvlm-256m, \d{4}-\d\d-\d\d \d\d:\d\d\)\n$/,
    );
  });

  it('--json gives the same, with margins equal to score minus threshold', async () => {
    const r = await show(red, '--json', '--all');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      path: red,
      size: (await stat(red)).size,
      width: 80,
      height: 60,
      takenAt: null,
      threshold: 0.5,
      caption: { text: 'A red square on a plain background.', model: 'smolvlm-256m', edited: false },
    });
    expect(new Date(j.modifiedAt).getTime()).toBe(Math.floor((await stat(red)).mtimeMs));
    expect(new Date(j.caption.createdAt).getTime()).toBeGreaterThan(0);
    const tagged = j.tags.find((t: { name: string }) => t.name === 'red');
    expect(tagged.source).toBe('auto');
    expect(tagged.margin).toBeCloseTo(tagged.score - 0.5, 10);
    expect(tagged.margin).toBeGreaterThanOrEqual(0);
    expect(j.tags.find((t: { name: string }) => t.name === 'holiday')).toMatchObject({
      source: 'user',
      score: null,
      margin: null,
    });
    // near misses, with --all: below the threshold, so negative margins
    expect(j.candidates.length).toBeGreaterThan(0);
    for (const c of j.candidates) {
      expect(c.margin).toBeLessThan(0);
      expect(c.margin).toBeCloseTo(c.score - 0.5, 10);
    }
  });

  it('shows the capture date from EXIF, a person’s caption as theirs, and no caption when there is none', async () => {
    const none = await show(dated);
    expect(none.out).toMatch(/ {2}date {8}\d{4}-\d\d-\d\d \d\d:\d\d \(taken, from EXIF\)/);
    expect(none.out).toContain('  dimensions  30 × 50');
    expect(none.out).toContain('  caption     (none: glance caption describes photos)');
    const noneJson = JSON.parse((await show(dated, '--json')).out);
    expect(noneJson.takenAt).toBe(new Date(takenAt).toISOString());
    expect(noneJson.caption).toBeNull();
    expect(noneJson.candidates).toBeUndefined();

    const lib = Library.open({ home, modelDir });
    try {
      lib.setPersonCaption(lib.photoDetail(dated).row.id, 'Fourth of July');
    } finally {
      lib.close();
    }
    expect((await show(dated)).out).toMatch(/\n {2}caption {5}Fourth of July\n {14}\(yours, /);
    expect(JSON.parse((await show(dated, '--json')).out).caption).toMatchObject({
      text: 'Fourth of July',
      model: 'person',
      edited: true,
    });
  });

  it('says how to fix a photo that is not in the library, and how to call it', async () => {
    const elsewhere = path.join(tmp, 'elsewhere.png');
    await img.writeSolid(elsewhere, [1, 2, 3], 4, 4);
    await expect(show(elsewhere)).rejects.toThrow(`${elsewhere} is not in the library: run glance index first`);
    await expect(show()).rejects.toThrow(/say which photo/);
    expect(usage).toMatch(/^Usage: glance show FILE \[--json\]/);
  });
});
