// The CLIP model a library is indexed with. Its embeddings only answer queries made with the same model, so the
// library keeps its choice in its settings and every later command (and the window) uses it without being told
// again; `glance index --model` and `glance models use` change it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CLIP_CATALOG, DEFAULT_CLIP_ID } from '../../native-models/catalog.ts';
import { VARIANTS, type Variant } from '../../native-models/clip/model.ts';
import type { LibraryStore } from './library/store.ts';
import { type GlancePaths, modelDir } from './paths.ts';

const SETTING = 'clip_model';

export interface ClipChoice {
  /** A catalog id (installed under the data folder's models/) or an absolute model folder. */
  model: string;
  variant: Variant;
}

export const DEFAULT_CLIP: ClipChoice = { model: DEFAULT_CLIP_ID, variant: 'fp32' };

export const isCatalogClip = (model: string) => CLIP_CATALOG.some((e) => e.id === model);

/** What a person typed (`--model`, `glance models use`): a catalog id, else a folder. */
export function clipChoice(model: string, variant: Variant = 'fp32'): ClipChoice {
  const asId = isCatalogClip(model) && !existsSync(model);
  return { model: asId ? model : path.resolve(model), variant };
}

export class ClipChoiceError extends Error {
  override readonly name = 'ClipChoiceError';
  readonly code = 'model-setting-invalid';
}

/** The library's CLIP model, or the default one for a library that never chose. */
export function savedClip(store: LibraryStore): ClipChoice {
  const raw = store.setting(SETTING);
  if (raw === undefined) return DEFAULT_CLIP;
  let v: Partial<ClipChoice> | null = null;
  try {
    v = JSON.parse(raw) as Partial<ClipChoice>;
  } catch {}
  if (!v || typeof v.model !== 'string' || !(VARIANTS as readonly string[]).includes(v.variant as string)) {
    throw new ClipChoiceError(
      `the library's CLIP model setting is unreadable (${raw.slice(0, 80)}): glance models use ID|DIR sets it again`,
    );
  }
  return { model: v.model, variant: v.variant as Variant };
}

export function saveClip(store: LibraryStore, choice: ClipChoice): void {
  store.setSetting(SETTING, JSON.stringify(choice));
}

/** The folder that holds the chosen model. */
export function clipDir(paths: GlancePaths, choice: ClipChoice): string {
  return isCatalogClip(choice.model) ? modelDir(paths, choice.model) : choice.model;
}

/** What Library.open needs for the choice. */
export function clipOptions(paths: GlancePaths, choice: ClipChoice): { modelDir: string; variant: Variant } {
  return { modelDir: clipDir(paths, choice), variant: choice.variant };
}
