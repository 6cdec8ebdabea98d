// What every library command shares: the options that choose the data folder and the CLIP model, and opening
// the library with them.
import type { ParseArgsConfig } from 'node:util';
import { VARIANTS, type Variant } from '../../native-models/clip/model.ts';
import { isProvider, PROVIDERS } from '../../native-models/clip/providers.ts';
import { Library } from '../engine/library/library.ts';
import { glancePaths, modelDir, resolveHome } from '../engine/paths.ts';
import { type CliIo, UsageError } from './io.ts';

export const LIBRARY_OPTIONS = {
  home: { type: 'string' },
  model: { type: 'string' },
  variant: { type: 'string' },
  provider: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
} satisfies NonNullable<ParseArgsConfig['options']>;

export const LIBRARY_OPTIONS_HELP = `  --json                 print JSON
  --model DIR            a CLIP model folder (default: the installed clip-vit-base-patch32)
  --variant V            ${VARIANTS.join(' | ')} (default fp32)
  --provider P           ${PROVIDERS.join(' | ')} (default cpu)
  --home DIR             Glance's data folder (default: GLANCE_HOME, else the app-data folder)`;

export interface LibraryValues {
  home?: string | undefined;
  model?: string | undefined;
  variant?: string | undefined;
  provider?: string | undefined;
  threads?: string | undefined;
}

export function positiveNumber(name: string, v: string | undefined, integer = true): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a ${integer ? 'whole ' : ''}number above 0 (got "${v}")`);
  }
  return n;
}

export function openLibrary(values: LibraryValues, io: CliIo, extra: { batchSize?: number } = {}): Library {
  const variant = values.variant ?? 'fp32';
  if (!(VARIANTS as readonly string[]).includes(variant))
    throw new UsageError(`--variant must be one of ${VARIANTS.join(', ')}`);
  const provider = values.provider ?? 'cpu';
  if (!isProvider(provider)) throw new UsageError(`--provider must be one of ${PROVIDERS.join(', ')}`);
  const threads = positiveNumber('threads', values.threads);
  const home = resolveHome(values.home, io.env);
  return Library.open({
    home,
    modelDir: values.model ?? modelDir(glancePaths(home)),
    variant: variant as Variant,
    provider,
    ...(threads ? { threads } : {}),
    ...extra,
  });
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
