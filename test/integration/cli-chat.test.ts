// The model catalog, downloads and the chat commands as a user runs them: a catalog model downloaded from a local
// server that speaks like the hub, then asked about a photo, with the real engine process and llama.cpp.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAT_CATALOG } from '../../native-models/catalog.ts';
import { type FakeHub, startFakeHub } from '../fixtures/fake-hub.ts';
import * as img from '../fixtures/images.ts';
import { repoRoot } from '../fixtures/shared.ts';
import { type TinyLlava, writeTinyLlava } from '../fixtures/tiny-llava.ts';

const exec = promisify(execFile);
const BIN = path.join(repoRoot, 'bin', 'glance.js');
const ENTRY = CHAT_CATALOG.find((e) => e.id === 'smolvlm-500m')!;
let tmp: string;
let hub: FakeHub;
let tiny: TinyLlava;
let photo: string;
let env: NodeJS.ProcessEnv;

async function glance(args: string[], input?: string) {
  if (input !== undefined) {
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(input);
    });
  }
  try {
    const r = await exec(process.execPath, [BIN, ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-cli-chat-'));
  tiny = await writeTinyLlava(path.join(tmp, 'tiny'));
  photo = await img.writeSolid(path.join(tmp, 'photo.jpg'), [30, 120, 200], 90, 60);
  hub = await startFakeHub([
    { repo: ENTRY.repo, file: ENTRY.model.file, data: await readFile(tiny.model), lfs: true },
    { repo: ENTRY.repo, file: ENTRY.mmproj.file, data: await readFile(tiny.mmproj), lfs: true },
  ]);
  env = { ...process.env, GLANCE_HOME: path.join(tmp, 'home'), GLANCE_HUB_ENDPOINT: hub.url };
});

afterAll(async () => {
  await hub?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('glance models', () => {
  it('lists the catalog with nothing installed', async () => {
    const r = await glance(['models', 'list', '--json']);
    const list = JSON.parse(r.stdout) as { id: string; installed: boolean }[];
    expect(list.map((m) => m.id)).toEqual(
      expect.arrayContaining(['clip-vit-base-patch32', 'llava-1.5-7b', 'smolvlm-500m']),
    );
    expect(list.every((m) => !m.installed)).toBe(true);
  });

  it('says what to do when no chat model is installed', async () => {
    const r = await glance(['ask', photo, 'what is it?']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no chat model is installed: glance models download llava-1.5-7b/);
  });

  it('downloads a catalog model from the hub, verified, and verify catches damage', async () => {
    const r = await glance(['models', 'download', 'smolvlm-500m']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('smolvlm-500m installed (2 files, verified)\n');
    expect(hub.requests.some((q) => q.method === 'HEAD')).toBe(true);
    expect((await glance(['models', 'verify', 'smolvlm-500m'])).code).toBe(0);
    const file = path.join(tmp, 'home', 'models', 'smolvlm-500m', ENTRY.mmproj.file);
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from([0x42]), 0, 1, 1000);
    await fh.close();
    const broken = await glance(['models', 'verify', 'smolvlm-500m']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/BROKEN .*mmproj/);
    expect(broken.stderr).toMatch(/glance models download smolvlm-500m fetches them again/);
    expect((await glance(['models', 'download', 'smolvlm-500m'])).code).toBe(0);
    expect((await glance(['models', 'verify', 'smolvlm-500m'])).code).toBe(0);
  });
});

describe('glance ask and glance chat', () => {
  it('ask: streams an answer from the installed model and reports the turn', async () => {
    const r = await glance(['ask', photo, 'What colour is this?', '--max-tokens', '8']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().length).toBeGreaterThan(0);
    expect(r.stderr).toMatch(
      /^smolvlm-500m on CPU \(CPU\) · \d+ prompt tokens, first token after [\d.]+ s, [\d.]+ tokens\/s · conversation \d+\n$/,
    );
  });

  it('ask --json gives the message with its statistics', async () => {
    const r = await glance(['ask', photo, 'Describe.', '--max-tokens', '6', '--json']);
    const out = JSON.parse(r.stdout);
    expect(out.model).toBe('smolvlm-500m');
    expect(out.message.role).toBe('assistant');
    expect(out.message.stats.generatedTokens).toBeGreaterThan(0);
  });

  it('refuses a vision model file without its projector', async () => {
    const r = await glance(['ask', photo, 'x', '--model', tiny.model]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/needs its vision projector: pass --mmproj FILE\.gguf/);
  });

  it('chat: several turns with an image attached on the way, then /exit', async () => {
    const r = await glance(
      ['chat', '--max-tokens', '5'],
      `hello\n/image ${photo}\nwhat is in the picture?\n/regenerate\n/exit\n`,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/smolvlm-500m · conversation \d+/);
    expect(r.stderr).toMatch(/attached 1 image\(s\) to your next message/);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(3); // three answers
  });

  it('removing the model makes it unavailable again', async () => {
    expect((await glance(['models', 'remove', 'smolvlm-500m'])).stdout).toBe('smolvlm-500m removed\n');
    expect((await glance(['ask', photo, 'x'])).code).toBe(3);
  });
});
