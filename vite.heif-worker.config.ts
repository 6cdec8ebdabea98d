// The HEIC decoder thread's bundle (.vite/build/heif-worker.js, beside engine.js): native-models/clip/heif-pool.ts
// starts its workers from `new URL('./heif-worker.js', import.meta.url)`, which in the engine bundle is this file;
// without it the engine decodes HEIC on its own event loop. A bundle of its own rather than a second input of the
// engine's build: each process's bundle stays one file (codeSplitting: false allows one input only), and the
// worker, like the engine, leaves heic-decode (libheif-js and its wasm) to node_modules.
import { defineConfig } from 'vite';
import { forgeEntry, nodeBundle } from './vite.main.config.ts';

export const HEIF_WORKER_ENTRY = 'native-models/clip/heif-worker.ts';
/** The name heif-pool.ts looks for beside the engine bundle. */
export const HEIF_WORKER_FILE = 'heif-worker.js';

export default defineConfig((env) => nodeBundle(env, forgeEntry(env) ?? HEIF_WORKER_ENTRY, HEIF_WORKER_FILE));
