// The HEIC/HEIF decoding pool: wasm libheif takes about 2 s of CPU for a 12 MP photo, which on the engine's event
// loop would stall chat tokens and progress, and would use one core. Here each decode runs in a worker thread, as
// many workers as the machine has cores, shared by everything that decodes images (indexer, classify, chat
// attachments). Pure wasm in the workers (never native model inference: see the design notes).
// Workers start on demand, are unref'd while idle (a CLI that is done exits: no hanging process) and end after a
// while without work, which gives their wasm memory back.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ImageError, type ImageErrorCode } from '../errors.ts';
import type { RawImage } from './bmp.ts';
import { decodeHeif, type ThumbnailNeed } from './heif.ts';
import type { HeifJob, HeifReply } from './heif-worker.ts';

/** An idle worker ends after this long without work. */
export const IDLE_EXIT_MS = 30_000;

export interface HeifResult {
  image: RawImage;
  /** Set when the image is the file's thumbnail item: the size of the full picture. */
  full?: { width: number; height: number };
}

interface Pending {
  job: HeifJob;
  resolve: (r: HeifResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | null;
  idleTimer: NodeJS.Timeout | null;
}

// From the TypeScript sources (the CLI and tests run under tsx), a worker compiles heif-worker.ts through tsx's
// loader, as bin/glance.js does for the main thread; from the engine bundle it runs the bundled heif-worker.js.
const BOOTSTRAP = `
import('node:worker_threads')
  .then(({ workerData }) => import(workerData.tsx).then((tsx) => { tsx.register(); return import(workerData.entry); }))
  .catch((err) => {
    process.stderr.write('glance: the HEIC decoder thread could not start: ' + (err && err.stack || err) + '\\n');
    process.exit(1);
  });
`;

/**
 * How a worker starts here, or null when this build has no worker script. The engine bundle (.vite/build/engine.js,
 * an ES module, so import.meta.url is the bundle's own URL) finds heif-worker.js beside it: forge.config.ts and
 * `npm run build:entries` build it there from vite.heif-worker.config.ts. Without that file (a bundle built alone)
 * HEIF files decode on the calling thread.
 */
function workerSource(): (() => Worker) | null {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // tsx/esm/api's ESM build (its CommonJS build cannot register from a worker); tsx/esm itself only registers on
    // the main thread
    const tsx = pathToFileURL(path.join(path.dirname(createRequire(here).resolve('tsx/esm')), 'api', 'index.mjs')).href;
    const workerData = { tsx, entry: new URL('./heif-worker.ts', here).href };
    return () => new Worker(BOOTSTRAP, { eval: true, workerData });
  }
  const bundled = new URL('./heif-worker.js', here);
  return existsSync(fileURLToPath(bundled)) ? () => new Worker(bundled) : null;
}

export class HeifPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private readonly start = workerSource();
  /** How many decodes ran in a worker: for tests and benchmarks. */
  decodes = 0;

  constructor(
    readonly size = Math.max(1, availableParallelism()),
    private readonly idleExitMs = IDLE_EXIT_MS,
  ) {}

  /** Decodes a HEIC/HEIF file in a worker; rejects with the ImageError the decoder raised. */
  decode(bytes: Uint8Array, what: string, maxPixels: number, thumbnail?: ThumbnailNeed): Promise<HeifResult> {
    if (!this.start) return Promise.resolve().then(() => decodeHeif(bytes, what, maxPixels, thumbnail));
    return new Promise((resolve, reject) => {
      const job: HeifJob = { id: this.nextId++, bytes, what, maxPixels, ...(thumbnail ? { thumbnail } : {}) };
      this.queue.push({ job, resolve, reject });
      this.pump();
    });
  }

  /** Workers alive now (idle or busy). */
  get workers(): number {
    return this.slots.length;
  }

  /** Ends every worker; decodes in flight or queued are refused. The pool starts new workers if used again. */
  async close(): Promise<void> {
    const closing = new Error('the HEIC decoder was shut down');
    for (const p of this.queue.splice(0)) p.reject(closing);
    const slots = this.slots.splice(0);
    for (const s of slots) {
      if (s.idleTimer) clearTimeout(s.idleTimer);
      s.busy?.reject(closing);
      s.busy = null;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const next = this.queue.shift()!;
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      slot.idleTimer = null;
      slot.busy = next;
      slot.worker.ref(); // a decode in flight keeps the process alive
      slot.worker.postMessage(next.job);
    }
  }

  private spawn(): Slot {
    const slot: Slot = { worker: this.start!(), busy: null, idleTimer: null };
    slot.worker.unref();
    slot.worker.on('message', (reply: HeifReply) => {
      const p = slot.busy;
      slot.busy = null;
      this.idle(slot);
      if (p && p.job.id === reply.id) {
        this.decodes++;
        if (reply.ok) {
          const image = { data: reply.data, width: reply.width, height: reply.height };
          p.resolve(reply.full ? { image, full: reply.full } : { image });
        } else {
          p.reject(reply.code ? new ImageError(reply.code as ImageErrorCode, reply.message) : new Error(reply.message));
        }
      }
      this.pump();
    });
    const fail = (err: Error) => {
      this.drop(slot);
      slot.busy?.reject(new Error(`the HEIC decoder thread failed: ${err.message}`, { cause: err }));
      slot.busy = null;
      this.pump();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => {
      if (this.slots.includes(slot)) fail(new Error(`it exited with code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }

  private idle(slot: Slot): void {
    slot.worker.unref();
    slot.idleTimer = setTimeout(() => {
      this.drop(slot);
      void slot.worker.terminate();
    }, this.idleExitMs);
    slot.idleTimer.unref();
  }

  private drop(slot: Slot): void {
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }
}

let shared: HeifPool | undefined;

/** The process's pool, shared by every caller. */
export function heifPool(): HeifPool {
  shared ??= new HeifPool();
  return shared;
}
