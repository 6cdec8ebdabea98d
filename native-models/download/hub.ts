// Model files from the Hugging Face hub, or from any server that speaks like it (GLANCE_HUB_ENDPOINT, HF_ENDPOINT).
//
// The hub's protocol, as huggingface_hub and huggingface.js use it:
// - `{endpoint}/{repo}/resolve/{revision}/{file}` names a file. HEAD on it, with redirects not followed, answers for
//   an LFS file with a redirect to a CDN that carries `X-Linked-Size` and `X-Linked-Etag` (the quoted SHA-256 of the
//   content). A small file stored in git is answered directly; its ETag is a git blob SHA-1, so the hub publishes
//   no SHA-256 for it and only its size (Content-Length) can be checked.
// - A redirect without X-Linked headers (a renamed repo) is followed, as huggingface_hub does for relative ones.
// - Errors carry `X-Error-Code`: EntryNotFound, RevisionNotFound (404), RepoNotFound (401: the hub does not say
//   whether a repo is missing or private), GatedRepo (401 or 403).
//
// Data lands in `{dest}.part` and is hashed as it arrives; a later call resumes it with a Range request. The file
// gets its final name (atomic rename) only after size and SHA-256 check out.
//
// Trust: the catalog names a commit (`revision`), never a branch, and a SHA-256 per file where one was published
// (`sha256`, pin 'catalog'); a model downloaded before records its files' hashes (pin 'first-use'). A pinned hash is
// the only one that counts: bytes that do not match it are refused, whatever the server reports. The hub's own
// X-Linked-Etag is checked only for unpinned files, as a guard against a damaged transfer, not as proof of what the
// file should be. The endpoint must be https://, or http:// to this machine (127.0.0.1, ::1, localhost).
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatBytes } from '../../common/format.ts';
import { DownloadError } from './errors.ts';
import { type Answer, follow, type Headers, isSecure, StallError } from './http.ts';

export { DownloadError, type DownloadErrorCode } from './errors.ts';

export interface HubFile {
  repo: string;
  /** Path inside the repo, e.g. `onnx/vision_model_quantized.onnx`. */
  file: string;
  /** Expected size in bytes if the catalog knows it. */
  size?: number;
  /** The SHA-256 the file must have: nothing else is accepted. Absent: the hub's (LFS files only) is checked. */
  sha256?: string;
  /** Where `sha256` comes from, for the messages: Glance's catalog (default) or the first download's record. */
  pin?: Pin;
}

/** 'catalog': the reviewed build Glance's catalog names; 'first-use': the hash recorded at the first download. */
export type Pin = 'catalog' | 'first-use';

export interface HubFileInfo {
  size: number;
  /** The SHA-256 the hub publishes, for LFS files; null for small files kept in git. */
  sha256: string | null;
  /** The resolve URL (stable; the CDN URL it redirects to is signed and expires). */
  url: string;
}

