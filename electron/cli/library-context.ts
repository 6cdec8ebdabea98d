// What every library command shares: the options that choose the data folder and the CLIP model, and opening
// the library with them. The library remembers the CLIP model it is indexed with (see engine/clip-choice.ts), and a
// command that needs a catalog model that is not installed offers to download it, as `ollama run` pulls what it needs.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { CLIP_CATALOG } from '../../native-models/catalog.ts';
import { towerFile, VARIANTS, type Variant } from '../../native-models/clip/model.ts';
import { isProvider, PROVIDERS } from '../../native-models/clip/providers.ts';
import { formatBytes } from '../../native-models/download/hub.ts';
import {
  type ClipChoice,
  clipChoice,
  clipDir,
  clipOptions,
  DEFAULT_CLIP,
  isCatalogClip,
  saveClip,
  savedClip,
} from '../engine/clip-choice.ts';
import { openDatabase } from '../engine/db/database.ts';
import { Library } from '../engine/library/library.ts';
import { LibraryStore } from '../engine/library/store.ts';
import { ModelManager } from '../engine/models/model-manager.ts';
import { glancePaths, resolveHome } from '../engine/paths.ts';
import { downloadWithProgress } from './download-progress.ts';
import { type CliIo, UsageError } from './io.ts';

export const LIBRARY_OPTIONS = {
  home: { type: 'string' },
  model: { type: 'string' },
  variant: { type: 'string' },
  provider: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
} satisfies NonNullable<ParseArgsConfig['options']>;

export const LIBRARY_OPTIONS_HELP = `  --json                 print JSON
  --model ID|DIR         the CLIP model, a catalog id or a model folder (default: the one the library is indexed
                         with, set by "glance index --model" and "glance models use"; at first clip-vit-base-patch32)
  --variant V            ${VARIANTS.join(' | ')} (default fp32)
  --provider P           ${PROVIDERS.join(' | ')} (default cpu)
  --yes, -y              download the CLIP model without asking when it is not installed
  --home DIR             Glance's data folder (default: GLANCE_HOME, else the app-data folder)`;

export interface LibraryValues {
  home?: string | undefined;
  model?: string | undefined;
  variant?: string | undefined;
  provider?: string | undefined;
  threads?: string | undefined;
  yes?: boolean | undefined;
}

export function positiveNumber(name: string, v: string | undefined, integer = true): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a ${integer ? 'whole ' : ''}number above 0 (got "${v}")`);
  }
  return n;
}

export function parseVariant(v: string | undefined): Variant | undefined {
  if (v !== undefined && !(VARIANTS as readonly string[]).includes(v))
    throw new UsageError(`--variant must be one of ${VARIANTS.join(', ')}`);
  return v as Variant | undefined;
}

/** The library's own CLIP model; a data folder without a library yet gets the default (and no database file). */
function libraryClip(home: string): ClipChoice {
  const paths = glancePaths(home);
  if (!existsSync(paths.db)) return DEFAULT_CLIP;
  const db = openDatabase(paths.db);
  try {
    return savedClip(new LibraryStore(db));
  } finally {
    db.close();
  }
}

/** The CLIP model of this run: --model and --variant when given, else the library's own. */
export function chooseClip(values: LibraryValues, home: string): { choice: ClipChoice; given: boolean } {
  const variant = parseVariant(values.variant);
  if (values.model) return { choice: clipChoice(values.model, variant), given: true };
  const saved = libraryClip(home);
  return variant ? { choice: { ...saved, variant }, given: true } : { choice: saved, given: false };
}

/** A catalog model that is needed and not installed, with the one command that installs it: exit code 3. */
export class ClipNotInstalledError extends Error {
  override readonly name = 'ClipNotInstalledError';
  readonly code = 'model-not-installed';
}

/**
 * Makes sure the CLIP model of this run is there before a command needs it. A catalog model that is not installed
 * is downloaded (with the progress line of "glance models download") after a yes on a terminal or with --yes;
 * without a terminal the command stops with the one command to run. A folder of the person's own is left to the
 * model loader, which says what it lacks.
 */
export async function ensureClip(
  choice: ClipChoice,
  home: string,
  io: CliIo,
  opts: { yes?: boolean | undefined; purpose: string },
): Promise<void> {
  if (!isCatalogClip(choice.model)) return;
  const paths = glancePaths(home);
  const manager = new ModelManager(paths);
  const id = choice.model;
  // An export put there by hand counts as installed, as it always did.
  if (existsSync(path.join(clipDir(paths, choice), towerFile('vision', choice.variant)))) return;
  if (await manager.manifest(id)) return;
  const entry = CLIP_CATALOG.find((e) => e.id === id)!;
  const size = formatBytes(entry.files.reduce((s, f) => s + f.size, 0));
  const what = `${entry.name.replace(/\s*\(.*\)$/, '')} (≈${size})`;
  let download = opts.yes === true;
  if (!download && io.ask) {
    const answer = await io.ask(`${what} is needed to ${opts.purpose}. Download it now? [Y/n] `);
    download = /^\s*(y|yes)?\s*$/i.test(answer);
    if (!download) throw new ClipNotInstalledError(`not downloaded; glance models download ${id} fetches it later`);
  }
  if (!download) {
    throw new ClipNotInstalledError(
      `${what} is needed to ${opts.purpose} and is not installed. Download it with:\n` +
        `  glance models download ${id}\n(or run this command again with --yes)`,
    );
  }
  io.err(`downloading ${id} (${size}) from ${entry.repo}\n`);
  await downloadWithProgress(manager, id, io);
  io.err(`${id} installed (verified)\n`);
}

/** Opens the library with this run's CLIP model (see chooseClip). */
export function openLibrary(values: LibraryValues, io: CliIo, extra: { batchSize?: number } = {}): Library {
  const provider = values.provider ?? 'cpu';
  if (!isProvider(provider)) throw new UsageError(`--provider must be one of ${PROVIDERS.join(', ')}`);
  const threads = positiveNumber('threads', values.threads);
  const home = resolveHome(values.home, io.env);
  const { choice } = chooseClip(values, home);
  return Library.open({
    home,
    ...clipOptions(glancePaths(home), choice),
    provider,
    ...(threads ? { threads } : {}),
    ...extra,
  });
}

/** For a command that needs the model's weights: chooses the model and makes sure it is installed (ensureClip). */
export async function ensureLibraryClip(values: LibraryValues, io: CliIo, purpose: string): Promise<void> {
  const home = resolveHome(values.home, io.env);
  await ensureClip(chooseClip(values, home).choice, home, io, { yes: values.yes, purpose });
}

/** After an index run with --model or --variant: the library is now indexed with that model, so it keeps it. */
export function rememberClip(lib: Library, values: LibraryValues, io: CliIo): void {
  const { choice, given } = chooseClip(values, resolveHome(values.home, io.env));
  if (given) saveClip(lib.store, choice);
}

/** "2024", "2024-07" or "2024-07-04" (local time) → the first or last millisecond of that period. */
export function parseDate(name: string, v: string | undefined, end: boolean): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(v);
  if (!m) throw new UsageError(`--${name} takes a date as YYYY, YYYY-MM or YYYY-MM-DD (got "${v}")`);
  const y = Number(m[1]);
  const mo = m[2] ? Number(m[2]) - 1 : end ? 11 : 0;
  const d = m[3] ? Number(m[3]) : end ? new Date(y, mo + 1, 0).getDate() : 1;
  return end ? new Date(y, mo, d, 23, 59, 59, 999).getTime() : new Date(y, mo, d).getTime();
}
