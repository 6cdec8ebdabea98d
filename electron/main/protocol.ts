// Two privileged schemes, both served by the main process:
//   app://glance/<path>   the app's own pages: the packaged renderer folder, and nothing outside it
//   glance://…            pictures, by id (below)
//
// The glance:// scheme: how the window shows pictures without ever naming a file. Three kinds of URL only:
//   glance://thumb/<photo id>         the 256 px WebP thumbnail of a library photo
//   glance://attachment/<sha256 hex>  an image stored for a chat message
//   glance://capture/<32 hex>         screenshot-and-ask's frozen screen or its crop, held in memory
// The file comes from a resolver (the engine's index), never from the URL; anything else is a 404 before any
// file is touched.
import fs from 'node:fs';
import { readFile as fsReadFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Protocol } from 'electron';

export const GLANCE_SCHEME = 'glance';

/** The scheme of the app's own pages (never file://: a file page could read every other file). */
export const APP_SCHEME = 'app';
/** The one host of the app scheme; `app://glance` is the app's origin. */
export const APP_HOST = 'glance';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/** The URL of the renderer's page, with the view in the hash (`app://glance/index.html#ask`). */
export function appPageUrl(hash?: string): string {
  return `${APP_ORIGIN}/index.html${hash ? `#${hash}` : ''}`;
}

/**
 * Must run before the app is ready, and only once (Electron keeps one list): both schemes in one call. Standard
 * (so URLs parse like http ones, relative references work and app://glance is an origin of its own), secure (so
 * the page does not count as mixed content and gets a secure context) and fetchable. Neither bypasses the CSP.
 */
