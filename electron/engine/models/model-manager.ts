// Installed models: what the catalog offers, what is on disk, downloads (resumable, verified, atomic per file),
// removal and verification. A model folder gets a manifest (glance-model.json) written after its last file lands,
// with each file's size and SHA-256: "installed" means the manifest is there, and verify re-checks against it.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ALL_MODELS, type CatalogEntry, type CatalogFile } from '../../../native-models/catalog.ts';
import {
  type DownloadOptions,
  type DownloadProgress,
  downloadAll,
  verifyFile,
} from '../../../native-models/download/hub.ts';
import { type GlancePaths, modelDir } from '../paths.ts';

export const MANIFEST = 'glance-model.json';

export interface Manifest {
  id: string;
  repo: string;
  installedAt: number;
  files: { file: string; size: number; sha256: string }[];
}

export interface ModelStatus {
  entry: CatalogEntry;
  installed: boolean;
  dir: string;
  /** Bytes on disk per the manifest (installed) or the catalog's estimate (not installed). */
  size: number;
  /** The model's folder is there but its manifest cannot be read: what is wrong and what to do. */
  damaged?: string;
}

export class ModelManagerError extends Error {
  override readonly name = 'ModelManagerError';
  constructor(
    readonly code: 'unknown-model' | 'not-installed' | 'damaged',
    message: string,
  ) {
    super(message);
  }
}

const damaged = (id: string, file: string, why: string) =>
  new ModelManagerError(
    'damaged',
    `${id} is damaged: its manifest ${file} cannot be read (${why}). Remove it and download it again: ` +
      `glance models remove ${id}, then glance models download ${id} (or Remove and Download in Models)`,
  );

export function filesOf(entry: CatalogEntry): CatalogFile[] {
  return entry.kind === 'chat' ? [entry.model, entry.mmproj] : entry.files;
}

export class ModelManager {
  constructor(private readonly paths: GlancePaths) {}

  private entry(id: string): CatalogEntry {
    const e = ALL_MODELS.find((m) => m.id === id);
    if (!e) throw new ModelManagerError('unknown-model', `unknown model "${id}": glance models list shows the catalog`);
    return e;
  }

  /**
   * The manifest of an installed model; null when there is none (not installed). One that cannot be read or is not
   * a manifest is a damaged install, never "not installed": that would hide files taking gigabytes.
   */
  async manifest(id: string): Promise<Manifest | null> {
    const file = path.join(modelDir(this.paths, id), MANIFEST);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw damaged(id, file, (err as Error).message);
    }
    let m: Partial<Manifest>;
    try {
      m = JSON.parse(text) as Partial<Manifest>;
    } catch (err) {
      throw damaged(id, file, `not valid JSON: ${(err as Error).message}`);
    }
    const filesOk =
      Array.isArray(m?.files) &&
      m.files.every((f) => typeof f?.file === 'string' && typeof f.size === 'number' && typeof f.sha256 === 'string');
    if (!filesOk) throw damaged(id, file, 'it does not list the files with their sizes and SHA-256');
    return m as Manifest;
  }

  async list(): Promise<ModelStatus[]> {
    return Promise.all(
      ALL_MODELS.map(async (entry) => {
        const dir = modelDir(this.paths, entry.id);
        const estimate = filesOf(entry).reduce((s, f) => s + f.size, 0);
        let m: Manifest | null;
        try {
          m = await this.manifest(entry.id);
        } catch (err) {
          if (!(err instanceof ModelManagerError)) throw err;
          return { entry, installed: false, dir, size: estimate, damaged: err.message };
        }
        return { entry, installed: m !== null, dir, size: m ? m.files.reduce((s, f) => s + f.size, 0) : estimate };
      }),
    );
  }

  /** Downloads every file of a model (resuming partial files), then writes its manifest. */
  async download(
    id: string,
    opts: Omit<DownloadOptions, 'onProgress'> & { onProgress?: (p: DownloadProgress) => void } = {},
  ): Promise<Manifest> {
    const entry = this.entry(id);
    const dir = modelDir(this.paths, id);
    await mkdir(dir, { recursive: true });
    const files = filesOf(entry).map((f) => ({ repo: entry.repo, file: f.file }));
    const results = await downloadAll(files, dir, opts);
    const manifest: Manifest = {
      id,
      repo: entry.repo,
      installedAt: Date.now(),
      files: results.map((r, i) => ({ file: files[i]!.file, size: r.size, sha256: r.sha256 })),
    };
    const tmp = path.join(dir, `${MANIFEST}.tmp`);
    await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(tmp, path.join(dir, MANIFEST));
    return manifest;
  }

  /** Re-hashes every file against the manifest. */
  async verify(id: string): Promise<{ file: string; ok: boolean; reason?: string }[]> {
    this.entry(id);
    const m = await this.manifest(id);
    if (!m) throw new ModelManagerError('not-installed', `${id} is not installed: glance models download ${id}`);
    const dir = modelDir(this.paths, id);
    return Promise.all(
      m.files.map(async (f) => {
        const r = await verifyFile(path.join(dir, f.file), { size: f.size, sha256: f.sha256 });
        return r.ok ? { file: f.file, ok: true } : { file: f.file, ok: false, reason: r.reason };
      }),
    );
  }

  /** Deletes a model's folder, partial downloads included. */
  async remove(id: string): Promise<boolean> {
    this.entry(id);
    const dir = modelDir(this.paths, id);
    // a damaged install counts as one: its files are there
    const had = (await this.manifest(id).catch(() => true)) !== null;
    await rm(dir, { recursive: true, force: true });
    return had;
  }
}
