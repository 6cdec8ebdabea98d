// The app's wiring, with Electron faked: what happens before ready, on ready, on a second launch and on quit.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type * as ElectronModule from 'electron';
import type { BrowserWindowConstructorOptions, IpcMainInvokeEvent } from 'electron';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHANNELS, wire } from '../../electron/ipc/contract.ts';
import type { Result } from '../../electron/ipc/result.ts';
import type { EngineHostOptions } from '../../electron/main/engine-host.ts';

type Listener = (...args: unknown[]) => unknown;

const h = vi.hoisted(() => {
  const { EventEmitter } = require('node:events') as typeof import('node:events');
  let nextId = 1;
  class FakeWebContents extends EventEmitter {
    id = nextId++;
    send = vi.fn();
    isDestroyed = () => false;
  }
  class FakeBrowserWindow extends EventEmitter {
    static created: FakeBrowserWindow[] = [];
    webContents = new FakeWebContents();
    loadURL = vi.fn(async () => {});
    loadFile = vi.fn(async () => {});
    show = vi.fn();
    focus = vi.fn();
    restore = vi.fn();
    close = vi.fn();
    setAlwaysOnTop = vi.fn();
    setVisibleOnAllWorkspaces = vi.fn();
    setPosition = vi.fn();
    isMinimized = () => false;
    isDestroyed = () => false;
    constructor(readonly options: BrowserWindowConstructorOptions) {
      super();
      FakeBrowserWindow.created.push(this);
    }
  }
  class FakeTray extends EventEmitter {
    static created: FakeTray[] = [];
    setToolTip = vi.fn();
    setContextMenu = vi.fn();
    destroy = vi.fn();
    constructor() {
      super();
      FakeTray.created.push(this);
    }
  }
  const screenDisplay = {
    id: 1,
    scaleFactor: 1,
    bounds: { x: 0, y: 0, width: 1280, height: 800 },
    workArea: { x: 0, y: 0, width: 1280, height: 770 },
  };
  /** Everything the test inspects; one set for the file (the mocked module is loaded once), reset per launch. */
  const calls: string[] = [];
  const control = { lock: true, ready: () => {}, isReady: false };
  /** What the fake screen source shows: a PNG signature by default, a real picture where a test crops it. */
  const picture = { png: Buffer.from('89504e470d0a1a0a', 'hex') };
  const switches = new Map<string, string>();
  let whenReady = Promise.resolve();
  const app = Object.assign(new EventEmitter(), {
    enableSandbox: vi.fn(() => calls.push('enableSandbox')),
    requestSingleInstanceLock: vi.fn(() => {
      calls.push('requestSingleInstanceLock');
      return control.lock;
    }),
    whenReady: vi.fn(() =>
      whenReady.then(() => {
        control.isReady = true;
        calls.push('ready');
      }),
    ),
    isReady: () => control.isReady,
    quit: vi.fn(() => calls.push('quit')),
    exit: vi.fn(),
    isPackaged: false,
    getAppPath: () => '/app',
    commandLine: {
      getSwitchValue: vi.fn((name: string) => switches.get(name) ?? ''),
      appendSwitch: vi.fn((name: string, value?: string) => void switches.set(name, value ?? '')),
    },
    dock: { show: vi.fn(async () => {}) },
  });
  const ipcMain = {
    handlers: new Map<string, Listener>(),
    handle: vi.fn((channel: string, fn: Listener) => {
      calls.push('ipcMain.handle');
      ipcMain.handlers.set(channel, fn);
    }),
    removeHandler: vi.fn((channel: string) => ipcMain.handlers.delete(channel)),
  };
  const defaultSession = {
    webRequest: { onHeadersReceived: vi.fn(() => calls.push('csp')) },
    setPermissionRequestHandler: vi.fn(),
    setPermissionCheckHandler: vi.fn(),
    setDevicePermissionHandler: vi.fn(),
    protocol: { handle: vi.fn(() => calls.push('protocol.handle')) },
  };
  const electron = {
    app,
    ipcMain,
    BrowserWindow: FakeBrowserWindow,
    Tray: FakeTray,
    Menu: { buildFromTemplate: vi.fn((t: unknown) => t) },
    protocol: { registerSchemesAsPrivileged: vi.fn(() => calls.push('registerSchemesAsPrivileged')) },
    session: { defaultSession },
    dialog: { showOpenDialog: vi.fn(), showErrorBox: vi.fn(), showMessageBox: vi.fn(async () => ({ response: 0 })) },
    nativeImage: {
      createFromPath: vi.fn(() => ({ isEmpty: () => true })),
      createFromDataURL: vi.fn((url: string) => ({ url })),
    },
    screen: {
      getCursorScreenPoint: () => ({ x: 10, y: 10 }),
      getDisplayNearestPoint: () => screenDisplay,
      getPrimaryDisplay: () => screenDisplay,
      getAllDisplays: () => [screenDisplay],
    },
    utilityProcess: {
      fork: vi.fn(() => {
        throw new Error('the engine host is mocked');
      }),
    },
    globalShortcut: {
      register: vi.fn(() => true),
      unregister: vi.fn(),
      isRegistered: vi.fn(() => false),
    },
    desktopCapturer: {
      // one screen whose picture is a 1×1 PNG: enough for the flow to open its overlay
      getSources: vi.fn(async () => [
        {
          display_id: '1',
          thumbnail: {
            isEmpty: () => false,
            getSize: () => ({ width: 1280, height: 800 }),
            toPNG: () => picture.png,
          },
        },
      ]),
    },
    systemPreferences: { getMediaAccessStatus: vi.fn(() => 'granted') },
  };
  /** A fresh start: no listeners, no calls, no windows; `ready()` lets whenReady resolve. */
  function reset(lock: boolean) {
    vi.clearAllMocks();
    switches.clear();
    picture.png = Buffer.from('89504e470d0a1a0a', 'hex');
    electron.systemPreferences.getMediaAccessStatus.mockImplementation(() => 'granted');
    app.removeAllListeners();
    ipcMain.handlers.clear();
    calls.length = 0;
    FakeBrowserWindow.created.length = 0;
    FakeTray.created.length = 0;
    control.lock = lock;
    control.isReady = false;
    whenReady = new Promise<void>((resolve) => {
      control.ready = resolve;
    });
  }
  return { electron, calls, control, reset, FakeBrowserWindow, picture };
});

