// Finds the photos under a folder: recursive, without following symbolic links (no loops, no escaping the
// folder), skipping hidden folders, the system's own folders, and Glance's data folder.
import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';

export const PHOTO_EXTENSIONS = new Set([
  'jpg',
  'jpeg',
  'jpe',
  'png',
  'webp',
  'gif',
  'tif',
  'tiff',
  'avif',
  'heic',
  'heif',
  'bmp',
  // camera RAW files, read through their embedded preview
  'cr2',
  'cr3',
  'nef',
  'arw',
  'dng',
  'orf',
  'rw2',
  'raf',
  'pef',
  'srw',
]);

/** Folders that hold system or application data, never a person's photos. */
const SKIPPED_NAMES = new Set([
  '$RECYCLE.BIN',
  'System Volume Information',
  'lost+found',
  '@eaDir',
  '#recycle',
  'node_modules',
  '$Recycle.Bin',
  'Thumbs.db',
  '__MACOSX',
]);

export interface ScannedFile {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface ScanOptions {
  /** Folders never to enter (Glance's own data folder). */
  exclude?: string[];
  signal?: AbortSignal;
}

export function isPhotoFile(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && PHOTO_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}

export async function* scanFolder(root: string, options: ScanOptions = {}): AsyncGenerator<ScannedFile> {
  const exclude = new Set((options.exclude ?? []).map((p) => path.resolve(p)));
  const stack = [path.resolve(root)];
  while (stack.length > 0) {
    options.signal?.throwIfAborted();
    const dir = stack.pop()!;
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(dir);
    } catch {
      continue; // unreadable folder (permissions, vanished): skip it, the rest is still indexed
    }
    const subdirs: string[] = [];
    for await (const entry of handle) {
      const name = entry.name;
      if (name.startsWith('.') || SKIPPED_NAMES.has(name)) continue;
      const full = path.join(dir, name);
      if (entry.isDirectory()) {
        if (!exclude.has(full)) subdirs.push(full);
      } else if (entry.isFile() && isPhotoFile(name)) {
        const st = await stat(full).catch(() => null); // vanished between listing and stat: skip
        if (st) yield { path: full, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) };
      }
    }
    stack.push(...subdirs.sort().reverse());
  }
}
