// The main process bundle (.vite/build/main.js, ES module: package.json says "type": "module"). Forge's Vite plugin
// merges its own defaults under this (outDir, the renderer's dev-server URL); `npm run build:entries` builds it
// alone, without Electron.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ConfigEnv, defineConfig, type UserConfig } from 'vite';
import { nodeExternals } from './packaging/natives.ts';

export const MAIN_ENTRY = 'electron/main/index.ts';

const root = path.dirname(fileURLToPath(import.meta.url));

/** Forge's Vite plugin adds `forgeConfig` and `forgeConfigSelf` to the config env; a plain `vite build` does not. */
export function forgeEntry(env: ConfigEnv): string | undefined {
  const self = (env as { forgeConfigSelf?: { entry?: unknown } }).forgeConfigSelf;
  return typeof self?.entry === 'string' ? self.entry : undefined;
}

/**
 * A bundle for a Node-side process (main, engine): ES module, Node's resolution conditions, and every native or
 * run-time-loaded package left to node_modules (packaging/natives.ts), so that the bundle never inlines a binding.
 */
export function nodeBundle(env: ConfigEnv, entry: string, fileName: string): UserConfig {
  const underForge = 'forgeConfig' in env;
  return {
    root,
    // a plain build has no renderer dev server: give the main process the constants Forge would define
    define: underForge
      ? {}
      : { MAIN_WINDOW_VITE_DEV_SERVER_URL: 'undefined', MAIN_WINDOW_VITE_NAME: JSON.stringify('main_window') },
    resolve: { conditions: ['node'], mainFields: ['module', 'jsnext:main', 'jsnext'] },
    // An SSR build is Vite's build for Node: Node's resolution, and no browser asset handling. (A client build would
    // turn supervisor.ts's `new URL('./engine-main.ts', import.meta.url)` into a data: URL that fileURLToPath
    // rejects at start-up.) noExternal: bundle every dependency except the externals below.
    ssr: { target: 'node', noExternal: true },
    build: {
      ssr: true,
      outDir: '.vite/build',
      emptyOutDir: false, // main, preload and engine share the folder
      copyPublicDir: false,
      target: 'node22', // Electron 45's Node
      minify: false, // crash reports from the engine should name real functions
      lib: { entry, formats: ['es'], fileName: () => fileName },
      rolldownOptions: {
        external: nodeExternals(),
        // one file per process: utilityProcess.fork and the packaged app's layout expect it
        output: { entryFileNames: fileName, codeSplitting: false },
      },
    },
  };
}

export default defineConfig((env) => nodeBundle(env, forgeEntry(env) ?? MAIN_ENTRY, 'main.js'));