vi.mock('electron', () => h.electron satisfies { [K in keyof typeof ElectronModule]?: unknown });

/** The engine is a stand-in: startEngine hands back a supervisor the test controls. */
const engineHost = vi.hoisted(() => ({ options: null as EngineHostOptions | null, engine: null as unknown }));
vi.mock('../../electron/main/engine-host.ts', () => ({
  startEngine: (o: EngineHostOptions) => {
    engineHost.options = o;
    let stopped!: () => void;
    const engine = {
      stop: vi.fn(() => new Promise<void>((resolve) => (stopped = resolve))),
      finishStopping: () => stopped(),
      state: vi.fn(() => ({ state: 'ready', restarts: 0 })),
      call: vi.fn(async () => null),
    };
    engineHost.engine = engine;
    return engine;
  },
}));

type FakeEngine = { stop: ReturnType<typeof vi.fn>; finishStopping: () => void };

async function launch(o: { lock?: boolean; ready?: boolean } = {}) {
  vi.resetModules();
  h.reset(o.lock ?? true);
  engineHost.options = null;
  await import('../../electron/main/index.ts');
  if (o.ready ?? true) {
    h.control.ready();
    await vi.waitFor(() => expect(h.calls).toContain('protocol.handle'));
  }
  return { electron: h.electron, calls: h.calls, ready: () => h.control.ready() };
}

/** The packaged window's page: served by the app scheme, never a file:// URL. */
const appPage = 'app://glance/index.html';

const realPlatform = process.platform;
/** The platform main() sees (it reads process.platform). */
const setPlatform = (platform: NodeJS.Platform) => Object.defineProperty(process, 'platform', { value: platform });

beforeEach(() => {
  vi.stubEnv('GLANCE_HOME', '/tmp/glance-test-home');
  vi.stubEnv('XDG_SESSION_TYPE', 'x11');
  setPlatform('linux');
});
afterEach(() => {
  vi.unstubAllEnvs();
  setPlatform(realPlatform);
});

