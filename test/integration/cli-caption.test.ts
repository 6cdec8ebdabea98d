// Captions and short answers on the command line, as a user runs them: glance caption over an indexed folder (a
// picture damaged after indexing fails alone; a killed run resumes without captioning a photo twice or skipping
// one), glance show, text search that finds a caption's words, glance ask --short and --each. The real engine
// process and llama.cpp with the tiny LLaVA pair (random weights: the words are nonsense, the machinery is real).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as img from '../fixtures/images.ts';
import { repoRoot } from '../fixtures/repo.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';
import { type TinyLlava, writeTinyLlava } from '../fixtures/tiny-llava.ts';

const exec = promisify(execFile);
const BIN = path.join(repoRoot, 'bin', 'glance.js');
const PHOTOS = 24;
let tmp: string;
let home: string;
let pics: string;
let tiny: TinyLlava;
let clip: string;

async function glance(args: string[]) {
  try {
    const r = await exec(process.execPath, [BIN, ...args], {
      env: { ...process.env, GLANCE_HOME: home },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The photos with a caption in the library's database, by path. */
function captioned(): string[] {
  const db = new Database(path.join(home, 'glance.db'), { readonly: true });
  try {
    return db
      .prepare<[], { path: string }>(
        'SELECT DISTINCT p.path AS path FROM captions c JOIN photos p ON p.id = c.photo_id',
      )
      .all()
      .map((r) => r.path);
  } finally {
    db.close();
  }
}

const chatModel = () => ['--model', tiny.model, '--mmproj', tiny.mmproj];
const lines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-cli-caption-'));
  home = path.join(tmp, 'home');
  pics = path.join(tmp, 'pics');
  tiny = await writeTinyLlava(path.join(tmp, 'llava'));
  clip = (await writeTinyClip(path.join(tmp, 'clip'))).dir;
  for (let i = 0; i < PHOTOS; i++) {
    await img.writeSolid(
      path.join(pics, `p${String(i).padStart(2, '0')}.png`),
      [(i * 37) % 256, 90, 200 - i * 5],
      48,
      40,
    );
  }
  const indexed = await glance(['index', pics, '--model', clip]);
  expect(indexed.stdout).toMatch(new RegExp(`^${PHOTOS} indexed`));
}, 120_000);
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('glance caption', () => {
  it('a killed run resumes where it stopped: every photo captioned once, none skipped', async () => {
    // the first run is killed (SIGKILL, no goodbye) once it has written a few captions
    const first = await new Promise<string[]>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'caption', ...chatModel(), '--json'], {
        env: { ...process.env, GLANCE_HOME: home },
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.split('\n').filter((l) => l.includes('"caption"')).length >= 3) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve(out.split('\n').filter((l) => l.includes('"caption"'))));
    });
    expect(first.length).toBeGreaterThanOrEqual(3);
    // What the killed run saved (a caption stored just before the kill may not have reached its output): the photos
    // the next run must not caption again.
    const firstFiles = captioned();
    expect(firstFiles.length).toBeGreaterThanOrEqual(first.length);
    expect(firstFiles.length).toBeLessThan(PHOTOS); // killed part way

    const second = await glance(['caption', ...chatModel(), '--json']);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const out = lines(second.stdout);
    const summary = out.pop() as { summary: { state: string; captioned: number; failed: number; model: string } };
    const secondFiles = out.map((l) => l.file as string);
    // nothing twice (the photos the killed run finished are not asked for again), nothing skipped
    expect(secondFiles.filter((f) => firstFiles.includes(f))).toEqual([]);
    expect(new Set([...firstFiles, ...secondFiles]).size).toBe(PHOTOS);
    expect(summary.summary).toMatchObject({ state: 'done', captioned: secondFiles.length, failed: 0 });
    expect(out.every((l) => typeof l.caption === 'string' && (l.caption as string).length > 0)).toBe(true);

    // a third run has nothing left to do
    const third = await glance(['caption', ...chatModel()]);
    expect(third.stdout).toMatch(/^0 captioned by .*, 0 could not be read\n$/);
  }, 180_000);

  it('glance show gives the caption with its model; --redo writes it again; search finds its words', async () => {
    const file = path.join(pics, 'p03.png');
    const shown = JSON.parse((await glance(['show', file, '--json'])).stdout) as {
      path: string;
      caption: { text: string; model: string; edited: boolean } | null;
    };
    expect(shown.path).toBe(file);
    expect(shown.caption).toMatchObject({ model: path.basename(tiny.model), edited: false });
    const text = shown.caption!.text;
    expect(text.length).toBeGreaterThan(0);

    const redo = await glance(['caption', ...chatModel(), '--redo']);
    expect(redo.code).toBe(0);
    expect(redo.stdout).toMatch(new RegExp(`^${PHOTOS} captioned by `));
    // greedy captions: the same model writes the same caption for the same picture
    const again = JSON.parse((await glance(['show', file, '--json'])).stdout) as { caption: { text: string } };
    expect(again.caption.text).toBe(text);

    // a word of the caption (random-weight words, but words): the captioned photo comes first
    const word = text
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w.length >= 4)
      .sort((a, b) => b.length - a.length)[0];
    if (word) {
      const hits = (await glance(['search', word, '--limit', String(PHOTOS), '--json'])).stdout;
      const ids = (JSON.parse(hits) as { path: string }[]).map((h) => h.path);
      expect(ids.length).toBeGreaterThan(0);
      // every photo whose caption has that word ranks above every photo whose caption does not
      const db = new Database(path.join(home, 'glance.db'), { readonly: true });
      const captionOf = new Map(
        db
          .prepare<[], { path: string; text: string }>(
            'SELECT p.path AS path, c.text AS text FROM captions c JOIN photos p ON p.id = c.photo_id',
          )
          .all()
          .map((r) => [r.path, r.text.toLowerCase()]),
      );
      db.close();
      const withWord = (p: string) => captionOf.get(p)?.includes(word.toLowerCase()) ?? false;
      expect(withWord(file)).toBe(true);
      expect(ids).toContain(file);
      const firstWithout = ids.findIndex((p) => !withWord(p));
      if (firstWithout >= 0) expect(ids.slice(firstWithout).some(withWord)).toBe(false);
    }
  }, 180_000);

  it('a picture damaged after indexing fails alone, with its reason; the others are captioned', async () => {
    const broken = path.join(pics, 'p05.png');
    await truncate(broken, 30);
    const r = await glance(['caption', ...chatModel(), '--redo', '--json']);
    const out = lines(r.stdout);
    const summary = out.pop() as { summary: { captioned: number; failed: number } };
    expect(r.code).toBe(1);
    const bad = out.filter((l) => l.error);
    expect(bad.map((l) => l.file)).toEqual([broken]);
    expect(summary.summary).toMatchObject({ captioned: PHOTOS - 1, failed: 1 });
  }, 180_000);
});

