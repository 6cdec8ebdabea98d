// The window (renderer/). Built to .vite/renderer/main_window, which the main process loads from disk in the
// packaged app; `electron-forge start` serves it from Vite's dev server instead.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export const RENDERER_NAME = 'main_window';

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: path.join(root, 'renderer'),
  base: './', // relative: served from app://glance/ in the packaged app
  plugins: [svelte()],
  build: {
    outDir: path.join(root, '.vite', 'renderer', RENDERER_NAME),
    emptyOutDir: true,
    target: 'chrome140',
  },
});
