// Installed models: what the catalog offers, what is on disk, downloads (resumable, verified, atomic per file),
// removal and verification. A model folder gets a manifest (glance-model.json) written after its last file lands,
// with each file's size and SHA-256: "installed" means the manifest is there, and verify re-checks against it.
// Files come from the catalog's pinned commit. A file the catalog pins a SHA-256 for must have it (download and verify
// check the pin, not the manifest); for the others the manifest is the trust-on-first-use record: the hashes of the
// first verified download, required of every later download of the same revision and checked by verify.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ALL_MODELS, type CatalogEntry, type CatalogFile } from '../../../native-models/catalog.ts';
import {
  type DownloadOptions,
  type DownloadProgress,
  downloadAll,
  type HubFile,
  type Pin,
  verifyFile,
} from '../../../native-models/download/hub.ts';
import { type GlancePaths, modelDir } from '../paths.ts';

export const MANIFEST = 'glance-model.json';

export interface Manifest {
  id: string;
  repo: string;
  /** The commit the files came from; absent in manifests written before pinning (they came from `main`). */
  revision?: string;
  installedAt: number;
  /** `pin`: the catalog's reviewed hash, or this record as the first download's (trust on first use). */
  files: { file: string; size: number; sha256: string; pin?: Pin }[];
}

export interface VerifyResult {
  file: string;
  ok: boolean;
  reason?: string;
  /** What the file was checked against: the catalog's reviewed build, or the hash recorded at the first download. */
  pin: Pin;
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
    const recorded = await this.recordedHashes(entry);
    const files: HubFile[] = filesOf(entry).map((f) => {
      if (f.sha256) return { repo: entry.repo, file: f.file, sha256: f.sha256, pin: 'catalog' };
      const sha256 = recorded.get(f.file);
      return sha256 ? { repo: entry.repo, file: f.file, sha256, pin: 'first-use' } : { repo: entry.repo, file: f.file };
    });
    // The catalog's commit, whatever the caller asked for: a branch would let the files change under the pins.
    const results = await downloadAll(files, dir, { ...opts, revision: entry.revision });
    const manifest: Manifest = {
      id,
      repo: entry.repo,
      revision: entry.revision,
      installedAt: Date.now(),
      files: results.map((r, i) => ({
        file: files[i]!.file,
        size: r.size,
        sha256: r.sha256,
        pin: files[i]!.pin ?? 'first-use',
      })),
    };
    const tmp = path.join(dir, `${MANIFEST}.tmp`);
    await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(tmp, path.join(dir, MANIFEST));
    return manifest;
  }

  /**
   * The hashes a model's manifest recorded at its first download, by file: required of a new download of the same
   * revision (trust on first use). None when there is no readable manifest, or it is of another revision.
   */
  private async recordedHashes(entry: CatalogEntry): Promise<Map<string, string>> {
    const m = await this.manifest(entry.id).catch((err: unknown) => {
      if (err instanceof ModelManagerError) return null; // damaged: nothing to go by; the download writes a new one
      throw err;
    });
    if (!m || (m.revision ?? 'main') !== entry.revision) return new Map();
    return new Map(m.files.map((f) => [f.file, f.sha256.toLowerCase()]));
  }

  /**
   * Re-hashes every file: against the catalog's pinned SHA-256 where there is one, else against the manifest's record
   * of the first download. A catalog file the manifest does not list counts as missing.
   */
  async verify(id: string): Promise<VerifyResult[]> {
    const entry = this.entry(id);
    const m = await this.manifest(id);
    if (!m) throw new ModelManagerError('not-installed', `${id} is not installed: glance models download ${id}`);
    const dir = modelDir(this.paths, id);
    const catalog = filesOf(entry);
    const pins = new Map(catalog.flatMap((f) => (f.sha256 ? [[f.file, f.sha256] as const] : [])));
    const listed = new Set(m.files.map((f) => f.file));
    const missing: VerifyResult[] = catalog
      .filter((f) => !listed.has(f.file))
      .map((f) => ({
        file: f.file,
        ok: false,
        reason: `${f.file} is not in the manifest: download the model again`,
        pin: f.sha256 ? 'catalog' : 'first-use',
      }));
    const checked = await Promise.all(
      m.files.map(async (f): Promise<VerifyResult> => {
        const pinned = pins.get(f.file);
        const pin: Pin = pinned ? 'catalog' : 'first-use';
        const r = await verifyFile(
          path.join(dir, f.file),
          pinned ? { sha256: pinned, pin } : { size: f.size, sha256: f.sha256, pin },
        );
        return r.ok ? { file: f.file, ok: true, pin } : { file: f.file, ok: false, reason: r.reason, pin };
      }),
    );
    return [...checked, ...missing];
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
