// The preload bundle (.vite/build/preload.js, where electron/main/windows.ts looks for it). Every window is
// sandboxed, and a sandboxed preload is neither an ES module nor able to require anything but `electron` and a few
// builtins: everything else is bundled into one CommonJS script. (Electron evaluates a sandboxed preload itself, so
// package.json's "type": "module" does not apply to it; an unsandboxed preload would have to be named .cjs.)
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { forgeEntry } from './vite.main.config.ts';

export const PRELOAD_ENTRY = 'electron/preload/index.ts';

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig((env) => ({
  root,
  build: {
    outDir: '.vite/build',
    emptyOutDir: false, // main, preload and engine share the folder
    copyPublicDir: false,
    target: 'chrome140', // Electron 45's Chromium
    minify: false,
    rolldownOptions: {
      input: forgeEntry(env) ?? PRELOAD_ENTRY,
      external: ['electron', /^electron\//, /^node:/, ...builtinModules],
      // one script: a sandboxed preload cannot load chunks. (Forge's preload defaults ask the same with the
      // deprecated inlineDynamicImports, which Rolldown then reports as ignored.)
      output: { format: 'cjs', entryFileNames: 'preload.js', codeSplitting: false },
    },
  },
}));
