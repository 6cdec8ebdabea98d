// The `glance` command as a user runs it: a real child process through bin/glance.js, the tiny fixture model.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as img from '../fixtures/images.ts';
import { damageHeif, solidRgb, writeFakeRaw, writeHeicSet, writeHeifSequence } from '../fixtures/raw-and-heic.ts';
import { repoRoot } from '../fixtures/repo.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

const exec = promisify(execFile);
let tmp: string;
let modelDir: string;

async function glance(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const r = await exec(process.execPath, [path.join(repoRoot, 'bin', 'glance.js'), ...args], {
      env: { ...process.env, GLANCE_HOME: path.join(tmp, 'home'), ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const LABELS = ['a photo of something red', 'a photo of something green', 'a photo of something blue'];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-cli-'));
  modelDir = (await writeTinyClip(path.join(tmp, 'model'))).dir;
  await img.writeSolid(path.join(tmp, 'pics', 'red.jpg'), [240, 10, 10], 120, 90);
  await img.writeSolid(path.join(tmp, 'pics', 'blue.png'), [5, 5, 230], 60, 80);
  await img.writeTextAsJpg(path.join(tmp, 'pics', 'notes.jpg'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('glance classify', () => {
  it('prints a table with the most likely label first', async () => {
    const r = await glance(['classify', path.join(tmp, 'pics', 'red.jpg'), '--labels', ...LABELS, '--model', modelDir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(path.join(tmp, 'pics', 'red.jpg'));
    expect(lines[1]).toMatch(/^\s+(99\.\d|100\.0)%\s+█+\s+a photo of something red$/);
    expect(lines).toHaveLength(4);
  });

  it('--json gives per-image probabilities that sum to 1, and a clear error for a bad file', async () => {
    const pics = path.join(tmp, 'pics');
    const r = await glance(['classify', pics, '--labels', ...LABELS, '--model', modelDir, '--json']);
    expect(r.code).toBe(1); // one file failed; the others still answered
    const out = JSON.parse(r.stdout);
    expect(out.model.logitScale).toBe(100);
    const byName = Object.fromEntries(out.results.map((x: { file: string }) => [path.basename(x.file), x]));
    expect(Object.keys(byName).sort()).toEqual(['blue.png', 'notes.jpg', 'red.jpg']);
    expect(byName['blue.png'].scores[0].label).toBe('a photo of something blue');
    expect(byName['red.jpg'].scores[0].label).toBe('a photo of something red');
    const total = byName['red.jpg'].scores.reduce((s: number, x: { probability: number }) => s + x.probability, 0);
    expect(total).toBeCloseTo(1, 6);
    expect(byName['notes.jpg']).toMatchObject({ ok: false, error: { code: 'image-not-an-image' } });
    expect(r.stderr).toMatch(/1 of 3 images could not be classified/);
  });

  it('--top limits the labels shown; --ensemble and --template are accepted', async () => {
    const r = await glance([
      'classify',
      path.join(tmp, 'pics', 'blue.png'),
      '--labels',
      'red',
      'blue',
      'green',
      '--template',
      'a photo of something {}',
      '--ensemble',
      '--top',
      '1',
      '--json',
      '--model',
      modelDir,
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.results[0].scores).toHaveLength(1);
    expect(out.results[0].scores[0].label).toBe('blue');
  });

  it('reads labels from a file', async () => {
    const labels = path.join(tmp, 'labels.txt');
    await writeFile(labels, 'green\nred\n\n');
    const r = await glance([
      'classify',
      path.join(tmp, 'pics', 'red.jpg'),
      '--labels-file',
      labels,
      '--json',
      '--model',
      modelDir,
    ]);
    expect(JSON.parse(r.stdout).results[0].scores[0].label).toBe('red');
  });

  it('uses the model in GLANCE_HOME by default, and says how to download one when there is none', async () => {
    const home = path.join(tmp, 'home2');
    const none = await glance(['classify', path.join(tmp, 'pics', 'red.jpg'), '--labels', 'a', 'b'], {
      GLANCE_HOME: home,
    });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('glance models download clip-vit-base-patch32');

    await mkdir(path.join(home, 'models'), { recursive: true });
    await writeTinyClip(path.join(home, 'models', 'clip-vit-base-patch32'));
    const ok = await glance(
      ['classify', path.join(tmp, 'pics', 'red.jpg'), '--labels', 'red', 'blue', '--home', home, '--json'],
      { GLANCE_HOME: '' },
    );
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).model.dir).toBe(path.join(home, 'models', 'clip-vit-base-patch32'));
  });

  it('reports a broken model folder without a stack trace', async () => {
    const r = await glance(['classify', path.join(tmp, 'pics', 'red.jpg'), '--labels', 'a', 'b', '--model', tmp]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not a complete CLIP model folder: missing or empty config\.json/);
    expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('explains usage mistakes with exit code 2', async () => {
    const one = await glance(['classify', 'x.jpg', '--labels', 'only-one', '--model', modelDir]);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/at least two labels/);
    const bad = await glance(['classify', 'x.jpg', '--labels', 'a', 'b', '--variant', 'int4']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--variant must be one of fp32, fp16, quantized/);
    const unknown = await glance(['classify', 'x.jpg', '--labels', 'a', 'b', '--colour']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--colour'/);
  });

  it('falls back to CPU with a message when an absent accelerator is asked for', async () => {
    const provider = process.platform === 'darwin' ? 'dml' : 'coreml';
    const r = await glance([
      'classify',
      path.join(tmp, 'pics', 'red.jpg'),
      '--labels',
      'red',
      'blue',
      '--model',
      modelDir,
      '--provider',
      provider,
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).model.providers).toEqual({ vision: 'cpu', text: 'cpu' });
    expect(r.stderr).toMatch(/does not exist on \w+; running on CPU/);
  });
});

describe("standard output is Glance's alone", () => {
  it('classify --json on a mixed folder prints one JSON document, whatever libheif or the files do', async () => {
    const mixed = path.join(tmp, 'mixed');
    const pictures = [
      { rgb: solidRgb(64, 48, [240, 10, 10]), width: 64, height: 48 },
      { rgb: solidRgb(32, 24, [5, 5, 230]), width: 32, height: 24 },
    ];
    const heic = await readFile(await writeHeicSet(path.join(mixed, 'two.heic'), pictures));
    // each of these made libheif-js print to stdout ("Could not parse HEIF file", "Decoding image failed", "No
    // images found" for the sequence)
    for (const damage of ['no-iloc', 'primary-undecodable', 'primary-missing'] as const) {
      await writeFile(path.join(mixed, `${damage}.heic`), damageHeif(heic, damage));
    }
    await writeHeifSequence(path.join(mixed, 'burst.heic'), solidRgb(64, 64, [20, 160, 90]), 64, 64);
    await img.writeSolid(path.join(mixed, 'green.png'), [10, 240, 10], 40, 30);
    await img.writeTiffWithoutTag262(path.join(mixed, 'no-photometric.tif'));
    await exec('mkfifo', [path.join(mixed, 'pipe.jpg')]);
    await writeFakeRaw(path.join(mixed, 'camera.nef'), {
      rgb: solidRgb(400, 300, [5, 5, 230]),
      width: 400,
      height: 300,
    });
    // a folder's SVG files are left out, as the library's scan leaves them; one named explicitly is refused
    await img.writeSvg(path.join(mixed, 'left-out.svg'), 'http://127.0.0.1:9/remote.png');
    const svg = await img.writeSvg(path.join(tmp, 'drawing.svg'), 'http://127.0.0.1:9/remote.png');

    const r = await glance(['classify', mixed, svg, '--labels', ...LABELS, '--model', modelDir, '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout); // the whole of stdout, nothing printed around it
    const byName = Object.fromEntries(
      out.results.map((x: { file: string; ok: boolean; error?: { code: string } }) => [
        path.basename(x.file),
        x.ok ? 'ok' : x.error!.code,
      ]),
    );
    expect(byName).toEqual({
      'green.png': 'ok',
      'camera.nef': 'ok',
      'two.heic': 'ok',
      'primary-undecodable.heic': 'ok', // its second picture
      'primary-missing.heic': 'ok',
      'burst.heic': 'ok', // its first frame
      'no-iloc.heic': 'image-unreadable',
      'no-photometric.tif': 'image-damaged',
      'pipe.jpg': 'image-not-a-file',
      'drawing.svg': 'image-svg',
    });
    expect(r.stderr).toMatch(/4 of 10 images could not be classified/);
  });

  it('what any library prints to stdout, console.log or a raw write, goes to stderr', async () => {
    const script = [
      "import { register } from 'tsx/esm/api';",
      'register();',
      "const { guardStdout } = await import('./electron/cli/stdout-guard.ts');",
      'const own = guardStdout();',
      "console.log('a library talking');",
      "process.stdout.write('a raw write\\n');",
      "own('glance output\\n');",
    ].join('\n');
    const r = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot });
    expect(r.stdout).toBe('glance output\n');
    expect(r.stderr).toBe('a library talking\na raw write\n');
  });
});

describe('glance', () => {
  it('lists its commands, and rejects unknown ones', async () => {
    const help = await glance(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/classify\s+zero-shot labels/);
    const unknown = await glance(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });
});

describe('glance --ask-screen', () => {
  it('hands the switch to the desktop app, and says what to set when it does not know the app', async () => {
    const app = path.join(tmp, 'fake-glance-app.sh');
    const seen = path.join(tmp, 'ask-screen-args.txt');
    await writeFile(app, `#!/bin/sh\necho "$@" > ${seen}\n`, { mode: 0o755 });
    const r = await glance(['--ask-screen'], { GLANCE_APP: app });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('asked Glance to capture the screen\n');
    await expect.poll(async () => (await readFile(seen, 'utf8').catch(() => '')).trim()).toBe('--ask-screen');
    const none = await glance(['--ask-screen'], { GLANCE_APP: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/set GLANCE_APP/);
  });
});
