// glance:// serves thumbnails and attachments by id, through resolvers, and nothing else; app://glance/ serves the
// renderer folder, and nothing outside it.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Protocol } from 'electron';
import { describe, expect, it, vi } from 'vitest';
import {
  APP_ORIGIN,
  appPageUrl,
  appPathOf,
  type GlanceResolvers,
  handleAppProtocol,
  handleGlanceProtocol,
  imageType,
  parseGlanceUrl,
  registerSchemes,
  serveApp,
  serveGlance,
} from '../../electron/main/protocol.ts';
import { CSP } from '../../electron/main/security.ts';

vi.mock('electron', () => ({}));

const dir = mkdtempSync(path.join(os.tmpdir(), 'glance-protocol-'));
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), Buffer.alloc(20, 7)]);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(20, 1)]);
const thumbFile = path.join(dir, 'thumb.webp');
const attachmentFile = path.join(dir, 'a.png');
const notAnImage = path.join(dir, 'secret.txt');
writeFileSync(thumbFile, WEBP);
writeFileSync(attachmentFile, PNG);
writeFileSync(notAnImage, 'password=hunter2');
const HASH = 'ab'.repeat(32);

function setup(files: { thumb?: string | null; attachment?: string | null } = {}) {
  const resolvers = {
    thumbnail: vi.fn(async (_id: number) => (files.thumb === undefined ? thumbFile : files.thumb)),
    attachment: vi.fn(async (_hash: string) => (files.attachment === undefined ? attachmentFile : files.attachment)),
  } satisfies GlanceResolvers;
  const read = vi.fn((file: string) => readFile(file));
  const get = (url: string, method = 'GET') => serveGlance({ url, method }, resolvers, { readFile: read });
  return { resolvers, read, get };
}

describe('scheme registration', () => {
  it('app: and glance: in one call: standard, secure and fetchable, and neither bypasses the CSP', () => {
    const protocol = { registerSchemesAsPrivileged: vi.fn() } satisfies Pick<Protocol, 'registerSchemesAsPrivileged'>;
    registerSchemes(protocol);
    expect(protocol.registerSchemesAsPrivileged).toHaveBeenCalledTimes(1);
    expect(protocol.registerSchemesAsPrivileged).toHaveBeenCalledWith([
      { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } },
      { scheme: 'glance', privileges: { standard: true, secure: true, supportFetchAPI: true } },
    ]);
  });

  it('handles the scheme through serveGlance', async () => {
    const protocol = { handle: vi.fn() } satisfies Pick<Protocol, 'handle'>;
    const { resolvers } = setup();
    handleGlanceProtocol(protocol, resolvers);
    expect(protocol.handle).toHaveBeenCalledWith('glance', expect.any(Function));
    const handler = protocol.handle.mock.calls[0]![1] as (r: Request) => Promise<Response>;
    const res = await handler(new Request('glance://thumb/3'));
    expect(res.status).toBe(200);
    expect(resolvers.thumbnail).toHaveBeenCalledWith(3);
  });
});

