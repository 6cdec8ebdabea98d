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
import { repoRoot } from '../fixtures/repo.ts';
import { type TinyLlava, writeTinyLlava } from '../fixtures/tiny-llava.ts';

const exec = promisify(execFile);
const BIN = path.join(repoRoot, 'bin', 'glance.js');
// Gemma 3 has no published commit or hashes (its files are trusted on first use), so the hub's tiny model can stand
// in for it; SmolVLM is pinned to its reviewed hashes, so the same stand-in must be refused.
const ENTRY = CHAT_CATALOG.find((e) => e.id === 'gemma-3-4b')!;
const PINNED = CHAT_CATALOG.find((e) => e.id === 'smolvlm-500m')!;
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
    { repo: PINNED.repo, file: PINNED.model.file, data: await readFile(tiny.model), lfs: true },
    { repo: PINNED.repo, file: PINNED.mmproj.file, data: await readFile(tiny.mmproj), lfs: true },
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
      expect.arrayContaining(['clip-vit-base-patch32', 'gemma-3-4b', 'smolvlm-500m']),
    );
    expect(list.every((m) => !m.installed)).toBe(true);
  });

  it('says in plain words where a licence limits use: in the list, its JSON, and before a download', async () => {
    const text = await glance(['models', 'list']);
    expect(text.stdout).toMatch(/qwen2\.5-vl-3b: .*non-commercial/i);
    expect(text.stdout).toMatch(/clip-vit-base-patch32: .*out of scope/i);
    expect(text.stdout).not.toMatch(/smolvlm-500m: /); // Apache-2.0: nothing to say
    const json = JSON.parse((await glance(['models', 'list', '--json'])).stdout) as {
      id: string;
      licenceNote?: string;
    }[];
    expect(json.find((m) => m.id === 'qwen2.5-vl-3b')?.licenceNote).toMatch(/non-commercial/i);
    expect(json.find((m) => m.id === 'smolvlm-500m')?.licenceNote).toBeUndefined();
  });

  it('says what to do when no chat model is installed', async () => {
    const r = await glance(['ask', photo, 'what is it?']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no chat model is installed: glance models download llava-1.5-7b/);
  });

  it('downloads a catalog model from the hub, verified, and verify catches damage', async () => {
    const r = await glance(['models', 'download', 'gemma-3-4b']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('gemma-3-4b installed (2 files, verified)\n');
    expect(hub.requests.some((q) => q.method === 'HEAD')).toBe(true);
    // at the catalog's revision, whatever the caller asks for
    const resolved = hub.requests.filter((q) => q.path.includes('/resolve/'));
    expect(resolved.length).toBeGreaterThan(0);
    expect(resolved.every((q) => q.path.includes(`/resolve/${ENTRY.revision}/`))).toBe(true);
    expect((await glance(['models', 'verify', 'gemma-3-4b'])).code).toBe(0);
    const file = path.join(tmp, 'home', 'models', 'gemma-3-4b', ENTRY.mmproj.file);
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from([0x42]), 0, 1, 1000);
    await fh.close();
    const broken = await glance(['models', 'verify', 'gemma-3-4b']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/BROKEN .*mmproj/);
    expect(broken.stdout).toMatch(/does not match the copy first downloaded/);
    expect(broken.stderr).toMatch(/glance models download gemma-3-4b fetches them again/);
    expect((await glance(['models', 'download', 'gemma-3-4b'])).code).toBe(0);
    expect((await glance(['models', 'verify', 'gemma-3-4b'])).code).toBe(0);
  });

  it('refuses bytes that are not the reviewed build of a pinned model, whatever the hub reports, and installs nothing', async () => {
    const r = await glance(['models', 'download', 'smolvlm-500m']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/does not match the reviewed build in Glance's catalog: expected sha256 9d4612de6a42…/);
    const list = JSON.parse((await glance(['models', 'list', '--json'])).stdout) as {
      id: string;
      installed: boolean;
    }[];
    expect(list.find((m) => m.id === 'smolvlm-500m')?.installed).toBe(false);
  });
});