describe('glance ask --short and --each', () => {
  it('--short answers a yes/no question with exactly yes or no, and a count with digits', async () => {
    const file = path.join(pics, 'p01.png');
    for (const q of ['Is there a dog in this picture?', 'Does it show a beach?', 'Are the colours warm?']) {
      const r = await glance(['ask', file, q, '--short', ...chatModel()]);
      expect(r.code).toBe(0);
      expect(['yes\n', 'no\n']).toContain(r.stdout);
    }
    const count = await glance(['ask', file, 'How many cars are there?', '--short', '--json', ...chatModel()]);
    const answer = JSON.parse(count.stdout) as { answer: string; kind: string };
    expect(answer.kind).toBe('number');
    expect(answer.answer).toMatch(/^\d+$/);
  }, 180_000);

  it('--each FOLDER: one JSON line per picture as it is answered; a broken picture has its error on its line', async () => {
    const r = await glance(['ask', '--each', pics, 'Is it a receipt?', '--short', '--json', ...chatModel()]);
    const out = lines(r.stdout);
    expect(out).toHaveLength(PHOTOS);
    expect(r.code).toBe(1); // one picture could not be read
    const broken = out.find((l) => l.file === path.join(pics, 'p05.png'))!;
    expect(broken.error).toMatchObject({ message: expect.stringMatching(/p05\.png/) });
    const answered = out.filter((l) => !l.error);
    expect(answered).toHaveLength(PHOTOS - 1);
    for (const l of answered) expect(['yes', 'no']).toContain(l.answer);
    // in the folder's order, so that the lines line up with a listing
    expect(out.map((l) => path.basename(l.file as string))).toEqual(
      [...out.map((l) => path.basename(l.file as string))].sort(),
    );
  });

  it('--search QUERY asks about the library best matches', async () => {
    const r = await glance(['ask', '--search', 'a photo', 'Is it blue?', '--short', '--limit', '3', ...chatModel()]);
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out).toHaveLength(3);
    for (const l of out) expect(l).toMatch(/^\/.*\.png: (yes|no)$/);
  });

  it('usage mistakes are exit code 2 with what to do', async () => {
    const both = await glance(['ask', '--each', pics, '--search', 'x', 'q?', ...chatModel()]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--each or --search, not both/);
    const none = await glance(['ask', '--each', path.join(tmp, 'nowhere'), 'q?', ...chatModel()]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no such folder/);
  });
});
