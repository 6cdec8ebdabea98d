// The preload facade, with Electron's contextBridge and ipcRenderer replaced by fakes typed against electron.d.ts.
import type { contextBridge as ContextBridge, IpcRenderer } from 'electron';
import { describe, expect, it, vi } from 'vitest';
import { CHANNELS, EVENTS, wire } from '../../electron/ipc/contract.ts';

const exposed: Record<string, unknown> = {};
const listeners = new Map<string, ((...a: unknown[]) => void)[]>();
const invoke = vi.fn(async (_channel: string, _arg: unknown) => ({ ok: true, value: 'pong' }));

vi.mock('electron', () => {
  const contextBridge: Pick<typeof ContextBridge, 'exposeInMainWorld'> = {
    exposeInMainWorld: (key: string, api: unknown) => {
      exposed[key] = api;
    },
  };
  const ipcRenderer: Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'> = {
    invoke,
    on(channel, listener) {
      listeners.set(channel, [...(listeners.get(channel) ?? []), listener as never]);
      return this as IpcRenderer;
    },
    removeListener(channel, listener) {
      listeners.set(
        channel,
        (listeners.get(channel) ?? []).filter((l) => l !== (listener as never)),
      );
      return this as IpcRenderer;
    },
  };
  return { contextBridge, ipcRenderer };
});

describe('window.glance', () => {
  it('exposes one function per channel and the event subscription, nothing else', async () => {
    await import('../../electron/preload/index.ts');
    const api = exposed.glance as Record<string, unknown>;
    expect(Object.keys(api).sort()).toEqual([...Object.keys(CHANNELS), 'on'].sort());
    expect(Object.isFrozen(api)).toBe(true);
    expect(Object.values(api).every((f) => typeof f === 'function')).toBe(true);
    expect(exposed).not.toHaveProperty('ipcRenderer');
  });

  it('invokes the wire channel with the one argument', async () => {
    const api = exposed.glance as { 'library.search': (a: unknown) => Promise<unknown> };
    await expect(api['library.search']({ text: 'dog' })).resolves.toEqual({ ok: true, value: 'pong' });
    expect(invoke).toHaveBeenCalledWith(wire('library.search'), { text: 'dog' });
  });

  it('subscribes to events and unsubscribes, without leaking the IPC event object', async () => {
    const api = exposed.glance as { on: (e: string, l: (p: unknown) => void) => () => void };
    const got: unknown[] = [];
    const off = api.on('chat.token', (p) => got.push(p));
    const fire = (payload: unknown) => {
      for (const l of listeners.get(wire('chat.token')) ?? []) l({ sender: 'secret' }, payload);
    };
    fire({ conversationId: 1, token: 'hi', count: 1 });
    off();
    fire({ conversationId: 1, token: 'again', count: 1 });
    expect(got).toEqual([{ conversationId: 1, token: 'hi', count: 1 }]);
    expect(() => api.on('fs.read', () => {})).toThrow(/unknown event/);
    expect(EVENTS).toContain('chat.token');
  });
});