describe('serving', () => {
  it('serves a known thumbnail through the resolver, with its type and caching', async () => {
    const { resolvers, read, get } = setup();
    const res = await get('glance://thumb/42');
    expect(res.status).toBe(200);
    expect(resolvers.thumbnail).toHaveBeenCalledWith(42);
    expect(read).toHaveBeenCalledWith(thumbFile);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(WEBP);
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves a stored attachment by hash, cached for good', async () => {
    const { resolvers, get } = setup();
    const res = await get(`glance://attachment/${HASH}`);
    expect(res.status).toBe(200);
    expect(resolvers.attachment).toHaveBeenCalledWith(HASH);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(PNG);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('cache-control')).toContain('immutable');
  });

  it('answers HEAD without a body', async () => {
    const res = await setup().get('glance://thumb/1', 'HEAD');
    expect(res.status).toBe(200);
    expect(res.body).toBeNull();
    expect(res.headers.get('content-length')).toBe(String(WEBP.length));
  });

  it('is a 404 for an id the resolver does not know, or a file that is gone', async () => {
    const unknown = setup({ thumb: null, attachment: null });
    expect((await unknown.get('glance://thumb/999')).status).toBe(404);
    expect(unknown.resolvers.thumbnail).toHaveBeenCalledWith(999);
    expect(unknown.read).not.toHaveBeenCalled();
    expect((await unknown.get(`glance://attachment/${'0'.repeat(64)}`)).status).toBe(404);
    const gone = setup({ thumb: path.join(dir, 'missing.webp') });
    expect((await gone.get('glance://thumb/1')).status).toBe(404);
  });

  it('is a 404 when the resolver fails (engine restarting)', async () => {
    const { resolvers, get } = setup();
    resolvers.thumbnail.mockRejectedValueOnce(new Error('the engine is restarting'));
    expect((await get('glance://thumb/1')).status).toBe(404);
  });

  it('serves pictures only, whatever file a resolver names', async () => {
    const { get } = setup({ thumb: notAnImage });
    const res = await get('glance://thumb/1');
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('hunter2');
  });

  it.each([
    'glance://thumb/../../etc/passwd',
    'glance://thumb/1%2F..%2F..',
    'glance://thumb/1%2f..%2fsecret',
    'glance://thumb/..%2F..%2Fetc%2Fpasswd',
    'glance://thumb/1?x=../',
    'glance://thumb/1#../',
    'glance://thumb/1/',
    'glance://thumb/1/2',
    'glance://thumb/0',
    'glance://thumb/01',
    'glance://thumb/-1',
    'glance://thumb/1.5',
    'glance://thumb/1e3',
    'glance://thumb/99999999999999999',
    'glance://thumb/',
    'glance://thumb',
    'glance://thumb//etc/passwd',
    'glance://thumb/%31',
    'glance://user@thumb/1',
    'glance://thumb:80/1',
    'glance://other/1',
    'glance://attachment/notahash',
    `glance://attachment/${HASH.slice(1)}`,
    `glance://attachment/${HASH}0`,
    `glance://attachment/${HASH.toUpperCase()}`,
    `glance://attachment/${HASH}?download=1`,
    `glance://attachment/../${HASH}`,
    'glance:///etc/passwd',
    'glance://attachment//etc/passwd',
    'file:///etc/passwd',
    'glance:thumb/1',
  ])('%s is a 404 without a resolver call or a file read', async (url) => {
    const { resolvers, read, get } = setup();
    const res = await get(url);
    expect(res.status).toBe(404);
    expect(resolvers.thumbnail).not.toHaveBeenCalled();
    expect(resolvers.attachment).not.toHaveBeenCalled();
    expect(read).not.toHaveBeenCalled();
  });

  it('refuses methods other than GET and HEAD', async () => {
    const { resolvers, get } = setup();
    expect((await get('glance://thumb/1', 'POST')).status).toBe(404);
    expect(resolvers.thumbnail).not.toHaveBeenCalled();
  });

  it('also holds for URLs as a Request parses them', async () => {
    const { resolvers, read } = setup();
    for (const url of ['glance://thumb/../../etc/passwd', 'glance://thumb/1%2F..%2F..', 'glance://thumb/1?x=../']) {
      const res = await serveGlance(new Request(url), resolvers, { readFile: read });
      expect(res.status, url).toBe(404);
    }
    expect(read).not.toHaveBeenCalled();
  });
});