/** An IPC call from the main window, through the router, as the renderer makes it. */
async function callFromMainWindow(electron: typeof h.electron, channel: Parameters<typeof wire>[0], arg?: unknown) {
  const win = h.FakeBrowserWindow.created[0]!;
  const frame = { url: appPage, parent: null, frameTreeNodeId: 1, detached: false };
  const event = { sender: { id: win.webContents.id, mainFrame: frame }, senderFrame: frame };
  return (await electron.ipcMain.handlers.get(wire(channel))!(
    event as unknown as IpcMainInvokeEvent,
    arg,
  )) as Result<unknown>;
}

describe('the app', () => {
  it('registers the scheme as privileged and sandboxes renderers before ready, and asks for the lock', async () => {
    const w = await launch({ ready: false });
    expect(w.calls).toEqual(['registerSchemesAsPrivileged', 'enableSandbox', 'requestSingleInstanceLock']);
    expect(w.electron.protocol.registerSchemesAsPrivileged).toHaveBeenCalledWith([
      expect.objectContaining({ scheme: 'app' }),
      expect.objectContaining({ scheme: 'glance' }),
    ]);
    w.ready();
    await vi.waitFor(() => expect(w.calls).toContain('protocol.handle'));
    expect(w.calls.indexOf('registerSchemesAsPrivileged')).toBeLessThan(w.calls.indexOf('ready'));
  });

  it('quits at once when another Glance holds the lock', async () => {
    const w = await launch({ lock: false, ready: false });
    expect(w.electron.app.quit).toHaveBeenCalled();
    expect(w.electron.app.whenReady).not.toHaveBeenCalled();
    expect(w.electron.ipcMain.handle).not.toHaveBeenCalled();
    expect(w.electron.app.listenerCount('before-quit')).toBe(0);
  });

  it('on ready: session security, engine, a handler for every channel, the protocol, the window, the tray', async () => {
    const w = await launch();
    expect(w.calls.indexOf('csp')).toBeLessThan(w.calls.indexOf('ipcMain.handle'));
    expect([...w.electron.ipcMain.handlers.keys()].sort()).toEqual(
      Object.keys(CHANNELS)
        .map((c) => wire(c as keyof typeof CHANNELS))
        .sort(),
    );
    expect(engineHost.options).toMatchObject({ home: path.resolve('/tmp/glance-test-home') });
    expect(w.electron.session.defaultSession.setPermissionRequestHandler).toHaveBeenCalled();
    expect(w.electron.session.defaultSession.protocol.handle).toHaveBeenCalledWith('glance', expect.any(Function));
    expect(w.electron.session.defaultSession.protocol.handle).toHaveBeenCalledWith('app', expect.any(Function));
    expect(h.FakeBrowserWindow.created[0]!.loadURL).toHaveBeenCalledWith(appPage);
    expect(h.FakeBrowserWindow.created[0]!.loadFile).not.toHaveBeenCalled();
    expect(h.FakeBrowserWindow.created).toHaveLength(1);
    expect(h.FakeBrowserWindow.created[0]!.options.webPreferences).toMatchObject({
      sandbox: true,
      contextIsolation: true,
    });
    expect(w.electron.Menu.buildFromTemplate).toHaveBeenCalled();
  });

  it('answers only the app window through the router', async () => {
    const w = await launch();
    const win = h.FakeBrowserWindow.created[0]!;
    const frame = { url: appPage, parent: null, frameTreeNodeId: 1, detached: false };
    const handler = w.electron.ipcMain.handlers.get(wire('engine.status'))!;
    const trusted = { sender: { id: win.webContents.id, mainFrame: frame }, senderFrame: frame };
    expect(await handler(trusted as unknown as IpcMainInvokeEvent, undefined)).toEqual({
      ok: true,
      value: { state: 'ready', restarts: 0 },
    });
    const stranger = { sender: { id: 999, mainFrame: frame }, senderFrame: frame };
    const refused = (await handler(stranger as unknown as IpcMainInvokeEvent, undefined)) as Result<unknown>;
    expect(refused.ok).toBe(false);
    // The app's own window, navigated to a file:// page (the old way of loading it), is no longer the app.
    const filePage = { ...frame, url: 'file:///app/.vite/renderer/main_window/index.html' };
    const onFile = { sender: { id: win.webContents.id, mainFrame: filePage }, senderFrame: filePage };
    expect(((await handler(onFile as unknown as IpcMainInvokeEvent, undefined)) as Result<unknown>).ok).toBe(false);
  });

  it('relays engine events and status to the app windows', async () => {
    await launch();
    const win = h.FakeBrowserWindow.created[0]!;
    const o = engineHost.options!;
    o.events?.chatToken?.({ conversationId: 2, token: 'hello', count: 1 });
    o.onStatus?.({ state: 'restarting', restarts: 1 });
    expect(win.webContents.send).toHaveBeenCalledWith(wire('chat.token'), {
      conversationId: 2,
      token: 'hello',
      count: 1,
    });
    expect(win.webContents.send).toHaveBeenCalledWith(wire('engine.status'), { state: 'restarting', restarts: 1 });
  });

  it('hardens every WebContents that is created', async () => {
    const w = await launch();
    const contents = { on: vi.fn(), setWindowOpenHandler: vi.fn() };
    w.electron.app.emit('web-contents-created', {}, contents);
    expect(contents.setWindowOpenHandler).toHaveBeenCalled();
    expect(contents.on).toHaveBeenCalledWith('will-navigate', expect.any(Function));
  });

  it('a second launch focuses the window, or starts screenshot-and-ask with --ask-screen', async () => {
    const w = await launch();
    const main = h.FakeBrowserWindow.created[0]!;
    w.electron.app.emit('second-instance', {}, ['glance'], '/', {});
    expect(main.focus).toHaveBeenCalled();
    expect(h.FakeBrowserWindow.created).toHaveLength(1);
    w.electron.app.emit('second-instance', {}, ['glance', '--ask-screen'], '/', {});
    // the overlay opens once the display's picture is taken
    await vi.waitFor(() => expect(h.FakeBrowserWindow.created).toHaveLength(2));
    expect(h.FakeBrowserWindow.created[1]!.options).toMatchObject({ transparent: true, width: 1280, height: 800 });
  });

  it('X11: no portal switches; the overlay covers the display under the pointer, on top', async () => {
    const w = await launch();
    expect(w.electron.app.commandLine.appendSwitch).not.toHaveBeenCalled();
    w.electron.app.emit('second-instance', {}, ['glance', '--ask-screen'], '/', {});
    await vi.waitFor(() => expect(h.FakeBrowserWindow.created).toHaveLength(2));
    const overlay = h.FakeBrowserWindow.created[1]!;
    expect(overlay.options).toMatchObject({ x: 0, y: 0, width: 1280, height: 800, alwaysOnTop: true });
    expect(overlay.setAlwaysOnTop).toHaveBeenCalledWith(true, 'screen-saver');
  });

  it('Wayland: the shortcuts portal is enabled before ready; capture takes the picked screen, nothing is placed', async () => {
    vi.stubEnv('XDG_SESSION_TYPE', 'wayland');
    const sharp = (await import('sharp')).default;
    const w = await launch({ ready: false });
    expect(w.electron.app.commandLine.appendSwitch).toHaveBeenCalledWith(
      'enable-features',
      'GlobalShortcutsPortal,GlobalShortcutsPortalPreferredTrigger',
    );
    expect(w.electron.app.whenReady).toHaveBeenCalled();
    expect(h.calls).not.toContain('ready'); // the switch went in before ready
    w.ready();
    await vi.waitFor(() => expect(h.calls).toContain('protocol.handle'));
    h.picture.png = await sharp({ create: { width: 1280, height: 800, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    w.electron.app.emit('second-instance', {}, ['glance', '--ask-screen'], '/', {});
    await vi.waitFor(() => expect(h.FakeBrowserWindow.created).toHaveLength(2));
    expect(w.electron.desktopCapturer.getSources).toHaveBeenCalledWith({
      types: ['screen'],
      thumbnailSize: { width: 1280, height: 800 },
    });
    const overlay = h.FakeBrowserWindow.created[1]!;
    expect(overlay.options).toMatchObject({ fullscreen: true, width: 1280, height: 800 });
    expect(overlay.options).not.toHaveProperty('x');
    expect(overlay.options).not.toHaveProperty('alwaysOnTop');
    expect(overlay.setAlwaysOnTop).not.toHaveBeenCalled();
    // the overlay's selection: the ask window opens where the desktop puts it
    expect(
      await callFromMainWindow(w.electron, 'capture.select', { rect: { x: 10, y: 10, width: 50, height: 40 } }),
    ).toMatchObject({ ok: true });
    expect(overlay.close).toHaveBeenCalled();
    expect(h.FakeBrowserWindow.created).toHaveLength(3);
    const ask = h.FakeBrowserWindow.created[2]!;
    expect(ask.options).not.toHaveProperty('alwaysOnTop');
    expect(ask.setPosition).not.toHaveBeenCalled();
  });

  it('macOS on first use: getSources makes the system ask; still not granted, the person is told where', async () => {
    setPlatform('darwin');
    const w = await launch();
    w.electron.systemPreferences.getMediaAccessStatus.mockImplementation(() => 'not-determined');
    w.electron.app.emit('second-instance', {}, ['glance', '--ask-screen'], '/', {});
    await vi.waitFor(() => expect(w.electron.dialog.showMessageBox).toHaveBeenCalled());
    expect(w.electron.desktopCapturer.getSources).toHaveBeenCalledTimes(1);
    expect(w.electron.desktopCapturer.getSources).toHaveBeenCalledWith({
      types: ['screen'],
      thumbnailSize: { width: 0, height: 0 },
    });
    expect(w.electron.systemPreferences.getMediaAccessStatus).toHaveBeenCalledTimes(2); // before and after asking
    expect(w.electron.dialog.showMessageBox).toHaveBeenCalledWith(
      expect.objectContaining({ message: expect.stringContaining('Screen & System Audio Recording') }),
    );
    expect(h.FakeBrowserWindow.created).toHaveLength(1); // no overlay
  });

  it('macOS: once the capture windows are closed the Dock icon comes back', async () => {
    setPlatform('darwin');
    const w = await launch();
    w.electron.app.emit('second-instance', {}, ['glance', '--ask-screen'], '/', {});
    await vi.waitFor(() => expect(h.FakeBrowserWindow.created).toHaveLength(2));
    const overlay = h.FakeBrowserWindow.created[1]!;
    expect(overlay.setVisibleOnAllWorkspaces).toHaveBeenCalledWith(true, { visibleOnFullScreen: true });
    expect(w.electron.app.dock.show).not.toHaveBeenCalled();
    overlay.emit('closed');
    expect(w.electron.app.dock.show).toHaveBeenCalledTimes(1);
  });

  it('stops the engine before quitting, once', async () => {
    const w = await launch();
    const engine = engineHost.engine as FakeEngine;
    const first = { preventDefault: vi.fn() };
    w.electron.app.emit('before-quit', first);
    expect(first.preventDefault).toHaveBeenCalled();
    expect(engine.stop).toHaveBeenCalledTimes(1);
    expect(w.electron.app.quit).not.toHaveBeenCalled();
    // a second Quit while it stops changes nothing
    const second = { preventDefault: vi.fn() };
    w.electron.app.emit('before-quit', second);
    expect(second.preventDefault).toHaveBeenCalled();
    expect(engine.stop).toHaveBeenCalledTimes(1);
    engine.finishStopping();
    await vi.waitFor(() => expect(w.electron.app.quit).toHaveBeenCalledTimes(1));
    expect(w.electron.ipcMain.handlers.size).toBe(0);
    // the quit that follows goes through
    const last = { preventDefault: vi.fn() };
    w.electron.app.emit('before-quit', last);
    expect(last.preventDefault).not.toHaveBeenCalled();
  });
});

it('the fakes are event emitters like the real app', () => {
  expect(h.electron.app).toBeInstanceOf(EventEmitter);
});
