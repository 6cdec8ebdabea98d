// A worker thread of heif-pool.ts: decodes HEIC/HEIF files with wasm libheif, one at a time, and sends the pixels
// back (transferred, not copied). Errors go back as their code and message, to be raised again as ImageError.
import { parentPort } from 'node:worker_threads';
import { ImageError } from '../errors.ts';
import { decodeHeif, type ThumbnailNeed } from './heif.ts';

export interface HeifJob {
  id: number;
  bytes: Uint8Array;
  what: string;
  maxPixels: number;
  thumbnail?: ThumbnailNeed;
}

export type HeifReply =
  | { id: number; ok: true; width: number; height: number; data: Uint8Array; full?: { width: number; height: number } }
  | { id: number; ok: false; code?: string; message: string };

if (!parentPort) throw new Error('heif-worker.ts runs as a worker thread of heif-pool.ts');
const port = parentPort;
port.on('message', (job: HeifJob) => {
  let reply: HeifReply;
  try {
    const { image, full } = decodeHeif(job.bytes, job.what, job.maxPixels, job.thumbnail);
    reply = { id: job.id, ok: true, ...image, ...(full ? { full } : {}) };
  } catch (err) {
    reply =
      err instanceof ImageError
        ? { id: job.id, ok: false, code: err.code, message: err.message }
        : { id: job.id, ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply, reply.ok ? [reply.data.buffer as ArrayBuffer] : []);
});
