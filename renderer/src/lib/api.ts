// The renderer's one way out: a typed client over window.glance (the preload facade in the app, the WebSocket
// bridge in end-to-end tests). Results become values or ApiErrors with the app's own code and message.
import type {
  AppEvent,
  AppEvents,
  Channel,
  ChannelArg,
  ChannelResult,
  GlanceApi,
} from '../../../electron/ipc/contract.ts';

declare global {
  interface Window {
    glance: GlanceApi;
  }
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Api {
  call<C extends Channel>(channel: C, arg?: ChannelArg<C>): Promise<ChannelResult<C>>;
  on<E extends AppEvent>(event: E, listener: (payload: AppEvents[E]) => void): () => void;
}

export function createApi(glance: GlanceApi = window.glance): Api {
  return {
    async call(channel, arg) {
      const fn = glance[channel] as (
        a: unknown,
      ) => Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }>;
      const r = await fn(arg);
      if (!r.ok) throw new ApiError(r.error!.code, r.error!.message);
      return r.value as never;
    },
    on: (event, listener) => glance.on(event, listener),
  };
}
