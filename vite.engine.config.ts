// The engine process bundle (.vite/build/engine.js): what the main process starts with utilityProcess.fork in the
// packaged app. Under plain Node (CLI, tests) the engine runs from its TypeScript sources through tsx instead.
import { defineConfig } from 'vite';
import { forgeEntry, nodeBundle } from './vite.main.config.ts';

export const ENGINE_ENTRY = 'electron/engine/process/engine-main.ts';

export default defineConfig((env) => nodeBundle(env, forgeEntry(env) ?? ENGINE_ENTRY, 'engine.js'));
