// Builds the renderer once per test file, with the app's own Vite config, into a temporary folder.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from 'vite';
import { repoRoot } from '../fixtures/repo.ts';

export async function buildRenderer(): Promise<string> {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'glance-renderer-'));
  await build({ configFile: path.join(repoRoot, 'vite.renderer.config.ts'), logLevel: 'warn', build: { outDir } });
  return outDir;
}
