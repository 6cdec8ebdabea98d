// `glance serve` as a person runs it: the token printed (and the same one served), the address announced, a request
// answered, Ctrl+C (SIGINT) stopping it cleanly, a port in use and bad options refused with a sentence.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../electron/engine/db/database.ts';
import { LibraryStore } from '../../electron/engine/library/store.ts';
import { DEFAULT_SETTINGS } from '../../electron/engine/settings.ts';
import { repoRoot } from '../fixtures/repo.ts';
import { type TinyLlava, writeTinyLlava } from '../fixtures/tiny-llava.ts';

const exec = promisify(execFile);
const BIN = path.join(repoRoot, 'bin', 'glance.js');
let tmp: string;
let home: string;
let tiny: TinyLlava;

async function glance(args: string[]) {
  try {
    const r = await exec(process.execPath, [BIN, ...args], { env: { ...process.env, GLANCE_HOME: home } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A server holding a port (free or taken, as the test wants). */
function hold(): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}
const portOf = (s: Server) => (s.address() as { port: number }).port;

/** A port free now. */
async function freePort(): Promise<number> {
  const spare = await hold();
  const port = portOf(spare);
  await new Promise<void>((resolve) => spare.close(() => resolve()));
  return port;
}

/** `glance serve` with the tiny pair and `args`, running until interrupt() (Ctrl+C): its output so far, its exit code. */
function serve(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--chat-model', tiny.model, '--mmproj', tiny.mmproj], {
    env: { ...process.env, GLANCE_HOME: home },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return {
    out: () => out,
    exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))),
    interrupt: () => child.kill('SIGINT'),
  };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-cli-serve-'));
  home = path.join(tmp, 'home');
  tiny = await writeTinyLlava(path.join(tmp, 'llava'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('glance serve', () => {
  it('prints its token, serves with it on the port asked for, and stops on Ctrl+C', async () => {
    const printed = await glance(['serve', '--print-token']);
    expect(printed.code).toBe(0);
    const token = printed.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await glance(['serve', '--print-token'])).stdout.trim()).toBe(token); // kept, not made again
    expect((await readFile(path.join(home, 'api-token'), 'utf8')).trim()).toBe(token);

    const port = await freePort();
    const server = serve(['--port', String(port)]);
    try {
      await expect.poll(server.out).toContain(`Glance API on http://127.0.0.1:${port}/v1`);
      const base = `http://127.0.0.1:${port}/v1`;
      const models = await fetch(`${base}/models`, { headers: { Authorization: `Bearer ${token}` } });
      expect(models.status).toBe(200);
      const ids = ((await models.json()) as { data: { id: string; kind: string }[] }).data;
      // the file given is served under its name, and is what "default" means
      expect(ids).toContainEqual(expect.objectContaining({ id: path.basename(tiny.model), kind: 'chat' }));
      const answer = await fetch(`${base}/chat/completions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3 }),
      });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({
        model: path.basename(tiny.model),
        usage: { completion_tokens: 3 },
        choices: [{ finish_reason: 'length' }],
      });
    } finally {
      server.interrupt();
    }
    expect(await server.exited).toBe(0);
    // nothing listens there any more
    await expect(fetch(`http://127.0.0.1:${port}/v1/models`)).rejects.toThrow();
  });

  it('takes its port from Settings → Local API when none is given', async () => {
    const port = await freePort();
    const db = openDatabase(path.join(home, 'glance.db'));
    try {
      new LibraryStore(db).setSetting('app_settings', JSON.stringify({ ...DEFAULT_SETTINGS, localApiPort: port }));
    } finally {
      db.close();
    }
    const server = serve([]);
    try {
      await expect.poll(server.out).toContain(`Glance API on http://127.0.0.1:${port}/v1`);
    } finally {
      server.interrupt();
    }
    expect(await server.exited).toBe(0);
  });

  it('says so when the port is taken, and refuses bad options with a sentence', async () => {
    const taken = await hold();
    try {
      const r = await glance([
        'serve',
        '--port',
        String(portOf(taken)),
        '--chat-model',
        tiny.model,
        '--mmproj',
        tiny.mmproj,
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${portOf(taken)} is in use by another program: choose another port`);
    } finally {
      taken.close();
    }
    const badPort = await glance(['serve', '--port', '99999']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be a whole number from 0 to 65535');
    const badOrigin = await glance(['serve', '--origin', 'evil.example']);
    expect(badOrigin.code).toBe(2);
    expect(badOrigin.stderr).toContain('--origin takes an origin such as http://localhost:3000');
    const lonely = await glance(['serve', '--mmproj', tiny.mmproj]);
    expect(lonely.code).toBe(2);
    const missing = await glance(['serve', '--chat-model', path.join(tmp, 'nope.gguf'), '--mmproj', tiny.mmproj]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/nope\.gguf does not exist/);
    const absent = await glance(['serve', '--chat-model', 'smolvlm-500m']);
    expect(absent.code).toBe(3);
    expect(absent.stderr).toContain('smolvlm-500m is not installed: glance models download smolvlm-500m');
  });
});
