// `npm run build:entries`: builds the five Vite configs exactly as written, without Electron and without Forge,
// into out/entries (or the folder given) laid out like Forge's .vite/: build/{main,preload,engine,heif-worker}.js and
// renderer/main_window/. CI runs it to prove every entry builds; test/unit/packaging.test.ts calls buildEntries.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const ENTRY_CONFIGS = [
  { config: 'vite.main.config.ts', output: 'build/main.js' },
  { config: 'vite.preload.config.ts', output: 'build/preload.js' },
  { config: 'vite.engine.config.ts', output: 'build/engine.js' },
  { config: 'vite.heif-worker.config.ts', output: 'build/heif-worker.js' },
  { config: 'vite.renderer.config.ts', output: 'renderer/main_window/index.html' },
] as const;

/** Builds every entry into `outDir`; returns the absolute paths of the outputs, in ENTRY_CONFIGS' order. */
export async function buildEntries(outDir: string, logLevel: 'info' | 'warn' | 'silent' = 'warn'): Promise<string[]> {
  for (const { config, output } of ENTRY_CONFIGS) {
    await build({
      configFile: path.join(root, config),
      logLevel,
      build: { outDir: path.join(outDir, path.dirname(output)) },
    });
  }
  return ENTRY_CONFIGS.map(({ output }) => path.join(outDir, output));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = path.resolve(process.argv[2] ?? path.join(root, 'out', 'entries'));
  const outputs = await buildEntries(outDir, 'info');
  console.log(`\nbuilt ${outputs.map((o) => path.relative(root, o)).join(', ')}`);
}