describe('glance ask and glance chat', () => {
  it('ask: streams an answer from the installed model and reports the turn', async () => {
    const r = await glance(['ask', photo, 'What colour is this?', '--max-tokens', '8']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().length).toBeGreaterThan(0);
    expect(r.stderr).toMatch(
      /^gemma-3-4b on CPU \(CPU\) · \d+ prompt tokens, first token after [\d.]+ s, [\d.]+ tokens\/s · conversation \d+\n$/,
    );
  });

  it('ask --json gives the message with its statistics', async () => {
    const r = await glance(['ask', photo, 'Describe.', '--max-tokens', '6', '--json']);
    const out = JSON.parse(r.stdout);
    expect(out.model).toBe('gemma-3-4b');
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
    expect(r.stderr).toMatch(/gemma-3-4b · conversation \d+/);
    expect(r.stderr).toMatch(/attached 1 image\(s\) to your next message/);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(3); // three answers
  });

  it('a failed first turn leaves no conversation behind (ask and chat), and chat goes on in a new one', async () => {
    const bad = await img.writeTruncatedJpeg(path.join(tmp, 'cut.jpg'));
    const asked = await glance(['ask', bad, 'What is this?', '--max-tokens', '3']);
    expect(asked.code).not.toBe(0);
    const r = await glance(['chat', '--max-tokens', '3'], `/image ${bad}\nfirst\nsecond\n/exit\n`);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/error: /);
    expect(r.stderr).not.toMatch(/there is no conversation/);
    expect(r.stdout.trim()).not.toBe(''); // the second message was answered
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(tmp, 'home', 'glance.db'), { readonly: true });
    const unanswered = db
      .prepare(
        `SELECT count(*) AS n FROM conversations c WHERE NOT EXISTS
           (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.role = 'assistant')`,
      )
      .get() as { n: number };
    db.close();
    expect(unanswered.n).toBe(0);
  });

  // Sampling: every run reports its settings (seed included), and those settings reproduce the answer.
  interface AskJson {
    sampling: { family: string; temperature: number; topP: number; seed: number };
    message: { text: string; stats: { generatedTokens: number } };
  }
  const askJson = async (...extra: string[]): Promise<AskJson> => {
    const r = await glance(['ask', photo, 'What colour is this?', '--max-tokens', '12', '--json', ...extra]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as AskJson;
  };

  it('ask --temperature 0: two runs write the same tokens, and --json shows the settings used', async () => {
    const a = await askJson('--temperature', '0');
    const b = await askJson('--temperature', '0');
    expect(a.message.stats.generatedTokens).toBe(12);
    expect(b.message.text).toBe(a.message.text);
    // the tiny pair is LLaVA-1.5-shaped (llama text model, mlp projector): that family's settings, at temperature 0
    expect(a.sampling).toMatchObject({ family: 'llava-1.5', temperature: 0, topP: 0.7 });
    expect(Number.isInteger(a.sampling.seed)).toBe(true);
    expect(b.sampling.seed).not.toBe(a.sampling.seed); // a fresh seed each run, reported
  });

  it('ask --seed at a high temperature reproduces the answer; another seed writes another one', async () => {
    const a = await askJson('--temperature', '2', '--seed', '1234');
    const b = await askJson('--temperature', '2', '--seed', '1234');
    const c = await askJson('--temperature', '2', '--seed', '99');
    expect(a.sampling).toMatchObject({ temperature: 2, seed: 1234 });
    expect(b.message.text).toBe(a.message.text);
    expect(c.sampling.seed).toBe(99);
    expect(c.message.text).not.toBe(a.message.text);
  });

  it('chat --json --seed: one JSON line per answer with its sampling; the same seed gives the same answers', async () => {
    const run = () =>
      glance(['chat', '--max-tokens', '6', '--seed', '7', '--temperature', '1.5', '--json'], 'hi\nmore\n/exit\n');
    const [a, b] = [await run(), await run()];
    expect(a.code).toBe(0);
    const lines = (r: { stdout: string }) =>
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AskJson);
    expect(lines(a)).toHaveLength(2);
    expect(lines(a).map((l) => l.sampling.seed)).toEqual([7, 7]);
    expect(lines(b).map((l) => l.message.text)).toEqual(lines(a).map((l) => l.message.text));
  });

  it('refuses a temperature out of range as a usage error (the rules: test/unit/sampling.test.ts)', async () => {
    const t = await glance(['ask', photo, 'x', '--temperature', 'hot']);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/--temperature must be a number from 0 to 5 \(got "hot"\)/);
  });

  it('removing the model makes it unavailable again', async () => {
    expect((await glance(['models', 'remove', 'gemma-3-4b'])).stdout).toBe('gemma-3-4b removed\n');
    expect((await glance(['ask', photo, 'x'])).code).toBe(3);
  });
});
