// Bare HTTP(S) requests for the hub client, on node:http so that redirects, Range and cancellation stay in our hands.
import http from 'node:http';
import https from 'node:https';
import { DownloadError } from './errors.ts';

export type Headers = Record<string, string>;

export interface Answer {
  res: http.IncomingMessage;
  status: number;
  /** The URL that gave this answer, after any redirects. */
  url: URL;
}

const MAX_REDIRECTS = 5;

/** This machine by name or address: the one place plain http:// is allowed (a local mirror, the tests' fake hub). */
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
export const isLoopback = (url: URL): boolean => LOOPBACK.has(url.hostname.toLowerCase());

/** https://, or http:// to this machine: model bytes never cross a network in the clear. */
export const isSecure = (url: URL): boolean =>
  url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url));

export class StallError extends Error {
  override readonly name = 'StallError';
}

export function request(
  url: URL,
  method: 'GET' | 'HEAD',
  headers: Headers,
  signal: AbortSignal | undefined,
  idleTimeoutMs: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (!lib) return reject(new Error(`unsupported protocol in ${url.href}`));
    let response: http.IncomingMessage | undefined;
    const req = lib.request(url, { method, headers, signal }, (res) => {
      response = res;
      resolve({ res, status: res.statusCode ?? 0, url });
    });
    // A socket that goes quiet, before or during the body, is as good as dropped; the body's reader hears why.
    req.setTimeout(idleTimeoutMs, () => {
      const stall = new StallError(`no data from ${url.host} for ${idleTimeoutMs} ms`);
      response?.destroy(stall);
      req.destroy(stall);
    });
    req.on('error', reject);
    req.end();
  });
}

function location(a: Answer): URL | null {
  const loc = a.res.headers.location;
  return a.status >= 300 && a.status < 400 && loc ? new URL(loc, a.url) : null;
}

/**
 * Follows redirects (relative and absolute) until `stop` says an answer is the one. The Authorization header is
 * dropped when a redirect leaves the origin: the hub's token must never reach a CDN or a third party.
 */
export async function follow(
  url: URL,
  method: 'GET' | 'HEAD',
  headers: Headers,
  signal: AbortSignal | undefined,
  idleTimeoutMs: number,
  stop: (a: Answer) => boolean = () => false,
): Promise<Answer> {
  let h = { ...headers };
  let current = url;
  for (let hop = 0; ; hop++) {
    const a = await request(current, method, h, signal, idleTimeoutMs);
    const next = location(a);
    if (!next || stop(a)) return a;
    a.res.resume();
    if (hop === MAX_REDIRECTS) {
      throw new DownloadError('server', `${url.host} redirected more than ${MAX_REDIRECTS} times for ${url.pathname}`);
    }
    // A hub on https:// must not hand the download to a plain-http CDN that anyone on the way can answer for.
    if (!isSecure(next)) {
      throw new DownloadError(
        'insecure-endpoint',
        `${current.host} redirected ${url.pathname} to ${next.protocol}//${next.host}: Glance downloads models only over https:// (plain http:// only from this machine), so it stopped.`,
      );
    }
    if (next.origin !== current.origin) {
      const { Authorization: _, ...rest } = h;
      h = rest;
    }
    current = next;
  }
}
