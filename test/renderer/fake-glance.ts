// A window.glance for component tests: every channel answers from a table the test fills, events can be fired.
// Typed against the contract, so a fake that drifts from it fails tsc.
import type {
  AppEvent,
  AppEvents,
  Channel,
  ChannelArg,
  ChannelResult,
  GlanceApi,
  PhotoHit,
  SettingsView,
} from '../../electron/ipc/contract.ts';
import { createApi } from '../../renderer/src/lib/api.ts';

type Answer<C extends Channel> =
  | ChannelResult<C>
  | ((arg: ChannelArg<C>) => ChannelResult<C> | Promise<ChannelResult<C>>);

export function fakeGlance(answers: { [C in Channel]?: Answer<C> } = {}) {
  const calls: { channel: Channel; arg: unknown }[] = [];
  const listeners = new Map<AppEvent, Set<(p: unknown) => void>>();
  const handler = {
    get(_t: object, key: string) {
      if (key === 'on') {
        return (event: AppEvent, listener: (p: unknown) => void) => {
          const set = listeners.get(event) ?? new Set();
          set.add(listener);
          listeners.set(event, set);
          return () => set.delete(listener);
        };
      }
      return async (arg: unknown) => {
        calls.push({ channel: key as Channel, arg });
        const a = (answers as Record<string, unknown>)[key];
        if (a === undefined)
          return { ok: false, error: { code: 'not-faked', message: `${key} is not faked in this test` } };
        try {
          return { ok: true, value: typeof a === 'function' ? await (a as (x: unknown) => unknown)(arg) : a };
        } catch (err) {
          const e = err as { code?: string; message: string };
          return { ok: false, error: { code: e.code ?? 'internal', message: e.message } };
        }
      };
    },
  };
  const glance = new Proxy({}, handler) as GlanceApi;
  return {
    glance,
    api: createApi(glance),
    calls,
    emit<E extends AppEvent>(event: E, payload: AppEvents[E]) {
      for (const l of listeners.get(event) ?? []) l(payload);
    },
  };
}

/** The settings a fresh install shows (the engine's defaults, with a hotkey and data folder of a test's choosing). */
export const SETTINGS: Readonly<SettingsView> = {
  hotkey: 'Ctrl+Shift+G',
  dataFolder: '/data',
  threads: null,
  gpuLayers: 'auto',
  chatModel: null,
  captionNewPhotos: false,
  localApi: false,
  localApiPort: 8421,
  localApiOrigins: [],
  searchLanguage: 'auto',
  tagThreshold: 0.03,
};

/** A search or browse result row for photo `id`, as the grid gets it. */
export const photoHit = (id: number): PhotoHit => ({
  id,
  name: `IMG_${id}.jpg`,
  score: null,
  takenAt: null,
  thumbnail: `glance://thumb/${id}`,
});
