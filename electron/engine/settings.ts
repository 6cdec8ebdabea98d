// The app's settings as the engine keeps them: one JSON value in the database's settings table. A damaged value
// never stops the engine and is never silently dropped: Glance runs on the defaults, keeps a copy of what it could
// not read, and says so. Settings that shape a model load (threads, GPU layers) go into every load from here.

import { DEFAULT_API_PORT, isWebOrigin, LOCAL_API_LIMITS } from '../../common/local-api.ts';
import type { VisionChatLoadOptions } from '../../native-models/llava/vision-chat.ts';
import { chooseChatModel } from './chat/model-choice.ts';
import type { GlancePaths } from './paths.ts';
import type { EngineSettings } from './process/contract.ts';

export const SETTINGS_KEY = 'app_settings';
/** Where a value that could not be read is kept, for the person (or support) to look at. */
export const SETTINGS_COPY_KEY = 'app_settings.bad';

export const DEFAULT_SETTINGS: EngineSettings = {
  hotkey: 'CommandOrControl+Shift+Space',
  threads: null,
  gpuLayers: 'auto',
  chatModel: null,
  captionNewPhotos: false,
  localApi: false,
  localApiPort: DEFAULT_API_PORT,
  localApiOrigins: [],
  searchLanguage: 'auto',
};

export interface SettingsStore {
  setting(key: string): string | undefined;
  setSetting(key: string, value: string): void;
}

export interface ReadSettings {
  settings: EngineSettings;
  /** What was wrong with the saved settings and what Glance did about it; absent when all was well. */
  notice?: string;
}

const valid: { [K in keyof EngineSettings]: (v: unknown) => boolean } = {
  hotkey: (v) => typeof v === 'string' && v.length > 0,
  threads: (v) => v === null || (Number.isInteger(v) && (v as number) > 0),
  gpuLayers: (v) => v === 'auto' || (Number.isInteger(v) && (v as number) >= 0),
  chatModel: (v) => v === null || typeof v === 'string',
  captionNewPhotos: (v) => typeof v === 'boolean',
  localApi: (v) => typeof v === 'boolean',
  localApiPort: (v) =>
    Number.isInteger(v) && (v as number) >= LOCAL_API_LIMITS.minPort && (v as number) <= LOCAL_API_LIMITS.maxPort,
  searchLanguage: (v) => v === 'auto' || v === 'en' || v === 'multi',
  localApiOrigins: (v) =>
    Array.isArray(v) && v.length <= LOCAL_API_LIMITS.origins && v.every((o) => typeof o === 'string' && isWebOrigin(o)),
};

/** The line of a JSON.parse error ("... at position 42"), counted in the text. */
function lineOf(raw: string, err: unknown): number | undefined {
  const at = /position (\d+)/.exec(String((err as Error)?.message))?.[1];
  return at === undefined ? undefined : raw.slice(0, Number(at)).split('\n').length;
}

/** The saved settings over the defaults; `where` names the database for messages. */
export function readSettings(store: SettingsStore, where: string): ReadSettings {
  const raw = store.setting(SETTINGS_KEY);
  if (raw === undefined) return { settings: { ...DEFAULT_SETTINGS } };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    const line = lineOf(raw, err);
    store.setSetting(SETTINGS_COPY_KEY, raw);
    return {
      settings: { ...DEFAULT_SETTINGS },
      notice:
        `the saved settings (${SETTINGS_KEY} in ${where}) are not valid JSON${line ? ` (line ${line})` : ''}: ` +
        `Glance is using the defaults and kept a copy as ${SETTINGS_COPY_KEY}; saving settings replaces them`,
    };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    store.setSetting(SETTINGS_COPY_KEY, raw);
    return {
      settings: { ...DEFAULT_SETTINGS },
      notice:
        `the saved settings (${SETTINGS_KEY} in ${where}) are not a JSON object: Glance is using the defaults and ` +
        `kept a copy as ${SETTINGS_COPY_KEY}; saving settings replaces them`,
    };
  }
  const settings = { ...DEFAULT_SETTINGS };
  const refused: string[] = [];
  for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof EngineSettings)[]) {
    if (!(key in parsed)) continue;
    const v = (parsed as Record<string, unknown>)[key];
    if (valid[key](v)) (settings as Record<string, unknown>)[key] = v;
    else refused.push(`${key} (${JSON.stringify(v)})`);
  }
  if (!refused.length) return { settings };
  store.setSetting(SETTINGS_COPY_KEY, raw);
  return {
    settings,
    notice:
      `the saved settings (${SETTINGS_KEY} in ${where}) hold values Glance cannot use: ${refused.join(', ')}. ` +
      `Glance is using the defaults for them and kept a copy as ${SETTINGS_COPY_KEY}; set them again in Settings`,
  };
}

/** The files and load options of a catalog chat model (none: the one chosen in settings), with the settings' threads and GPU layers. */
export function chatLoadOptions(
  paths: GlancePaths,
  settings: EngineSettings,
  catalogId?: string,
): VisionChatLoadOptions {
  const id = catalogId ?? settings.chatModel;
  const { label: _label, ...choice } = chooseChatModel(paths, {
    ...(id ? { model: id } : {}),
    ...(settings.gpuLayers !== 'auto' ? { gpuLayers: settings.gpuLayers } : {}),
  });
  return { ...choice, ...(settings.threads ? { threads: settings.threads } : {}) };
}