describe('parsing and sniffing', () => {
  it('parses the two forms exactly', () => {
    expect(parseGlanceUrl('glance://thumb/7')).toEqual({ kind: 'thumb', photoId: 7 });
    expect(parseGlanceUrl(`glance://attachment/${HASH}`)).toEqual({ kind: 'attachment', hash: HASH });
    expect(parseGlanceUrl('glance://thumb/9007199254740991')).toEqual({ kind: 'thumb', photoId: 9007199254740991 });
    expect(parseGlanceUrl('glance://thumb/9007199254740993')).toBeNull();
  });

  it('knows images by their bytes', () => {
    expect(imageType(WEBP)).toBe('image/webp');
    expect(imageType(PNG)).toBe('image/png');
    expect(imageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(imageType(Buffer.from('<svg onload=alert(1)>'))).toBeNull();
    expect(imageType(new Uint8Array())).toBeNull();
  });
});

describe('app://glance/: the renderer folder', () => {
  // <tmp>/renderer is the folder; <tmp>/secret.txt and <tmp>/renderer-evil/ sit beside it.
  const base = mkdtempSync(path.join(os.tmpdir(), 'glance-app-'));
  const rootDir = path.join(base, 'renderer');
  mkdirSync(path.join(rootDir, 'assets'), { recursive: true });
  mkdirSync(path.join(base, 'renderer-evil'));
  const HTML = '<!doctype html><title>Glance</title>';
  writeFileSync(path.join(rootDir, 'index.html'), HTML);
  writeFileSync(path.join(rootDir, 'assets', 'index-abc.js'), 'console.log(1)');
  writeFileSync(path.join(rootDir, 'assets', 'index-abc.css'), 'body{}');
  writeFileSync(path.join(base, 'secret.txt'), 'password=hunter2');
  writeFileSync(path.join(base, 'renderer-evil', 'x.html'), 'evil');
  // links inside the folder: one to a file outside, one to a folder outside, one to a file inside
  symlinkSync(path.join(base, 'secret.txt'), path.join(rootDir, 'leak.txt'));
  symlinkSync(base, path.join(rootDir, 'up'));
  symlinkSync(path.join(rootDir, 'index.html'), path.join(rootDir, 'alias.html'));
  const o = { rootDir, csp: CSP };
  const get = (url: string, method = 'GET') => serveApp({ url, method }, o);

  it('the page URL carries the view in the hash', () => {
    expect(APP_ORIGIN).toBe('app://glance');
    expect(appPageUrl()).toBe('app://glance/index.html');
    expect(appPageUrl('ask')).toBe('app://glance/index.html#ask');
  });

  it('serves a file inside the folder, with its type and the CSP as a header', async () => {
    const res = await get('app://glance/index.html');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(HTML);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const js = await get('app://glance/assets/index-abc.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('content-security-policy')).toBe(CSP);
    expect((await get('app://glance/assets/index-abc.css')).headers.get('content-type')).toBe(
      'text/css; charset=utf-8',
    );
    // the view hash and a query never name a file; `/` is the page
    expect(await (await get('app://glance/index.html#capture')).text()).toBe(HTML);
    expect(await (await get('app://glance/index.html?v=1')).text()).toBe(HTML);
    expect(await (await get('app://glance/')).text()).toBe(HTML);
    // a link that stays inside is followed
    expect(await (await get('app://glance/alias.html')).text()).toBe(HTML);
  });

  it('answers HEAD without a body', async () => {
    const res = await get('app://glance/index.html', 'HEAD');
    expect(res.status).toBe(200);
    expect(res.body).toBeNull();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(HTML)));
  });

  it('through the handler Electron calls', async () => {
    const protocol = { handle: vi.fn() } satisfies Pick<Protocol, 'handle'>;
    handleAppProtocol(protocol, o);
    expect(protocol.handle).toHaveBeenCalledWith('app', expect.any(Function));
    const handler = protocol.handle.mock.calls[0]![1] as (r: Request) => Promise<Response>;
    const res = await handler(new Request('app://glance/index.html'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect((await handler(new Request('app://glance/leak.txt'))).status).toBe(403);
  });

  it.each([
    // dot segments, plain and encoded, and double encoding
    'app://glance/../secret.txt',
    'app://glance/assets/../../secret.txt',
    'app://glance/./index.html',
    'app://glance/%2e%2e/secret.txt',
    'app://glance/%2E%2E/secret.txt',
    'app://glance/.%2e/secret.txt',
    'app://glance/assets/%2e%2e/%2e%2e/secret.txt',
    'app://glance/%252e%252e/secret.txt',
    'app://glance/%252e%252e%252fsecret.txt',
    // encoded separators
    'app://glance/..%2fsecret.txt',
    'app://glance/..%2Fsecret.txt',
    'app://glance/..%5csecret.txt',
    'app://glance/assets%2f..%2f..%2fsecret.txt',
    // backslashes
    'app://glance/..\\secret.txt',
    'app://glance/assets\\..\\..\\secret.txt',
    // absolute paths, and empty segments
    'app://glance//etc/passwd',
    'app://glance/assets/',
    'app://glance/%2fetc/passwd',
    `app://glance/${encodeURIComponent(path.join(base, 'secret.txt'))}`,
    'app://glance/C:/Windows/win.ini',
    'app://glance/C%3a/Windows/win.ini',
    // NUL and other controls
    'app://glance/index.html%00.png',
    'app://glance/index.html\u0000',
    'app://glance/index%01.html',
    // links out of the folder
    'app://glance/leak.txt',
    'app://glance/up/secret.txt',
    'app://glance/up/renderer-evil/x.html',
    // a malformed escape
    'app://glance/%E0%A4%A',
  ])('%s is refused (403) and nothing outside the folder comes back', async (url) => {
    const res = await get(url);
    expect(res.status).toBe(403);
    // refused on the URL's text alone, before any file is looked at; links only once they are followed
    const link = /\/(?:leak\.txt|up\/)/.test(url);
    expect(appPathOf(url).ok).toBe(link);
    const body = await res.text();
    expect(body).not.toContain('hunter2');
    expect(body).not.toContain('evil');
  });

  it.each([
    'app://glance/missing.html',
    'app://glance/assets',
    'app://evil/index.html',
    'app://glance.evil/index.html',
    'app://glance:8080/index.html',
    'app://user@glance/index.html',
    'app:///index.html',
    'app:index.html',
    'file:///etc/passwd',
    'glance://thumb/1',
  ])('%s is a 404', async (url) => {
    const res = await get(url);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-security-policy')).toBe(CSP);
  });

  it('answers GET and HEAD only', async () => {
    expect((await get('app://glance/index.html', 'POST')).status).toBe(404);
  });

  it("checks the raw path, not a parser's resolution of it", () => {
    expect(appPathOf('app://glance/assets/index-abc.js')).toEqual({ ok: true, segments: ['assets', 'index-abc.js'] });
    expect(appPathOf('app://glance/a%20b.png')).toEqual({ ok: true, segments: ['a b.png'] });
    // `new URL` would turn this into /secret.txt, inside the folder: the raw text is what is refused
    expect(new URL('app://glance/assets/../secret.txt').pathname).toBe('/secret.txt');
    expect(appPathOf('app://glance/assets/../secret.txt')).toEqual({ ok: false, status: 403 });
  });

  it('also holds for URLs as a Request parses them', async () => {
    for (const url of ['app://glance/../secret.txt', 'app://glance/%2e%2e/secret.txt', 'app://glance/leak.txt']) {
      const res = await serveApp(new Request(url), o);
      expect(res.status, url).not.toBe(200);
      expect(await res.text()).not.toContain('hunter2');
    }
  });
});
