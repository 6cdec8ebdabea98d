// The preload script: a narrow facade over the contract, exposed as window.glance. One function per channel and
// one subscription per event, nothing else: the renderer never sees ipcRenderer.
import { contextBridge, type IpcRendererEvent, ipcRenderer } from 'electron';
import { type AppEvent, CHANNELS, type Channel, EVENTS, type GlanceApi, wire } from '../ipc/contract.ts';

export function buildApi(ipc: Pick<typeof ipcRenderer, 'invoke' | 'on' | 'removeListener'>): GlanceApi {
  const api: Record<string, unknown> = {};
  for (const name of Object.keys(CHANNELS) as Channel[]) {
    api[name] = (arg: unknown) => ipc.invoke(wire(name), arg);
  }
  api.on = (event: AppEvent, listener: (payload: unknown) => void) => {
    if (!EVENTS.includes(event)) throw new Error(`unknown event "${String(event)}"`);
    const wrapped = (_e: IpcRendererEvent, payload: unknown) => listener(payload);
    ipc.on(wire(event), wrapped);
    return () => ipc.removeListener(wire(event), wrapped);
  };
  return Object.freeze(api) as GlanceApi;
}

contextBridge.exposeInMainWorld('glance', buildApi(ipcRenderer));
