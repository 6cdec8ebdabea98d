// The glance:// scheme: how the window shows pictures without ever naming a file. Three kinds of URL only:
//   glance://thumb/<photo id>         the 256 px WebP thumbnail of a library photo
//   glance://attachment/<sha256 hex>  an image stored for a chat message
//   glance://capture/<32 hex>         screenshot-and-ask's frozen screen or its crop, held in memory
// The file comes from a resolver (the engine's index), never from the URL; anything else is a 404 before any
// file is touched.
import { readFile as fsReadFile } from 'node:fs/promises';
import type { Protocol } from 'electron';

export const GLANCE_SCHEME = 'glance';

/**
 * Must run before the app is ready. Standard (so URLs parse like http ones and relative references work), secure
 * (so the page does not count it as mixed content) and fetchable. Not CSP-bypassing: the page's img-src names it.
 */
export function registerGlanceScheme(protocol: Pick<Protocol, 'registerSchemesAsPrivileged'>): void {
  protocol.registerSchemesAsPrivileged([
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
