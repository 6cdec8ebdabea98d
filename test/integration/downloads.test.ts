// Model downloads over real HTTP against a local server that answers like the Hugging Face hub, into a temp folder.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MANIFEST, type Manifest, ModelManager } from '../../electron/engine/models/model-manager.ts';
import { glancePaths, modelDir } from '../../electron/engine/paths.ts';
import { CHAT_CATALOG } from '../../native-models/catalog.ts';
import {
  type DownloadError,
  type DownloadProgress,
  downloadAll,
  downloadFile,
  fileInfo,
  formatBytes,
  hubEndpoint,
  shortHash,
  verifyFile,
} from '../../native-models/download/hub.ts';
import { type FakeFile, type FakeHub, sha256, startFakeHub } from '../fixtures/fake-hub.ts';

/** Deterministic bytes (xorshift32), so that a flipped or misplaced byte changes the hash. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

const REPO = 'glance-test/tiny-model';
const MODEL = bytes(300_000, 1);
const CONFIG = Buffer.from(JSON.stringify({ model_type: 'clip', hidden_size: 512 }));
const MMPROJ = bytes(120_000, 2);
const LFS = { repo: REPO, file: 'onnx/model.onnx' };
const SMALL = { repo: REPO, file: 'config.json' };

let hub: FakeHub;
let tmp: string;
let dir: string;
let n = 0;

async function rejection(p: Promise<unknown>): Promise<DownloadError> {
  try {
    await p;
  } catch (e) {
    return e as DownloadError;
  }
  throw new Error('expected the promise to reject');
}

const gets = (pathPrefix: string) => hub.requests.filter((r) => r.method === 'GET' && r.path.startsWith(pathPrefix));

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-downloads-'));
  hub = await startFakeHub([
    { ...LFS, data: MODEL, lfs: true },
    { ...SMALL, data: CONFIG },
    { repo: REPO, file: 'mmproj.gguf', data: MMPROJ, lfs: true },
  ]);
});
afterAll(async () => {
  await hub.close();
  await rm(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  vi.stubEnv('HF_TOKEN', '');
  for (const k of Object.keys(hub.knobs)) delete hub.knobs[k as keyof typeof hub.knobs];
  hub.requests.length = 0;
  dir = path.join(tmp, `t${n++}`);
  await mkdir(dir);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('hub metadata', () => {
  it('reads size and SHA-256 of an LFS file from the redirect, without following it', async () => {
    const info = await fileInfo(LFS, { endpoint: hub.url });
    expect(info).toEqual({
      size: MODEL.length,
      sha256: sha256(MODEL),
      url: `${hub.url}/${REPO}/resolve/main/${LFS.file}`,
    });
    expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`HEAD /${REPO}/resolve/main/onnx/model.onnx`]);
  });

  it('has no SHA-256 for a small file kept in git (its ETag is a git SHA-1)', async () => {
    expect(await fileInfo(SMALL, { endpoint: hub.url })).toMatchObject({ size: CONFIG.length, sha256: null });
  });

  it('takes the endpoint from GLANCE_HUB_ENDPOINT', async () => {
    vi.stubEnv('GLANCE_HUB_ENDPOINT', `${hub.url}/`);
    expect((await fileInfo(LFS)).size).toBe(MODEL.length);
  });
});

describe('downloadFile', () => {
  it('downloads an LFS file through the CDN redirect and verifies its SHA-256', async () => {
    const dest = path.join(dir, 'model.onnx');
    const r = await downloadFile(LFS, dest, { endpoint: hub.url });
    expect(r).toEqual({ path: dest, size: MODEL.length, sha256: sha256(MODEL), resumedFrom: 0, reused: false });
    expect((await readFile(dest)).equals(MODEL)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(gets('/cdn/')).toHaveLength(1);
  });

  it('downloads a small file served directly, and records the SHA-256 it computed', async () => {
    const dest = path.join(dir, 'config.json');
    const r = await downloadFile(SMALL, dest, { endpoint: hub.url });
    expect(r.sha256).toBe(sha256(CONFIG));
    expect((await readFile(dest)).equals(CONFIG)).toBe(true);
  });

  it('reuses a verified file that is already there', async () => {
    const dest = path.join(dir, 'model.onnx');
    await downloadFile(LFS, dest, { endpoint: hub.url });
    hub.requests.length = 0;
    expect((await downloadFile(LFS, dest, { endpoint: hub.url })).reused).toBe(true);
    expect(gets('/')).toHaveLength(0);
  });

  it('resumes after a dropped connection with a Range request, byte for byte', async () => {
    hub.knobs.failAfterBytes = 100_000;
    const dest = path.join(dir, 'model.onnx');
    const r = await downloadFile(LFS, dest, { endpoint: hub.url });
    expect(r.resumedFrom).toBeGreaterThan(0);
    const ranged = gets('/cdn/').filter((q) => q.range);
    expect(ranged.map((q) => q.range)).toEqual([`bytes=${r.resumedFrom}-`]);
    expect((await readFile(dest)).equals(MODEL)).toBe(true);
    expect(r.sha256).toBe(sha256(MODEL));
  });

  it('gives up after the retries and keeps the .part; the next call resumes it', async () => {
    hub.knobs.failAfterBytes = 100_000;
    const dest = path.join(dir, 'model.onnx');
    const err = await rejection(downloadFile(LFS, dest, { endpoint: hub.url, retries: 0 }));
    expect(err.code).toBe('network');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/try again; the download resumes where it stopped/);
    const kept = (await stat(`${dest}.part`)).size;
    expect(kept).toBeGreaterThan(0);
    const r = await downloadFile(LFS, dest, { endpoint: hub.url });
    expect(r.resumedFrom).toBe(kept);
    expect((await readFile(dest)).equals(MODEL)).toBe(true);
  });

  it('starts over when the server ignores Range, and still ends byte for byte', async () => {
    const dest = path.join(dir, 'model.onnx');
    await writeFile(`${dest}.part`, MODEL.subarray(0, 50_000));
    hub.knobs.ignoreRange = true;
    const r = await downloadFile(LFS, dest, { endpoint: hub.url });
    expect(gets('/cdn/')[0]?.range).toBe('bytes=50000-');
    expect(r.resumedFrom).toBe(0);
    expect((await readFile(dest)).equals(MODEL)).toBe(true);
  });

  it('starts over when a resumed .part turns out to hold bytes of another file', async () => {
    const dest = path.join(dir, 'model.onnx');
    await writeFile(`${dest}.part`, bytes(50_000, 99));
    const r = await downloadFile(LFS, dest, { endpoint: hub.url });
    expect(gets('/cdn/').map((q) => q.range)).toEqual(['bytes=50000-', undefined]);
    expect(r.resumedFrom).toBe(0);
    expect((await readFile(dest)).equals(MODEL)).toBe(true);
  });

  it('refuses a file whose bytes do not match the published SHA-256, and leaves nothing behind', async () => {
    hub.knobs.corrupt = true;
    const dest = path.join(dir, 'model.onnx');
    const err = await rejection(downloadFile(LFS, dest, { endpoint: hub.url }));
    expect(err.code).toBe('checksum-mismatch');
    expect(err.message).toContain(`onnx/model.onnx of ${REPO} is corrupt (SHA-256 `);
    expect(err.message).toContain(`expected ${sha256(MODEL)}): it was deleted, download it again`);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it("fails before downloading when the catalog's SHA-256 is not the hub's", async () => {
    const err = await rejection(
      downloadFile({ ...LFS, sha256: sha256(CONFIG) }, path.join(dir, 'model.onnx'), { endpoint: hub.url }),
    );
    expect(err.code).toBe('checksum-mismatch');
    expect(err.message).toBe(
      `onnx/model.onnx of ${REPO} on ${new URL(hub.url).host} does not match the reviewed build in Glance's catalog: ` +
        `expected sha256 ${shortHash(sha256(CONFIG))}, the server offers ${shortHash(sha256(MODEL))}. Nothing was downloaded. ` +
        'Check GLANCE_HUB_ENDPOINT / HF_ENDPOINT if you use a mirror; otherwise the file changed upstream: update Glance.',
    );
    expect(gets('/')).toHaveLength(0);
  });

  it('checks a pinned SHA-256 for a small file too', async () => {
    const dest = path.join(dir, 'config.json');
    const err = await rejection(downloadFile({ ...SMALL, sha256: sha256(MODEL) }, dest, { endpoint: hub.url }));
    expect(err.code).toBe('checksum-mismatch');
    expect(err.message).toContain(
      `config.json of ${REPO} does not match the reviewed build in Glance's catalog: expected sha256 ${shortHash(sha256(MODEL))}, got ${shortHash(sha256(CONFIG))}. It was deleted.`,
    );
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('names the repo and the file when the file does not exist', async () => {
    const err = await rejection(
      downloadFile({ repo: REPO, file: 'nope.gguf' }, path.join(dir, 'x'), { endpoint: hub.url }),
    );
    expect(err.code).toBe('not-found');
    expect(err.message).toBe(
      `${REPO} has no file nope.gguf (revision main): the model catalog may be out of date. The hub says: "fake hub: 404"`,
    );
  });

  it('explains a gated repo: accept the licence and set HF_TOKEN', async () => {
    hub.knobs.status = { [REPO]: 401 };
    const err = await rejection(downloadFile(LFS, path.join(dir, 'model.onnx'), { endpoint: hub.url }));
    expect(err.code).toBe('unauthorized');
    expect(err.message).toContain('gated or private');
    expect(err.message).toContain(`accept its licence`);
    expect(err.message).toContain('set HF_TOKEN');
    expect(existsSync(path.join(dir, 'model.onnx.part'))).toBe(false);
  });

  it('sends HF_TOKEN to the hub but never to a CDN on another origin', async () => {
    const cdn = await startFakeHub([{ ...LFS, data: MODEL, lfs: true }]);
    try {
      hub.knobs.cdnOrigin = cdn.url;
      vi.stubEnv('HF_TOKEN', 'hf_secret');
      const dest = path.join(dir, 'model.onnx');
      await downloadFile(LFS, dest, { endpoint: hub.url });
      expect((await readFile(dest)).equals(MODEL)).toBe(true);
      expect(hub.requests.every((r) => r.authorization === 'Bearer hf_secret')).toBe(true);
      expect(cdn.requests.map((r) => [r.method, r.authorization])).toEqual([['GET', undefined]]);
    } finally {
      await cdn.close();
    }
  });

  it('says the server is failing, with a hint to try again', async () => {
    hub.knobs.status = { [REPO]: 500 };
    const err = await rejection(downloadFile(LFS, path.join(dir, 'model.onnx'), { endpoint: hub.url, retries: 0 }));
    expect(err.code).toBe('server');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/HTTP 500 .* Try again in a few minutes/);
  });

  it('says the network failed when nothing answers', async () => {
    const gone = await startFakeHub([]);
    await gone.close();
    const err = await rejection(downloadFile(LFS, path.join(dir, 'model.onnx'), { endpoint: gone.url, retries: 0 }));
    expect(err.code).toBe('network');
    expect(err.message).toMatch(/ECONNREFUSED.*check the internet connection/);
  });

  it('treats a connection that goes quiet as dropped', async () => {
    hub.knobs.delayMs = 400;
    const dest = path.join(dir, 'model.onnx');
    const err = await rejection(downloadFile(LFS, dest, { endpoint: hub.url, retries: 0, idleTimeoutMs: 100 }));
    expect(err.code).toBe('network');
    expect(err.message).toContain('the connection stalled');
    expect((await stat(`${dest}.part`)).size).toBe(16 * 1024);
  });

  it('cancels promptly, keeps the .part, and the next call resumes it', async () => {
    const CHUNK = 16 * 1024;
    hub.knobs.delayMs = 20;
    hub.knobs.chunkSize = CHUNK;
    const dest = path.join(dir, 'model.onnx');
    const ac = new AbortController();
    let receivedAtAbort = 0;
    let eventsAfterAbort = 0;
    const onProgress = (p: DownloadProgress) => {
      if (ac.signal.aborted) eventsAfterAbort++;
      else if (p.received > 60_000) {
        receivedAtAbort = p.received;
        ac.abort();
      }
    };
    const err = await rejection(downloadFile(LFS, dest, { endpoint: hub.url, signal: ac.signal, onProgress }));
    expect(err.code).toBe('cancelled');
    // Promptly, by what happened rather than by the clock: nothing reported after the abort, and no more kept than
    // the chunk in flight when it came (a download that ran on would have all of it).
    expect(eventsAfterAbort).toBe(0);
    expect(existsSync(dest)).toBe(false);
    const kept = (await stat(`${dest}.part`)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(receivedAtAbort + CHUNK);
    expect(kept).toBeLessThan(MODEL.length);

    hub.knobs.delayMs = 0;
    const r = await downloadFile(LFS, dest, { endpoint: hub.url });
    expect(r.resumedFrom).toBe(kept);
    expect((await readFile(dest)).equals(MODEL)).toBe(true);
  });

  it('reports progress about ten times a second, monotonic, ending at the total', async () => {
    hub.knobs.delayMs = 10; // about 19 chunks: a few hundred ms
    const events: Array<DownloadProgress & { at: number }> = [];
    const started = performance.now();
    await downloadFile(LFS, path.join(dir, 'model.onnx'), {
      endpoint: hub.url,
      onProgress: (p) => events.push({ ...p, at: performance.now() }),
    });
    const elapsed = performance.now() - started;
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.length).toBeLessThanOrEqual(elapsed / 100 + 2);
    for (const [i, e] of events.entries()) {
      expect(e.file).toBe(LFS.file);
      expect(e.total).toBe(MODEL.length);
      if (i > 0) expect(e.received).toBeGreaterThanOrEqual(events[i - 1]!.received);
    }
    const last = events.at(-1)!;
    expect(last.received).toBe(MODEL.length);
    expect(last.etaSeconds).toBe(0);
    const middle = events.slice(1, -1);
    expect(middle.some((e) => e.bytesPerSecond > 0 && e.etaSeconds !== null && e.etaSeconds > 0)).toBe(true);
  });

  it('refuses to start without room on the disk, and creates nothing', async () => {
    const dest = path.join(dir, 'models', 'model.onnx');
    const err = await rejection(
      downloadFile(LFS, dest, { endpoint: hub.url, statfs: async () => ({ bavail: 1000, bsize: 4096 }) }),
    );
    expect(err.code).toBe('no-space');
    expect(err.message).toBe(
      `Not enough disk space: the download needs 250 MB (250 MB of it to spare), 4.1 MB free on ${dir}. Free up space or choose another folder.`,
    );
    expect(existsSync(path.join(dir, 'models'))).toBe(false);
    expect(gets('/')).toHaveLength(0);
  });
});

describe('downloadAll', () => {
  const FILES = [LFS, SMALL, { repo: REPO, file: 'mmproj.gguf' }];
  const TOTAL = MODEL.length + CONFIG.length + MMPROJ.length;

  it('downloads a set into its folders with one progress over the whole set', async () => {
    const events: DownloadProgress[] = [];
    const done: string[] = [];
    const rs = await downloadAll(FILES, dir, {
      endpoint: hub.url,
      onProgress: (p) => events.push(p),
      onFile: (f) => done.push(f.file),
    });
    expect(done).toEqual(['onnx/model.onnx', 'config.json', 'mmproj.gguf']);
    expect(rs.map((r) => path.relative(dir, r.path))).toEqual([
      path.join('onnx', 'model.onnx'),
      'config.json',
      'mmproj.gguf',
    ]);
    expect((await readFile(path.join(dir, 'onnx', 'model.onnx'))).equals(MODEL)).toBe(true);
    expect((await readFile(path.join(dir, 'mmproj.gguf'))).equals(MMPROJ)).toBe(true);
    expect(events.every((e) => e.total === TOTAL)).toBe(true);
    expect(events.at(-1)?.received).toBe(TOTAL);
    for (let i = 1; i < events.length; i++) expect(events[i]!.received).toBeGreaterThanOrEqual(events[i - 1]!.received);
  });

  it('asks about every file before downloading any: a missing one fails the set at once', async () => {
    const err = await rejection(
      downloadAll([...FILES, { repo: REPO, file: 'missing.bin' }], dir, { endpoint: hub.url }),
    );
    expect(err.code).toBe('not-found');
    expect(gets('/')).toHaveLength(0);
  });

  it('counts what is already on disk when it checks the free space', async () => {
    await downloadFile(LFS, path.join(dir, 'onnx', 'model.onnx'), { endpoint: hub.url });
    await writeFile(path.join(dir, 'mmproj.gguf.part'), MMPROJ.subarray(0, 20_000));
    const needed = CONFIG.length + MMPROJ.length - 20_000;
    const free = 250e6 + needed;
    const statfs = async () => ({ bavail: free, bsize: 1 });
    const rs = await downloadAll(FILES, dir, { endpoint: hub.url, statfs });
    expect(rs.map((r) => [r.reused, r.resumedFrom])).toEqual([
      [true, MODEL.length],
      [false, 0],
      [false, 20_000],
    ]);
    await rm(path.join(dir, 'config.json'));
    const tight = async () => ({ bavail: 250e6 + CONFIG.length - 1, bsize: 1 });
    expect((await rejection(downloadAll(FILES, dir, { endpoint: hub.url, statfs: tight }))).code).toBe('no-space');
  });

  it('keeps every file inside the folder', async () => {
    await expect(downloadAll([{ repo: REPO, file: '../escape.bin' }], dir, { endpoint: hub.url })).rejects.toThrow(
      /would land outside/,
    );
  });
});

describe('verifyFile', () => {
  it('accepts the right file and names what is wrong with a flipped byte or a wrong size', async () => {
    const file = path.join(dir, 'model.onnx');
    await writeFile(file, MODEL);
    expect(await verifyFile(file, { size: MODEL.length, sha256: sha256(MODEL) })).toEqual({ ok: true });
    const flipped = Buffer.from(MODEL);
    flipped[12_345] = flipped[12_345]! ^ 1;
    await writeFile(file, flipped);
    const bad = await verifyFile(file, { size: MODEL.length, sha256: sha256(MODEL) });
    expect(bad).toEqual({
      ok: false,
      reason: `${file} is corrupt (SHA-256 ${sha256(flipped)}, expected ${sha256(MODEL)}): download it again`,
    });
    expect(await verifyFile(file, { size: MODEL.length + 1 })).toEqual({
      ok: false,
      reason: `${file} has ${MODEL.length} bytes, expected ${MODEL.length + 1}: download it again`,
    });
    expect(await verifyFile(path.join(dir, 'nothing'), {})).toEqual({
      ok: false,
      reason: `${path.join(dir, 'nothing')} is missing`,
    });
  });
});

describe('formatBytes', () => {
  it('uses decimal units to three significant figures', () => {
    expect([0, 999, 1500, 999_950, 12_345_678, 123_456_789, 4.1e9, 2.5e12].map(formatBytes)).toEqual([
      '0 bytes',
      '999 bytes',
      '1.5 kB',
      '1 MB',
      '12.3 MB',
      '123 MB',
      '4.1 GB',
      '2.5 TB',
    ]);
  });
});

describe('supply chain: pinned revision, pinned hashes, secure endpoints', () => {
  const COMMIT = '0123456789abcdef0123456789abcdef01234567';

  it('resolves files at the revision it is given, for HEAD and GET alike', async () => {
    await downloadFile(SMALL, path.join(dir, 'config.json'), { endpoint: hub.url, revision: COMMIT });
    expect(hub.requests.map((r) => r.path)).toEqual([
      `/${REPO}/resolve/${COMMIT}/config.json`,
      `/${REPO}/resolve/${COMMIT}/config.json`,
    ]);
  });

  it("trusts the pin, not the hub's hash: bytes the server vouches for are refused when they are not the pinned ones", async () => {
    // The server is self-consistent (X-Linked-Etag is the SHA-256 of what it serves); only the pin says it is wrong.
    const err = await rejection(
      downloadFile({ ...LFS, sha256: sha256(MMPROJ), pin: 'catalog' }, path.join(dir, 'model.onnx'), {
        endpoint: hub.url,
      }),
    );
    expect(err.code).toBe('checksum-mismatch');
    expect(err.message).toContain(
      `does not match the reviewed build in Glance's catalog: expected sha256 ${shortHash(sha256(MMPROJ))}, the server offers ${shortHash(sha256(MODEL))}`,
    );
    expect(gets('/cdn/')).toHaveLength(0);
  });

  it('refuses delivered bytes that differ from the pin even when the headers advertise the pinned hash', async () => {
    hub.knobs.corrupt = true; // headers say sha256(MODEL), the body has one byte flipped
    const dest = path.join(dir, 'model.onnx');
    const err = await rejection(downloadFile({ ...LFS, sha256: sha256(MODEL) }, dest, { endpoint: hub.url }));
    expect(err.code).toBe('checksum-mismatch');
    expect(err.message).toMatch(
      new RegExp(
        `^onnx/model\\.onnx of ${REPO} does not match the reviewed build in Glance's catalog: expected sha256 ${sha256(MODEL).slice(0, 12)}…, got [0-9a-f]{12}…\\. It was deleted\\.`,
      ),
    );
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('a first-use pin says the file changed since the first download, and how to accept a new version', async () => {
    const err = await rejection(
      downloadFile({ ...LFS, sha256: sha256(MMPROJ), pin: 'first-use' }, path.join(dir, 'model.onnx'), {
        endpoint: hub.url,
      }),
    );
    expect(err.message).toContain('does not match the copy first downloaded: expected sha256 ');
    expect(err.message).toContain('remove the model and download it again to accept the new version');
  });

  it('refuses a plain-http endpoint on another machine, from the option, GLANCE_HUB_ENDPOINT or HF_ENDPOINT', async () => {
    const http = 'http://mirror.example.com';
    let err = await rejection(fileInfo(LFS, { endpoint: http }));
    expect(err.code).toBe('insecure-endpoint');
    expect(err.message).toBe(
      'The hub endpoint is http://mirror.example.com: Glance downloads models only over https:// (plain http:// only from this machine: 127.0.0.1, ::1, localhost). Use an https:// address for the mirror.',
    );
    vi.stubEnv('GLANCE_HUB_ENDPOINT', `${http}:8080/`);
    err = await rejection(downloadFile(LFS, path.join(dir, 'model.onnx')));
    expect(err.code).toBe('insecure-endpoint');
    expect(err.message).toMatch(/^GLANCE_HUB_ENDPOINT is http:\/\/mirror\.example\.com:8080: /);
    vi.stubEnv('GLANCE_HUB_ENDPOINT', '');
    vi.stubEnv('HF_ENDPOINT', 'http://10.0.0.5');
    err = await rejection(downloadAll([LFS], dir));
    expect(err.message).toMatch(/^HF_ENDPOINT is http:\/\/10\.0\.0\.5: .*only over https:\/\//);
    expect(hub.requests).toHaveLength(0);
    expect(existsSync(path.join(dir, 'onnx'))).toBe(false);
  });

  it('accepts https:// anywhere and http:// to 127.0.0.1, ::1 and localhost only', () => {
    const env = {};
    expect(hubEndpoint(undefined, env)).toBe('https://huggingface.co');
    expect(hubEndpoint('https://hf-mirror.com/', env)).toBe('https://hf-mirror.com');
    for (const ok of ['http://127.0.0.1:8080', 'http://[::1]:8080', 'http://localhost:9000', 'http://LOCALHOST']) {
      expect(hubEndpoint(ok, env)).toBe(ok);
    }
    for (const bad of ['http://example.com', 'http://127.0.0.1.nip.io', 'http://localhost.example.com', 'ftp://x']) {
      expect(() => hubEndpoint(bad, env)).toThrow(/only over https:\/\//);
    }
    expect(() => hubEndpoint('huggingface.co', env)).toThrow('The hub endpoint "huggingface.co" is not a URL');
    expect(hubEndpoint(undefined, { HF_ENDPOINT: 'https://a.example' })).toBe('https://a.example');
    expect(() => hubEndpoint(undefined, { GLANCE_HUB_ENDPOINT: 'http://b.example', HF_ENDPOINT: 'https://a' })).toThrow(
      /^GLANCE_HUB_ENDPOINT is http:\/\/b\.example/,
    );
  });

  it('refuses a redirect from the hub to a plain-http server on another machine', async () => {
    hub.knobs.cdnOrigin = 'http://cdn.example.com';
    const err = await rejection(downloadFile(LFS, path.join(dir, 'model.onnx'), { endpoint: hub.url }));
    expect(err.code).toBe('insecure-endpoint');
    expect(err.message).toContain('to http://cdn.example.com: Glance downloads models only over https://');
  });

  it('verifyFile with a pin names the build the file should be, whatever its size', async () => {
    const file = path.join(dir, 'model.onnx');
    await writeFile(file, CONFIG);
    expect(await verifyFile(file, { sha256: sha256(MODEL), pin: 'catalog' })).toEqual({
      ok: false,
      reason: `${file} does not match the reviewed build in Glance's catalog: expected sha256 ${shortHash(sha256(MODEL))}, got ${shortHash(sha256(CONFIG))}: delete it or download again`,
    });
    expect(await verifyFile(file, { sha256: sha256(MODEL), pin: 'first-use' })).toMatchObject({
      reason: expect.stringContaining('does not match the copy first downloaded: expected sha256'),
    });
    expect(await verifyFile(file, { sha256: sha256(CONFIG), pin: 'catalog' })).toEqual({ ok: true });
  });
});

describe('ModelManager: catalog pins and trust on first use', () => {
  const SMOL = CHAT_CATALOG.find((e) => e.id === 'smolvlm-500m')!;
  // no published commit or hashes: resolves main, trusted on first use
  const GEMMA = CHAT_CATALOG.find((e) => e.id === 'gemma-3-4b')!;
  const served: FakeFile[] = [
    { repo: SMOL.repo, file: SMOL.model.file, data: bytes(50_000, 7), lfs: true },
    { repo: SMOL.repo, file: SMOL.mmproj.file, data: bytes(20_000, 8), lfs: true },
    { repo: GEMMA.repo, file: GEMMA.model.file, data: bytes(60_000, 9), lfs: true },
    { repo: GEMMA.repo, file: GEMMA.mmproj.file, data: bytes(30_000, 10), lfs: true },
  ];
  const original = served.map((f) => f.data);
  let models: FakeHub;
  let manager: ModelManager;
  let paths: ReturnType<typeof glancePaths>;
  const manifestOf = async (id: string) =>
    JSON.parse(await readFile(path.join(modelDir(paths, id), MANIFEST), 'utf8')) as Manifest;

  beforeAll(async () => {
    models = await startFakeHub(served);
  });
  afterAll(async () => {
    await models.close();
  });
  beforeEach(() => {
    served.forEach((f, i) => {
      f.data = original[i]!;
    });
    models.requests.length = 0;
    paths = glancePaths(path.join(dir, 'home'));
    manager = new ModelManager(paths);
  });

  it('the catalog pins are real: commits and SHA-256s of the right shape', () => {
    expect(SMOL.revision).toMatch(/^[0-9a-f]{40}$/);
    expect(SMOL.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(SMOL.mmproj.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(GEMMA.revision).toBe('main');
    expect(GEMMA.model.sha256).toBeUndefined();
  });

  it("requests the catalog's commit, never the branch a caller asks for", async () => {
    await rejection(manager.download('smolvlm-500m', { endpoint: models.url, revision: 'main' }));
    const resolves = models.requests.filter((r) => r.path.includes('/resolve/'));
    expect(resolves.map((r) => r.path)).toEqual(
      expect.arrayContaining([`/${SMOL.repo}/resolve/${SMOL.revision}/${SMOL.model.file}`]),
    );
    expect(resolves.every((r) => r.path.startsWith(`/${SMOL.repo}/resolve/${SMOL.revision}/`))).toBe(true);
  });

  it('refuses a catalog-pinned model whose bytes on the hub are not the reviewed build, and installs nothing', async () => {
    const err = await rejection(manager.download('smolvlm-500m', { endpoint: models.url }));
    expect(err.code).toBe('checksum-mismatch');
    expect(err.message).toContain(
      `does not match the reviewed build in Glance's catalog: expected sha256 ${shortHash(SMOL.model.sha256!)}, the server offers ${shortHash(sha256(served[0]!.data))}`,
    );
    expect(models.requests.filter((r) => r.method === 'GET')).toHaveLength(0);
    expect(models.requests.every((r) => r.path.startsWith(`/${SMOL.repo}/resolve/${SMOL.revision}/`))).toBe(true);
    expect(await manager.manifest('smolvlm-500m')).toBeNull();
  });

  it('verify checks catalog pins, not the manifest: a manifest that agrees with other bytes does not help', async () => {
    // An install made before pinning, from main: the manifest records the bytes it got.
    const dirOf = modelDir(paths, 'smolvlm-500m');
    await mkdir(dirOf, { recursive: true });
    const files = [SMOL.model, SMOL.mmproj].map((f, i) => ({ file: f.file, data: served[i]!.data }));
    for (const f of files) await writeFile(path.join(dirOf, f.file), f.data);
    const manifest: Manifest = {
      id: 'smolvlm-500m',
      repo: SMOL.repo,
      installedAt: 1,
      files: files.map((f) => ({ file: f.file, size: f.data.length, sha256: sha256(f.data) })),
    };
    await writeFile(path.join(dirOf, MANIFEST), JSON.stringify(manifest));
    const results = await manager.verify('smolvlm-500m');
    expect(results).toEqual([
      {
        file: SMOL.model.file,
        ok: false,
        pin: 'catalog',
        reason: `${path.join(dirOf, SMOL.model.file)} does not match the reviewed build in Glance's catalog: expected sha256 ${shortHash(SMOL.model.sha256!)}, got ${shortHash(sha256(files[0]!.data))}: delete it or download again`,
      },
      expect.objectContaining({ file: SMOL.mmproj.file, ok: false, pin: 'catalog' }),
    ]);
  });

  it('trust on first use: the first download records the hashes, later downloads and verify require them', async () => {
    const first = await manager.download('gemma-3-4b', { endpoint: models.url });
    expect(first.files).toEqual([
      { file: GEMMA.model.file, size: 60_000, sha256: sha256(original[2]!), pin: 'first-use' },
      { file: GEMMA.mmproj.file, size: 30_000, sha256: sha256(original[3]!), pin: 'first-use' },
    ]);
    expect(await manifestOf('gemma-3-4b')).toMatchObject({ revision: GEMMA.revision, files: first.files });
    expect((await manager.verify('gemma-3-4b')).every((r) => r.ok && r.pin === 'first-use')).toBe(true);

    // The same bytes again: reused, nothing fetched.
    models.requests.length = 0;
    await manager.download('gemma-3-4b', { endpoint: models.url });
    expect(models.requests.filter((r) => r.method === 'GET')).toHaveLength(0);

    // The file on disk is changed: verify names the recorded hash.
    const local = path.join(modelDir(paths, 'gemma-3-4b'), GEMMA.model.file);
    await writeFile(local, bytes(60_000, 99));
    const broken = (await manager.verify('gemma-3-4b')).find((r) => !r.ok)!;
    expect(broken.reason).toBe(
      `${local} does not match the copy first downloaded: expected sha256 ${shortHash(sha256(original[2]!))}, got ${shortHash(sha256(bytes(60_000, 99)))}: delete it or download again`,
    );

    // The hub now serves other bytes for it: a new download refuses them rather than recording them.
    served[2]!.data = bytes(60_000, 42);
    const err = await rejection(manager.download('gemma-3-4b', { endpoint: models.url }));
    expect(err.code).toBe('checksum-mismatch');
    expect(err.message).toContain(
      `${GEMMA.model.file} of ${GEMMA.repo} on ${new URL(models.url).host} does not match the copy first downloaded: expected sha256 ${shortHash(sha256(original[2]!))}, the server offers ${shortHash(sha256(bytes(60_000, 42)))}`,
    );
    expect((await manifestOf('gemma-3-4b')).files[0]!.sha256).toBe(sha256(original[2]!));

    // Removing the model forgets the record: the next download is a first use again.
    await manager.remove('gemma-3-4b');
    const again = await manager.download('gemma-3-4b', { endpoint: models.url });
    expect(again.files[0]!.sha256).toBe(sha256(bytes(60_000, 42)));
  });
});