export function registerSchemes(protocol: Pick<Protocol, 'registerSchemesAsPrivileged'>): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
    { scheme: GLANCE_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

/** Finds the file behind an id; null when there is none. The main process asks the engine. */
export interface GlanceResolvers {
  thumbnail(photoId: number): Promise<string | null>;
  attachment(hash: string): Promise<string | null>;
  /** The bytes of a screen capture by id (never a file); absent: no capture is served. */
  capture?(id: string): Promise<Uint8Array | null>;
}

export type GlanceRoute =
  | { kind: 'thumb'; photoId: number }
  | { kind: 'attachment'; hash: string }
  | { kind: 'capture'; id: string };

// Matched against the whole URL as it arrives: no query, no fragment, no user info, no port, no extra segment,
// no percent-encoding anywhere. Chromium lower-cases the host of a standard scheme, so the host is matched as is.
const THUMB = /^glance:\/\/thumb\/([1-9][0-9]{0,15})$/i;
const ATTACHMENT = /^glance:\/\/attachment\/([0-9a-f]{64})$/i;
const CAPTURE = /^glance:\/\/capture\/([0-9a-f]{32})$/;

/** The route of a glance:// URL, or null for anything that is not exactly one of the two forms. */
export function parseGlanceUrl(url: string): GlanceRoute | null {
  const thumb = THUMB.exec(url);
  if (thumb) {
    const photoId = Number(thumb[1]);
    return Number.isSafeInteger(photoId) ? { kind: 'thumb', photoId } : null;
  }
  const attachment = ATTACHMENT.exec(url);
  // Hashes are stored in lower case (Node's hex digest); an upper-case one is not a name Glance gave out.
  if (attachment && /^[0-9a-f]+$/.test(attachment[1]!)) return { kind: 'attachment', hash: attachment[1]! };
  // Capture ids are random lower-case hex, handed out by the capture flow.
  const capture = CAPTURE.exec(url);
  if (capture) return { kind: 'capture', id: capture[1]! };
  return null;
}

/** The image type of some bytes, from their signature: the extension of a file is not trusted. */
export function imageType(bytes: Uint8Array): string | null {
  const at = (i: number, ...b: number[]) => b.every((v, k) => bytes[i + k] === v);
  if (at(0, 0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'image/webp';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'image/gif';
  return null;
}

export interface ServeOptions {
  /** How the file is read; a seam for tests. */
  readFile?: (file: string) => Promise<Uint8Array>;
}

const notFound = () =>
  new Response('not found', {
    status: 404,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' },
  });

/** Answers one glance:// request. */
export async function serveGlance(
  request: Pick<Request, 'url' | 'method'>,
  resolvers: GlanceResolvers,
  o: ServeOptions = {},
): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return notFound();
  const route = parseGlanceUrl(request.url);
  if (!route) return notFound();
  if (route.kind === 'capture') {
    let bytes: Uint8Array | null;
    try {
      bytes = (await resolvers.capture?.(route.id)) ?? null;
    } catch {
      return notFound();
    }
    if (!bytes || imageType(bytes) !== 'image/png') return notFound();
    return new Response(request.method === 'HEAD' ? null : (bytes as Uint8Array<ArrayBuffer>), {
      status: 200,
      headers: {
        'Content-Type': 'image/png',
        'Content-Length': String(bytes.byteLength),
        'X-Content-Type-Options': 'nosniff',
        // A screenshot must not outlive the flow that made it: nothing is kept in a cache.
        'Cache-Control': 'no-store',
      },
    });
  }
  let file: string | null;
  try {
    file = route.kind === 'thumb' ? await resolvers.thumbnail(route.photoId) : await resolvers.attachment(route.hash);
  } catch {
    // The engine is restarting or the id is unknown to it: the picture is not there, for now.
    return notFound();
  }
  if (!file) return notFound();
  let bytes: Uint8Array;
  try {
    bytes = await (o.readFile ?? fsReadFile)(file);
  } catch {
    return notFound(); // a thumbnail not written yet, an attachment deleted with its conversation
  }
  const type = imageType(bytes);
  if (!type) return notFound(); // only pictures leave through this door, whatever a resolver answers
  return new Response(request.method === 'HEAD' ? null : (bytes as Uint8Array<ArrayBuffer>), {
    status: 200,
    headers: {
      'Content-Type': type,
      'Content-Length': String(bytes.byteLength),
      'X-Content-Type-Options': 'nosniff',
      // An attachment's name is its content: it never changes. A photo's thumbnail changes when the photo does.
      'Cache-Control': route.kind === 'attachment' ? 'private, max-age=31536000, immutable' : 'private, no-cache',
    },
  });
}

/** Serves glance:// in a session (its `protocol`); call once the app is ready. */
export function handleGlanceProtocol(
  protocol: Pick<Protocol, 'handle'>,
  resolvers: GlanceResolvers,
  o: ServeOptions = {},
): void {
  protocol.handle(GLANCE_SCHEME, (request) => serveGlance(request, resolvers, o));
}

// ---- app://glance/: the renderer folder ----

/** The types of what Vite puts in the renderer folder; anything else goes out as bytes, never sniffed. */
const APP_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
};

/** NUL and the other C0 controls, and DEL. */
const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

export type AppPath = { ok: true; segments: string[] } | { ok: false; status: 403 | 404 };

// The origin and the raw path, matched on the URL as it arrives (before any parser resolves dot segments or
// decodes anything): scheme and host only, no user info, no port. Query and fragment never name a file.
const APP_URL = /^app:\/\/glance(\/[^?#]*)?(?:\?[^#]*)?(?:#.*)?$/i;

/**
 * The path segments an app:// URL names inside the renderer folder, checked on the raw text: refused are dot
 * segments (plain or percent-encoded), encoded separators (%2f, %5c), any encoded percent sign (double encoding),
 * backslashes, NUL and other control characters, empty segments (`//etc/passwd`, an absolute path) and drive
 * letters or other colons (`C:`). `/` alone is index.html. Chromium resolves dot segments in the URLs of standard
 * schemes before the handler sees them; this does not rely on it.
 */
export function appPathOf(url: string): AppPath {
  const m = APP_URL.exec(url);
  if (!m) return { ok: false, status: 404 };
  const raw = m[1] ?? '/';
  if (raw === '/') return { ok: true, segments: ['index.html'] };
  if (raw.includes('\\') || hasControl(raw)) return { ok: false, status: 403 };
  if (/%(?:2f|5c|25|2e|00)/i.test(raw)) return { ok: false, status: 403 };
  const segments: string[] = [];
  for (const encoded of raw.slice(1).split('/')) {
    let s: string;
    try {
      s = decodeURIComponent(encoded);
    } catch {
      return { ok: false, status: 403 }; // a malformed escape
    }
    if (s === '' || s === '.' || s === '..' || /[/\\:]/.test(s) || hasControl(s)) return { ok: false, status: 403 };
    segments.push(s);
  }
  return { ok: true, segments };
}

/** What serveApp needs: the renderer folder and the policy its pages get, as a response header. */
export interface AppServeOptions {
  /** The packaged renderer folder (absolute). Only files whose real path is inside it are served. */
  rootDir: string;
  /** The Content-Security-Policy of the app's pages (security.ts's CSP). */
  csp: string;
}

// Electron's asar support patches the callback functions of `fs`; looked up at call time, so that it applies.
const realpath = (p: string) => promisify(fs.realpath)(p);
const stat = (p: string) => promisify(fs.stat)(p);
const readAppFile = (p: string) => promisify(fs.readFile)(p);

function refusal(status: 403 | 404, csp: string): Response {
  return new Response(status === 403 ? 'forbidden' : 'not found', {
    status,
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
    },
  });
}

const inside = (root: string, file: string) => {
  const rel = path.relative(root, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
};

/**
 * Answers one app:// request from the renderer folder: the file, its type and the CSP header; 403 for a path
 * that tries to leave the folder (by name or by a link), 404 for anything that is not a file in it.
 */
export async function serveApp(request: Pick<Request, 'url' | 'method'>, o: AppServeOptions): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return refusal(404, o.csp);
  const parsed = appPathOf(request.url);
  if (!parsed.ok) return refusal(parsed.status, o.csp);
  const root = path.resolve(o.rootDir);
  const file = path.join(root, ...parsed.segments);
  if (!inside(root, file)) return refusal(403, o.csp);
  let bytes: Uint8Array;
  try {
    // Links are followed, then checked: the real file must be inside the real folder.
    const [realRoot, realFile] = await Promise.all([realpath(root), realpath(file)]);
    if (!inside(realRoot, realFile)) return refusal(403, o.csp);
    if (!(await stat(realFile)).isFile()) return refusal(404, o.csp);
    bytes = await readAppFile(realFile);
  } catch {
    return refusal(404, o.csp);
  }
  const type = APP_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  return new Response(request.method === 'HEAD' ? null : (bytes as Uint8Array<ArrayBuffer>), {
    status: 200,
    headers: {
      'Content-Type': type,
      'Content-Length': String(bytes.byteLength),
      'Content-Security-Policy': o.csp,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
    },
  });
}

/** Serves app:// from the renderer folder in a session (its `protocol`); call once the app is ready. */
export function handleAppProtocol(protocol: Pick<Protocol, 'handle'>, o: AppServeOptions): void {
  protocol.handle(APP_SCHEME, (request) => serveApp(request, o));
}