export interface DownloadProgress {
  file: string;
  received: number;
  total: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface DownloadOptions {
  /** Default: GLANCE_HUB_ENDPOINT, HF_ENDPOINT, https://huggingface.co. */
  endpoint?: string;
  revision?: string;
  /** Access token for gated and private repos; default HF_TOKEN. Sent to the hub only, never to its CDN. */
  token?: string;
  signal?: AbortSignal;
  /** At most about ten times a second, and once more at the end (received === total). */
  onProgress?: (p: DownloadProgress) => void;
  /** Further attempts after a dropped connection or a 5xx, each resuming the .part (default 3). */
  retries?: number;
  /** A connection that sends nothing for this long counts as dropped (default 30 s). */
  idleTimeoutMs?: number;
  /** Free-space probe; tests replace it. */
  statfs?: (dir: string) => Promise<{ bavail: number; bsize: number }>;
}

export interface DownloadAllOptions extends DownloadOptions {
  /** For downloadAll, progress counts the whole set: received and total over all files, `file` the current one. */
  onProgress?: (p: DownloadProgress) => void;
  onFile?: (file: HubFile, result: DownloadResult) => void;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Bytes that were already in the .part when the successful attempt started. */
  resumedFrom: number;
  /** The destination already held the verified file; nothing was downloaded. */
  reused: boolean;
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';
/** Left free after a download, so that a model does not fill the disk the index and the system also need. */
const SPACE_MARGIN = 250e6;
const PROGRESS_INTERVAL_MS = 100;
const SPEED_WINDOW_MS = 5000;
const RETRY_BASE_MS = 1000;

interface Settings {
  endpoint: string;
  revision: string;
  token: string | undefined;
  signal: AbortSignal | undefined;
  retries: number;
  idleTimeoutMs: number;
  statfs: (dir: string) => Promise<{ bavail: number; bsize: number }>;
}

/**
 * The endpoint to use and where it was set; refuses one that is not a URL, or is plain http:// to another machine
 * (anyone on the way could swap the files, and the token would travel in the clear).
 */
export function hubEndpoint(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const [raw, from] =
    explicit !== undefined
      ? [explicit, 'The hub endpoint']
      : env.GLANCE_HUB_ENDPOINT
        ? [env.GLANCE_HUB_ENDPOINT, 'GLANCE_HUB_ENDPOINT']
        : env.HF_ENDPOINT
          ? [env.HF_ENDPOINT, 'HF_ENDPOINT']
          : [DEFAULT_ENDPOINT, 'The hub endpoint'];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DownloadError('insecure-endpoint', `${from} "${raw}" is not a URL: use e.g. https://huggingface.co.`);
  }
  if (!isSecure(url)) {
    throw new DownloadError(
      'insecure-endpoint',
      `${from} is ${url.protocol}//${url.host}: Glance downloads models only over https:// (plain http:// only from this machine: 127.0.0.1, ::1, localhost). Use an https:// address for the mirror.`,
    );
  }
  return raw.replace(/\/+$/, '');
}

function settings(o: DownloadOptions): Settings {
  return {
    endpoint: hubEndpoint(o.endpoint),
    revision: o.revision ?? 'main',
    token: (o.token ?? process.env.HF_TOKEN) || undefined,
    signal: o.signal,
    retries: o.retries ?? 3,
    idleTimeoutMs: o.idleTimeoutMs ?? 30_000,
    statfs: o.statfs ?? ((dir) => fs.statfs(dir)),
  };
}

function requestHeaders(s: Settings): Headers {
  return { 'User-Agent': 'glance', ...(s.token ? { Authorization: `Bearer ${s.token}` } : {}) };
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

function resolveUrl(f: HubFile, s: Settings): string {
  return `${s.endpoint}/${encodePath(f.repo)}/resolve/${encodeURIComponent(s.revision)}/${encodePath(f.file)}`;
}

function header(a: Answer, name: string): string | undefined {
  const v = a.res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const normalizeEtag = (v: string | undefined) => v?.replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();

/** Size and published SHA-256 of a file on the hub, from one HEAD request. */
export async function fileInfo(f: HubFile, opts: DownloadOptions = {}): Promise<HubFileInfo> {
  const s = settings(opts);
  return guard(f, s, () => infoOf(f, s));
}

async function infoOf(f: HubFile, s: Settings): Promise<HubFileInfo> {
  const url = resolveUrl(f, s);
  const linked = (a: Answer) => header(a, 'x-linked-size') !== undefined || header(a, 'x-linked-etag') !== undefined;
  // identity: a compressed answer's Content-Length is not the file's size.
  const headers = { ...requestHeaders(s), 'Accept-Encoding': 'identity' };
  const a = await follow(new URL(url), 'HEAD', headers, s.signal, s.idleTimeoutMs, linked);
  a.res.resume();
  if (a.status >= 400) throw statusError(a, f, s);
  const sizeHeader = header(a, 'x-linked-size') ?? (a.status < 300 ? header(a, 'content-length') : undefined);
  const size = Number(sizeHeader);
  if (sizeHeader === undefined || !Number.isSafeInteger(size) || size < 0) {
    throw new DownloadError(
      'server',
      `${a.url.host} did not say how big ${f.file} of ${f.repo} is (HTTP ${a.status}): check that ${s.endpoint} is a Hugging Face hub or mirror`,
    );
  }
  const etag = normalizeEtag(header(a, 'x-linked-etag'));
  return { size, sha256: etag && /^[0-9a-f]{64}$/.test(etag) ? etag : null, url };
}

function statusError(a: Answer, f: HubFile, s: Settings): DownloadError {
  const code = header(a, 'x-error-code');
  const said = header(a, 'x-error-message');
  const hub = said ? ` The hub says: "${said}"` : '';
  if (a.status === 401 || a.status === 403) {
    const token = s.token
      ? 'check that the token in HF_TOKEN belongs to that account and may read the repo'
      : 'set HF_TOKEN to an access token of that account (huggingface.co/settings/tokens)';
    const missing =
      code === 'RepoNotFound' ? ` Also check the repo name: the hub answers the same for a missing repo.` : '';
    return new DownloadError(
      'unauthorized',
      `The hub refused ${f.file} of ${f.repo} (HTTP ${a.status}): the repo is gated or private. Sign in at ${s.endpoint}/${f.repo}, accept its licence, and ${token}.${missing}${hub}`,
    );
  }
  if (a.status === 404) {
    const message =
      code === 'RevisionNotFound'
        ? `${f.repo} has no revision "${s.revision}" on the hub`
        : code === 'RepoNotFound'
          ? `There is no repo ${f.repo} on the hub`
          : `${f.repo} has no file ${f.file} (revision ${s.revision}): the model catalog may be out of date`;
    return new DownloadError('not-found', `${message}.${hub}`);
  }
  if (a.status === 429 || a.status >= 500) {
    return new DownloadError(
      'server',
      `The hub answered HTTP ${a.status} for ${f.file} of ${f.repo}: it is busy or down. Try again in a few minutes; the download resumes where it stopped.${hub}`,
      { retryable: true },
    );
  }
  return new DownloadError('server', `The hub answered HTTP ${a.status} for ${f.file} of ${f.repo}.${hub}`);
}

const cancelled = (f: HubFile) =>
  new DownloadError(
    'cancelled',
    `The download of ${f.file} was cancelled; what arrived is kept, and the next download resumes from there.`,
  );

/** Turns whatever an attempt threw into a DownloadError, except local file errors, whose own message names the path. */
async function guard<T>(f: HubFile, s: Settings, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (s.signal?.aborted) throw cancelled(f);
    if (e instanceof DownloadError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOSPC') {
      const message = `The disk filled up while downloading ${f.file}: free up space and try again.`;
      throw new DownloadError('no-space', message, { cause: e });
    }
    if (typeof err.path === 'string') throw e;
    const why = e instanceof StallError ? 'the connection stalled' : (err.code ?? err.message);
    throw new DownloadError(
      'network',
      `Downloading ${f.file} of ${f.repo} failed (${why}, talking to ${new URL(s.endpoint).host}): check the internet connection and try again; the download resumes where it stopped.`,
      { cause: e, retryable: true },
    );
  }
}

async function withRetries<T>(
  f: HubFile,
  s: Settings,
  attempt: () => Promise<T>,
  mark: () => Promise<number> = async () => 0,
): Promise<T> {
  for (let n = 0; ; n++) {
    const before = await mark();
    try {
      return await guard(f, s, attempt);
    } catch (e) {
      if (!(e instanceof DownloadError && e.retryable) || n >= s.retries) throw e;
      // A connection that dropped after delivering data is retried at once; a failing server gets time.
      if ((await mark()) <= before) {
        await guard(f, s, () => sleep(RETRY_BASE_MS * 2 ** n, undefined, { signal: s.signal }));
      }
    }
  }
}

async function sizeOf(p: string): Promise<number> {
  try {
    return (await fs.stat(p)).size;
  } catch {
    return 0;
  }
}

async function hashInto(hash: Hash, file: string, signal?: AbortSignal, end?: number): Promise<Hash> {
  for await (const chunk of createReadStream(file, { signal, end })) hash.update(chunk as Buffer);
  return hash;
}

const sha256Of = async (file: string, signal?: AbortSignal) =>
  (await hashInto(createHash('sha256'), file, signal)).digest('hex');

function reporter(total: number, onProgress: ((p: DownloadProgress) => void) | undefined) {
  const samples: Array<[time: number, received: number]> = [];
  let lastEmit = Number.NEGATIVE_INFINITY;
  return (file: string, received: number, final = false) => {
    if (!onProgress) return;
    const now = performance.now();
    if (!final && now - lastEmit < PROGRESS_INTERVAL_MS) return;
    lastEmit = now;
    if (received < (samples.at(-1)?.[1] ?? 0)) samples.length = 0; // restarted from zero: the old speed says nothing
    samples.push([now, received]);
    while (samples.length > 2 && now - samples[0]![0] > SPEED_WINDOW_MS) samples.shift();
    const [t0, r0] = samples[0]!;
    const bytesPerSecond = now > t0 ? ((received - r0) * 1000) / (now - t0) : 0;
    const etaSeconds = bytesPerSecond > 0 ? (total - received) / bytesPerSecond : received >= total ? 0 : null;
    onProgress({ file, received, total, bytesPerSecond, etaSeconds });
  };
}

/** Bytes still to fetch for a file: none if the destination is complete, less what a .part already holds. */
async function stillNeeded(dest: string, size: number): Promise<number> {
  if ((await sizeOf(dest)) === size) return 0;
  return size - Math.min(await sizeOf(`${dest}.part`), size);
}

async function ensureSpace(dir: string, needed: number, s: Settings): Promise<void> {
  if (needed <= 0) return;
  let probe = path.resolve(dir);
  while (path.dirname(probe) !== probe && !(await fs.stat(probe).catch(() => null))) probe = path.dirname(probe);
  const st = await s.statfs(probe);
  const free = st.bavail * st.bsize;
  if (needed + SPACE_MARGIN > free) {
    throw new DownloadError(
      'no-space',
      `Not enough disk space: the download needs ${formatBytes(needed + SPACE_MARGIN)} (${formatBytes(SPACE_MARGIN)} of it to spare), ${formatBytes(free)} free on ${probe}. Free up space or choose another folder.`,
    );
  }
}

function contentRange(a: Answer): { start: number; total: number | null } | null {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header(a, 'content-range') ?? '');
  return m ? { start: Number(m[1]), total: m[2] === '*' ? null : Number(m[2]) } : null;
}

/** One attempt: resume or start the .part, stream the rest into it while hashing, verify, rename. */
async function attempt(
  f: HubFile,
  dest: string,
  info: HubFileInfo,
  want: string | null,
  s: Settings,
  report: (received: number) => void,
): Promise<DownloadResult> {
  const part = `${dest}.part`;
  let offset = await sizeOf(part);
  if (offset > info.size) {
    await fs.rm(part, { force: true });
    offset = 0;
  }
  let hash = createHash('sha256');
  if (offset > 0) await hashInto(hash, part, s.signal, offset - 1);
  if (offset < info.size) {
    const headers = requestHeaders(s);
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const a = await follow(new URL(info.url), 'GET', headers, s.signal, s.idleTimeoutMs);
    const range = a.status === 206 ? contentRange(a) : null;
    if (a.status === 200) {
      offset = 0; // the server ignored Range: start over
      hash = createHash('sha256');
    } else if (!range || range.start !== offset || (range.total !== null && range.total !== info.size)) {
      a.res.destroy();
      if (a.status !== 206 && a.status !== 416) throw statusError(a, f, s);
      await fs.rm(part, { force: true });
      throw new DownloadError(
        'server',
        `${a.url.host} answered a resumed download of ${f.file} with the wrong bytes; it starts over.`,
        { retryable: true },
      );
    }
    // Each chunk is on disk before the next is read: whatever stops the transfer, the .part holds exactly what
    // arrived, ready to resume.
    const out = await fs.open(part, offset > 0 ? 'a' : 'w');
    try {
      let received = offset;
      report(received);
      for await (const chunk of a.res as AsyncIterable<Buffer>) {
        await out.write(chunk);
        hash.update(chunk);
        received += chunk.length;
        report(received);
      }
      await out.sync(); // before the rename below publishes the file
    } finally {
      await out.close();
    }
  }
  const size = await sizeOf(part);
  if (size < info.size) {
    throw new DownloadError('network', `The connection ended early while downloading ${f.file}; it resumes.`, {
      retryable: true,
    });
  }
  if (size > info.size) {
    await fs.rm(part, { force: true });
    throw new DownloadError(
      'size-mismatch',
      `${f.file} of ${f.repo} arrived with ${size} bytes, but the hub says ${info.size}: the partial file was deleted, download it again.`,
    );
  }
  const sha256 = hash.digest('hex');
  if (want && sha256 !== want) {
    await fs.rm(part, { force: true });
    // The resumed bytes may be those of an older version of the file: one fresh download settles it.
    if (offset > 0) return attempt(f, dest, info, want, s, report);
    if (f.sha256) {
      throw new DownloadError(
        'checksum-mismatch',
        `${f.file} of ${f.repo} does not match ${pinName(f.pin)}: expected sha256 ${shortHash(want)}, got ${shortHash(sha256)}. It was deleted. ${changedAdvice(f.pin)}`,
      );
    }
    throw new DownloadError(
      'checksum-mismatch',
      `${f.file} of ${f.repo} is corrupt (SHA-256 ${sha256}, expected ${want}): it was deleted, download it again.`,
    );
  }
  await fs.rename(part, dest);
  return { path: dest, size, sha256, resumedFrom: offset, reused: false };
}

/** The first hex digits of a hash, enough for a person to compare: `ab12cd34ef56…`. */
export const shortHash = (h: string) => `${h.toLowerCase().slice(0, 12)}…`;

const pinName = (pin: Pin | undefined) =>
  pin === 'first-use' ? 'the copy first downloaded' : "the reviewed build in Glance's catalog";

const changedAdvice = (pin: Pin | undefined) =>
  pin === 'first-use'
    ? 'The file changed since the model was first downloaded: if that is expected, remove the model and download it again to accept the new version.'
    : 'Check GLANCE_HUB_ENDPOINT / HF_ENDPOINT if you use a mirror; otherwise the file changed upstream: update Glance.';

async function download(
  f: HubFile,
  dest: string,
  info: HubFileInfo,
  s: Settings,
  report: (received: number, final?: boolean) => void,
): Promise<DownloadResult> {
  // A server offering another build of a pinned file would fail only after the whole download; say so now.
  if (f.sha256 && info.sha256 && f.sha256.toLowerCase() !== info.sha256) {
    throw new DownloadError(
      'checksum-mismatch',
      `${f.file} of ${f.repo} on ${new URL(s.endpoint).host} does not match ${pinName(f.pin)}: expected sha256 ${shortHash(f.sha256)}, the server offers ${shortHash(info.sha256)}. Nothing was downloaded. ${changedAdvice(f.pin)}`,
    );
  }
  if (f.size !== undefined && f.size !== info.size) {
    throw new DownloadError(
      'size-mismatch',
      `${f.file} of ${f.repo} changed on the hub (${info.size} bytes there, ${f.size} expected by Glance's catalog): update Glance.`,
    );
  }
  const want = f.sha256?.toLowerCase() ?? info.sha256;
  if (want && (await sizeOf(dest)) === info.size && (await guard(f, s, () => sha256Of(dest, s.signal))) === want) {
    report(info.size, true);
    return { path: dest, size: info.size, sha256: want, resumedFrom: info.size, reused: true };
  }
  await ensureSpace(path.dirname(dest), await stillNeeded(dest, info.size), s);
  await fs.mkdir(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const result = await withRetries(
    f,
    s,
    () => attempt(f, dest, info, want, s, report),
    () => sizeOf(part),
  );
  report(info.size, true);
  return result;
}

/** Downloads one file to `destPath` (resuming `destPath.part`), verified, or reuses it if it is already there. */
export async function downloadFile(f: HubFile, destPath: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const s = settings(opts);
  const info = await withRetries(f, s, () => infoOf(f, s));
  const report = reporter(info.size, opts.onProgress);
  return download(f, destPath, info, s, (received, final) => report(f.file, received, final));
}

function destinationIn(destDir: string, f: HubFile): string {
  const root = path.resolve(destDir);
  const dest = path.resolve(root, ...f.file.split('/'));
  if (!dest.startsWith(root + path.sep)) throw new Error(`${f.file} of ${f.repo} would land outside ${destDir}`);
  return dest;
}

/**
 * Downloads a set of files into `destDir` (repo paths kept: `onnx/model.onnx` lands in `destDir/onnx/`). Asks the hub
 * about every file first, so that a missing or gated one fails the set before gigabytes arrive, and checks that the
 * disk has room for all of it.
 */
export async function downloadAll(
  files: HubFile[],
  destDir: string,
  opts: DownloadAllOptions = {},
): Promise<DownloadResult[]> {
  const s = settings(opts);
  const dests = files.map((f) => destinationIn(destDir, f));
  const infos = await Promise.all(files.map((f) => withRetries(f, s, () => infoOf(f, s))));
  let needed = 0;
  for (const [i, info] of infos.entries()) needed += await stillNeeded(dests[i]!, info.size);
  await ensureSpace(destDir, needed, s);
  const report = reporter(
    infos.reduce((sum, info) => sum + info.size, 0),
    opts.onProgress,
  );
  const results: DownloadResult[] = [];
  let done = 0;
  for (const [i, f] of files.entries()) {
    const info = infos[i]!;
    const result = await download(f, dests[i]!, info, s, (received, final) => report(f.file, done + received, final));
    done += info.size;
    results.push(result);
    opts.onFile?.(f, result);
  }
  return results;
}

/**
 * Checks a file on disk against a size and SHA-256; the reason says what is wrong, for the person. With `pin`, the
 * hash is a pin (the catalog's reviewed build, or the first download's record) and a mismatch says so, bytes of
 * another size included.
 */
export async function verifyFile(
  file: string,
  expected: { size?: number; sha256?: string; pin?: Pin },
): Promise<{ ok: true } | { ok: false; reason: string }> {
  let size: number;
  try {
    size = (await fs.stat(file)).size;
  } catch {
    return { ok: false, reason: `${file} is missing` };
  }
  if (expected.pin && expected.sha256) {
    const sha256 = await sha256Of(file);
    if (sha256 === expected.sha256.toLowerCase()) return { ok: true };
    return {
      ok: false,
      reason: `${file} does not match ${pinName(expected.pin)}: expected sha256 ${shortHash(expected.sha256)}, got ${shortHash(sha256)}: delete it or download again`,
    };
  }
  if (expected.size !== undefined && size !== expected.size) {
    return { ok: false, reason: `${file} has ${size} bytes, expected ${expected.size}: download it again` };
  }
  if (expected.sha256) {
    const sha256 = await sha256Of(file);
    if (sha256 !== expected.sha256.toLowerCase()) {
      return {
        ok: false,
        reason: `${file} is corrupt (SHA-256 ${sha256}, expected ${expected.sha256}): download it again`,
      };
    }
  }
  return { ok: true };
}

// The app's one byte formatter (decimal, as the hub counts), re-exported for this module's callers.
export { formatBytes } from '../../common/format.ts';
