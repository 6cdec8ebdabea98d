// A new user's first minutes on the command line: the library keeps the CLIP model it was indexed with, and a
// command that needs the catalog model when it is not installed offers the download (the fake hub plays the hub).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../electron/cli/main.ts';
import { EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import { CLIP_CATALOG, DEFAULT_CLIP_ID } from '../../native-models/catalog.ts';
import { type FakeHub, startFakeHub } from '../fixtures/fake-hub.ts';
import * as img from '../fixtures/images.ts';
import { repoRoot } from '../fixtures/repo.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';

const exec = promisify(execFile);
type ModelRow = { id: string; installed: boolean };
let tmp: string;
let hub: FakeHub;
let red: string;
/** A catalog CLIP model without published hashes: the hub's stand-in can install it. */
const UNPINNED = 'clip-vit-base-patch16';

/** The real CLI as a child process; stdin is a pipe, so nobody is at a terminal. */
async function glance(args: string[], home: string) {
  try {
    const r = await exec(process.execPath, [path.join(repoRoot, 'bin', 'glance.js'), ...args], {
      env: { ...process.env, GLANCE_HOME: home, GLANCE_HUB_ENDPOINT: hub.url },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-first-run-'));
  red = await img.writeSolid(path.join(tmp, 'pics', 'red.jpg'), [230, 20, 20], 80, 60);
  await img.writeSolid(path.join(tmp, 'pics', 'blue.png'), [10, 20, 230], 60, 80);
  await img.writeSolid(path.join(tmp, 'pics', 'green.png'), [10, 220, 30], 60, 80);
  // The hub serves a tiny model under the catalog's names: the default's files are pinned to their reviewed hashes
  // (so the stand-in must be refused), ViT-B/16's are trusted on first use (so it installs).
  const tiny = await writeTinyClip(path.join(tmp, 'hub-model'));
  const served = await Promise.all(
    [DEFAULT_CLIP_ID, UNPINNED].flatMap((id) => {
      const entry = CLIP_CATALOG.find((e) => e.id === id)!;
      return entry.files.map(async (f) => ({
        repo: entry.repo,
        file: f.file,
        data: await readFile(path.join(tiny.dir, f.file)),
        lfs: f.file.endsWith('.onnx'),
      }));
    }),
  );
  hub = await startFakeHub(served);
});
afterAll(async () => {
  await hub?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('the library remembers its CLIP model', () => {
  it('search, similar and duplicates use the model of glance index --model; glance models use changes it', async () => {
    const home = path.join(tmp, 'home-remember');
    const first = (await writeTinyClip(path.join(tmp, 'model-a'), { seed: 1 })).dir;
    const second = (await writeTinyClip(path.join(tmp, 'model-b'), { seed: 2 })).dir;
    const indexed = await glance(['index', path.join(tmp, 'pics'), '--model', first], home);
    expect(indexed.stdout).toMatch(/^3 indexed/);

    const search = await glance(['search', 'red', '--limit', '1'], home);
    expect(search.stderr).toBe('');
    expect(search.stdout).toMatch(/red\.jpg\n$/);
    expect((await glance(['similar', red, '--limit', '1', '--json'], home)).code).toBe(0);
    expect((await glance(['duplicates'], home)).stdout).toBe('no near-duplicates\n');

    const use = await glance(['models', 'use', second], home);
    expect(use.code).toBe(0);
    // every photo is embedded again with the new model, not found "unchanged"
    expect(use.stdout).toMatch(/^the library now uses .*model-b: 3 indexed, 0 unchanged/);
    await rm(first, { recursive: true });
    const after = await glance(['search', 'blue', '--limit', '1'], home);
    expect(after.stderr).toBe('');
    expect(after.stdout).toMatch(/blue\.png\n$/);
  });

  it("the window's engine opens the library with the model it chose", async () => {
    const engine = new EngineSupervisor({ home: path.join(tmp, 'home-remember') });
    try {
      await engine.start();
      const hits = await engine.call('libSearch', { text: 'blue', limit: 1 });
      expect(hits.map((h) => path.basename(h.path))).toEqual(['blue.png']);
    } finally {
      await engine.stop();
    }
  });

  it('refuses to use what is neither a catalog CLIP model nor a folder', async () => {
    const r = await glance(['models', 'use', 'no-such-model'], path.join(tmp, 'home-refuse'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/neither a CLIP model of the catalog .* nor a folder/);
  });
});

describe('a missing CLIP model is offered for download', () => {
  const COMMAND = `glance models download ${DEFAULT_CLIP_ID}`;

  it('without a terminal, classify, index and search stop with the one command to run (exit code 3)', async () => {
    const home = path.join(tmp, 'home-none');
    for (const args of [
      ['classify', red, '--labels', 'red', 'blue'],
      ['index', path.join(tmp, 'pics')],
      ['search', 'red'],
    ]) {
      const r = await glance(args, home);
      expect(r.code, args[0]).toBe(3);
      expect(r.stderr, args[0]).toContain(`\n  ${COMMAND}\n`);
      expect(r.stderr, args[0]).toMatch(/CLIP ViT-B\/32 \(≈.*B\) is needed to (classify images|index photos|search)/);
      expect(r.stderr, args[0]).not.toMatch(/Put a CLIP ONNX export there/);
    }
    expect(hub.requests).toEqual([]);
  });

  it('with --yes, refuses a download that is not the reviewed build of the default model, and installs nothing', async () => {
    const home = path.join(tmp, 'home-yes');
    const r = await glance(['classify', red, '--labels', 'red', 'blue', '--yes', '--json'], home);
    // the licence is said before the download starts
    expect(r.stderr).toMatch(/out of scope/);
    expect(r.stderr).toMatch(/does not match the reviewed build in Glance's catalog: expected sha256 [0-9a-f]{12}…/);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    const list = JSON.parse((await glance(['models', 'list', '--json'], home)).stdout) as ModelRow[];
    expect(list.find((m) => m.id === DEFAULT_CLIP_ID)?.installed).toBe(false);
  });

  it('with --yes, downloads a catalog model from the hub, then indexes with it', async () => {
    const home = path.join(tmp, 'home-yes-b16');
    const r = await glance(['index', path.join(tmp, 'pics'), '--model', UNPINNED, '--yes'], home);
    expect(r.stderr).toMatch(new RegExp(`${UNPINNED} installed \\(verified\\)`));
    expect(r.stderr.indexOf('out of scope')).toBeGreaterThanOrEqual(0);
    expect(r.stderr.indexOf('out of scope')).toBeLessThan(r.stderr.indexOf('installed (verified)'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^3 indexed/);
    const search = await glance(['search', 'red', '--limit', '1'], home);
    expect(search.stdout).toMatch(/red\.jpg\n$/);
    const list = JSON.parse((await glance(['models', 'list', '--json'], home)).stdout) as ModelRow[];
    expect(list.find((m) => m.id === UNPINNED)?.installed).toBe(true);
  });

  it('on a terminal, asks first; Enter means yes, and no stops with the command for later', async () => {
    vi.stubEnv('GLANCE_HUB_ENDPOINT', hub.url);
    const questions: string[] = [];
    const io = (answer: string, home: string) => ({
      out: () => {},
      err: (t: string) => {
        errors.push(t);
      },
      env: { ...process.env, GLANCE_HOME: home },
      tty: false,
      ask: async (q: string) => {
        questions.push(q);
        return answer;
      },
    });
    const errors: string[] = [];
    const pics = path.join(tmp, 'pics');
    expect(await run(['index', pics], io('n', path.join(tmp, 'home-ask-no')))).toBe(3);
    expect(errors.join('')).toMatch(new RegExp(`not downloaded; ${COMMAND} fetches it later`));
    expect(await run(['index', pics, '--model', UNPINNED], io('', path.join(tmp, 'home-ask-yes')))).toBe(0);
    expect(questions).toHaveLength(2);
    expect(questions[0]).toMatch(
      /^CLIP ViT-B\/32 \(≈\d+ MB\) is needed to index photos\. Download it now\? \[Y\/n\] $/,
    );
    expect(questions[1]).toMatch(/^CLIP ViT-B\/16 \(≈\d+ MB\) is needed to index photos\./);
    vi.unstubAllEnvs();
  });
});
