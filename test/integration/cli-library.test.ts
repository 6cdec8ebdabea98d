// The library's command line as a user runs it, and what happens when the indexing process is killed.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as img from '../fixtures/images.ts';
import { repoRoot } from '../fixtures/repo.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

const exec = promisify(execFile);
const BIN = path.join(repoRoot, 'bin', 'glance.js');
let tmp: string;
let model: string;
let home: string;

async function glance(args: string[]) {
  try {
    const r = await exec(process.execPath, [BIN, ...args, '--model', model], {
      env: { ...process.env, GLANCE_HOME: home },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-clilib-'));
  model = (await writeTinyClip(path.join(tmp, 'model'))).dir;
  home = path.join(tmp, 'home');
  await img.writeSolid(path.join(tmp, 'pics', 'red.jpg'), [230, 20, 20], 80, 60);
  await img.writeSolid(path.join(tmp, 'pics', 'blue.png'), [10, 20, 230], 60, 80);
  await img.writeSolid(path.join(tmp, 'pics', 'again', 'blue-copy.png'), [10, 20, 230], 60, 80);
  await img.writeTextAsJpg(path.join(tmp, 'pics', 'notes.jpg'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('glance index, search, similar, tags, duplicates, folders', () => {
  it('indexes a folder and reports what it did', async () => {
    const r = await glance(['index', path.join(tmp, 'pics')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      '3 indexed, 0 unchanged, 0 moved, 0 removed, 1 could not be read (glance index --errors lists them)\n',
    );
    const again = await glance(['index']);
    expect(again.stdout).toMatch(/^0 indexed, 3 unchanged/);
    const errors = await glance(['index', '--errors']);
    expect(errors.stdout).toMatch(/notes\.jpg\n {2}image-not-an-image: .*not an image/);
  });

  it('searches by text, best first', async () => {
    const r = await glance(['search', 'a', 'photo', 'of', 'something', 'red', '--limit', '2']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^0\.9\d\d {2}.*red\.jpg$/);
    const json = JSON.parse(
      (await glance(['search', 'blue', '--json', '--folder', path.join(tmp, 'pics', 'again')])).stdout,
    );
    expect(json.map((h: { path: string }) => path.basename(h.path))).toEqual(['blue-copy.png']);
  });

  it('finds similar photos and duplicates', async () => {
    const sim = await glance(['similar', path.join(tmp, 'pics', 'blue.png'), '--limit', '1']);
    expect(sim.stdout).toMatch(/blue-copy\.png\n$/);
    const dup = await glance(['duplicates', '--json']);
    const groups = JSON.parse(dup.stdout);
    expect(groups).toHaveLength(1);
    expect(groups[0].photos.map((p: { path: string }) => path.basename(p.path)).sort()).toEqual([
      'blue-copy.png',
      'blue.png',
    ]);
  });

  it('shows, adds and removes tags, and writes XMP sidecars', async () => {
    const red = path.join(tmp, 'pics', 'red.jpg');
    expect((await glance(['tags', 'add', red, 'holiday', 'beach'])).code).toBe(0);
    expect((await glance(['tags', 'remove', red, 'beach'])).code).toBe(0);
    const shown = JSON.parse((await glance(['tags', red, '--json'])).stdout);
    const names = shown.tags.map((t: { name: string }) => t.name);
    expect(names).toContain('holiday');
    expect(names).not.toContain('beach');
    const xmp = await glance(['tags', 'export-xmp', path.join(tmp, 'pics')]);
    expect(xmp.stdout).toMatch(/3 photos, \d+ sidecars written or updated/);
    const tagged = await glance(['search', '--tag', 'holiday']);
    expect(tagged.stdout.trim()).toBe(red);
    const threshold = await glance(['tags', 'threshold', '0.2']);
    expect(threshold.stdout).toMatch(/nothing is re-indexed/);
    expect((await glance(['tags', 'threshold'])).stdout).toBe('0.2\n');
  });

  it('an XMP export reports a malformed sidecar, leaves it as it was, and goes on', async () => {
    const red = path.join(tmp, 'pics', 'red.jpg');
    const garbage = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>not closed';
    await writeFile(`${red}.xmp`, garbage);
    const r = await glance(['tags', 'export-xmp', path.join(tmp, 'pics')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^3 photos, /);
    // one line, naming the file and why
    expect(r.stderr.startsWith(`glance tags export-xmp: ${red}.xmp is not well-formed XMP (`)).toBe(true);
    expect(r.stderr.endsWith('); it was left unchanged\n')).toBe(true);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(await readFile(`${red}.xmp`, 'utf8')).toBe(garbage);
    const unknown = await glance(['tags', 'export-xmp', path.join(tmp, 'elsewhere')]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/elsewhere is not in the library/);
    await rm(`${red}.xmp`);
  });

  it('lists folders with the space their cache takes, and removes folders', async () => {
    const listed = (await glance(['folders'])).stdout.split('\n');
    expect(listed[0]).toMatch(/^\s+photos\s+cache\s+folder$/);
    expect(listed[1]).toMatch(/^\s+3\s+\d[\d.]* (bytes|kB)\s+.*pics$/);
    expect(listed[2]).toMatch(/^cache: \d[\d.]* (bytes|kB) of thumbnails and embeddings in all$/);
    const [json] = JSON.parse((await glance(['folders', '--json'])).stdout);
    expect(json).toEqual({
      id: expect.any(Number),
      path: path.join(tmp, 'pics'),
      photos: 3,
      cacheBytes: expect.any(Number),
    });
    expect(json.cacheBytes).toBeGreaterThan(0);
    const other = path.join(tmp, 'other');
    await img.writeSolid(path.join(other, 'g.png'), [0, 200, 0], 30, 30);
    await glance(['index', other]);
    const removed = await glance(['folders', 'remove', other]);
    expect(removed.stdout).toMatch(/1 photos left the index/);
    expect((await glance(['folders'])).stdout).not.toMatch(/other/);
  });

  it('explains mistakes without a stack trace', async () => {
    const noPhoto = await glance(['tags', path.join(tmp, 'nope.jpg')]);
    expect(noPhoto.code).toBe(1);
    expect(noPhoto.stderr).toMatch(/is not in the library: run glance index first/);
    const badDate = await glance(['search', 'x', '--from', 'last tuesday']);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toMatch(/--from takes a date as YYYY/);
    // a library that never chose a model, without the default installed: the one command that installs it
    const noModel = await exec(process.execPath, [BIN, 'search', 'x'], {
      env: { ...process.env, GLANCE_HOME: path.join(tmp, 'home-without-model') },
    }).catch((e) => e);
    expect(noModel.code).toBe(3);
    expect(noModel.stderr).toMatch(/is needed to search photos .*\n {2}glance models download clip-vit-base-patch32\n/);
  });
});

describe('a killed indexer', () => {
  it('leaves a consistent database, and the next run resumes without duplicates or lost tags', async () => {
    const killHome = path.join(tmp, 'kill-home');
    const env = { ...process.env, GLANCE_HOME: killHome };
    const small = path.join(tmp, 'kill', 'a');
    const big = path.join(tmp, 'kill', 'b');
    await img.writeSolid(path.join(small, 'keep.png'), [200, 10, 10], 40, 40);
    await img.writePhotoLikeJpegs(big, 60, 1200, 900, 90);
    await exec(process.execPath, [BIN, 'index', small, '--model', model], { env });
    await exec(process.execPath, [BIN, 'tags', 'add', path.join(small, 'keep.png'), 'precious', '--model', model], {
      env,
    });

    const dbFile = path.join(killHome, 'glance.db');
    const child: ChildProcess = spawn(process.execPath, [BIN, 'index', big, '--model', model, '--batch', '4'], { env });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    // Kill it once some batches are committed and while more are still coming.
    const reader = new Database(dbFile, { readonly: true });
    const count = () => (reader.prepare('SELECT count(*) AS n FROM photos').get() as { n: number }).n;
    const deadline = Date.now() + 60_000;
    while (count() < 9 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const atKill = count();
    reader.close();
    expect(atKill).toBeGreaterThan(1);
    expect(atKill).toBeLessThan(61);

    const db = new Database(dbFile);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const orphans = db
      .prepare('SELECT count(*) AS n FROM photos p LEFT JOIN embeddings e ON e.hash = p.hash WHERE e.hash IS NULL')
      .get() as { n: number };
    expect(orphans.n).toBe(0); // a photo row is never committed without its embedding
    db.close();

    const resumed = await exec(process.execPath, [BIN, 'index', '--model', model, '--json'], { env });
    const summary = JSON.parse(resumed.stdout);
    expect(summary.unchanged).toBe(atKill);
    expect(summary.indexed).toBe(61 - atKill);
    const after = new Database(dbFile, { readonly: true });
    const rows = after.prepare('SELECT count(*) AS n, count(DISTINCT path) AS paths FROM photos').get() as {
      n: number;
      paths: number;
    };
    after.close();
    expect(rows).toEqual({ n: 61, paths: 61 });
    const tags = await exec(process.execPath, [BIN, 'tags', path.join(small, 'keep.png'), '--json', '--model', model], {
      env,
    });
    expect(JSON.parse(tags.stdout).tags.map((t: { name: string }) => t.name)).toContain('precious');
  });
});
