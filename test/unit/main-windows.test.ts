// The three windows carry the secure preferences and load the renderer the Forge way; the tray's menu does what
// it says.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type * as ElectronModule from 'electron';
import type { BrowserWindow, BrowserWindowConstructorOptions, MenuItemConstructorOptions } from 'electron';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const fakes = vi.hoisted(() => {
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
    loadURL = vi.fn(async (_url: string) => {});
    loadFile = vi.fn(async (_file: string, _o?: { hash?: string }) => {});
    show = vi.fn();
    close = vi.fn();
    setAlwaysOnTop = vi.fn<BrowserWindow['setAlwaysOnTop']>();
    setVisibleOnAllWorkspaces = vi.fn<BrowserWindow['setVisibleOnAllWorkspaces']>();
    isDestroyed = () => false;
    constructor(readonly options: BrowserWindowConstructorOptions) {
      super();
      FakeBrowserWindow.created.push(this);
    }
  }
  class FakeTray extends EventEmitter {
    static created: FakeTray[] = [];
    menu: unknown = null;
    setToolTip = vi.fn();
    setContextMenu = vi.fn((m: unknown) => {
      this.menu = m;
    });
    constructor(readonly image: unknown) {
      super();
      FakeTray.created.push(this);
    }
  }
  const Menu = { buildFromTemplate: vi.fn((template: MenuItemConstructorOptions[]) => ({ template })) };
  return { FakeBrowserWindow, FakeTray, Menu };
});

vi.mock('electron', () => {
  const electron = {
    BrowserWindow: fakes.FakeBrowserWindow,
    Tray: fakes.FakeTray,
    Menu: fakes.Menu,
  } satisfies { [K in keyof typeof ElectronModule]?: unknown };
  return electron;
});

const { AppContents } = await import('../../electron/main/security.ts');
const { appFiles, broadcast, createAskWindow, createCaptureOverlay, createMainWindow, loadView } = await import(
  '../../electron/main/windows.ts'
);
const { createTray } = await import('../../electron/main/tray.ts');

const build = path.resolve('/app/.vite/build');
const packagedFiles = appFiles(build, undefined, 'main_window');
const devFiles = appFiles(build, 'http://localhost:5173', 'main_window');

beforeEach(() => {
  fakes.FakeBrowserWindow.created.length = 0;
});

describe('windows', () => {
  const SECURE = {
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    spellcheck: false,
    navigateOnDragDrop: false,
    webviewTag: false,
  };

  it('finds the built pieces where the Forge Vite plugin puts them', () => {
    expect(packagedFiles).toEqual({
      preload: path.join(build, 'preload.js'),
      engine: path.join(build, 'engine.js'),
      rendererDir: path.resolve('/app/.vite/renderer/main_window'),
    });
    expect(devFiles.devServerUrl).toBe('http://localhost:5173');
    // Outside a Forge build the globals do not exist; the defaults still work.
    expect(appFiles(build).rendererDir).toBe(path.resolve('/app/.vite/renderer/main_window'));
  });

  it('all three carry the secure preferences, start hidden and are registered as the app', () => {
    const contents = new AppContents();
    const o = { files: packagedFiles, contents };
    const wins = [
      createMainWindow(o),
      createAskWindow(o),
      createCaptureOverlay({ ...o, bounds: { x: 0, y: 0, width: 1920, height: 1080 } }),
    ];
    for (const win of wins) {
      const fake = win as unknown as InstanceType<typeof fakes.FakeBrowserWindow>;
      expect(fake.options.show).toBe(false);
      expect(fake.options.webPreferences).toMatchObject({ ...SECURE, preload: packagedFiles.preload });
      expect(contents.has(fake.webContents.id)).toBe(true);
      expect(fake.show).not.toHaveBeenCalled();
      fake.emit('ready-to-show');
      expect(fake.show).toHaveBeenCalled();
    }
  });

  it('the main window has a minimum size and loads the packaged index.html through the app scheme', () => {
    const win = createMainWindow({ files: packagedFiles, contents: new AppContents() }) as unknown as InstanceType<
      typeof fakes.FakeBrowserWindow
    >;
    expect(win.options.minWidth).toBeGreaterThan(0);
    expect(win.options.minHeight).toBeGreaterThan(0);
    expect(win.loadURL.mock.calls).toEqual([['app://glance/index.html']]);
    // never a file:// page
    expect(win.loadFile).not.toHaveBeenCalled();
  });

  it('loads views from the dev server in development', async () => {
    const win = new fakes.FakeBrowserWindow({});
    await loadView(win as never, devFiles, 'main');
    await loadView(win as never, devFiles, 'ask');
    expect(win.loadURL.mock.calls).toEqual([['http://localhost:5173/'], ['http://localhost:5173/#ask']]);
    expect(win.loadFile).not.toHaveBeenCalled();
  });

  it('loads the packaged views from app://glance, the view in the hash, never from file://', async () => {
    const win = new fakes.FakeBrowserWindow({});
    for (const view of ['main', 'ask', 'capture'] as const) await loadView(win as never, packagedFiles, view);
    expect(win.loadURL.mock.calls).toEqual([
      ['app://glance/index.html'],
      ['app://glance/index.html#ask'],
      ['app://glance/index.html#capture'],
    ]);
    expect(win.loadFile).not.toHaveBeenCalled();
    // every window of the package: main, ask and the capture overlay
    const contents = new AppContents();
    const o = { files: packagedFiles, contents };
    const wins = [
      createMainWindow(o),
      createAskWindow(o),
      createCaptureOverlay({ ...o, bounds: { x: 0, y: 0, width: 800, height: 600 } }),
    ] as unknown as InstanceType<typeof fakes.FakeBrowserWindow>[];
    expect(wins.map((w) => w.loadURL.mock.calls)).toEqual([
      [['app://glance/index.html']],
      [['app://glance/index.html#ask']],
      [['app://glance/index.html#capture']],
    ]);
    for (const w of wins) expect(w.loadFile).not.toHaveBeenCalled();
  });

  it('the ask window floats; the overlay is transparent over the display and closes on Escape', () => {
    const contents = new AppContents();
    const ask = createAskWindow({ files: packagedFiles, contents }) as unknown as InstanceType<
      typeof fakes.FakeBrowserWindow
    >;
    expect(ask.options).toMatchObject({ frame: false, alwaysOnTop: true, skipTaskbar: true });
    const bounds = { x: 1920, y: 0, width: 2560, height: 1440 };
    const overlay = createCaptureOverlay({ files: packagedFiles, contents, bounds }) as unknown as InstanceType<
      typeof fakes.FakeBrowserWindow
    >;
    expect(overlay.options).toMatchObject({
      ...bounds,
      frame: false,
      transparent: true,
      alwaysOnTop: true,
      skipTaskbar: true,
      resizable: false,
    });
    const keyA = { preventDefault: vi.fn() };
    overlay.webContents.emit('before-input-event', keyA, { type: 'keyDown', key: 'a' });
    expect(overlay.close).not.toHaveBeenCalled();
    const escKey = { preventDefault: vi.fn() };
    overlay.webContents.emit('before-input-event', escKey, { type: 'keyDown', key: 'Escape' });
    expect(escKey.preventDefault).toHaveBeenCalled();
    expect(overlay.close).toHaveBeenCalled();
  });

  it('macOS full-screen Spaces: the overlay and the ask window show above a full-screen app', () => {
    const contents = new AppContents();
    const bounds = { x: 0, y: 0, width: 1440, height: 900 };
    const overlay = createCaptureOverlay({ files: packagedFiles, contents, bounds }) as unknown as InstanceType<
      typeof fakes.FakeBrowserWindow
    >;
    expect(overlay.setAlwaysOnTop).toHaveBeenCalledWith(true, 'screen-saver');
    expect(overlay.setVisibleOnAllWorkspaces).toHaveBeenCalledWith(true, { visibleOnFullScreen: true });
    const ask = createAskWindow({ files: packagedFiles, contents }) as unknown as InstanceType<
      typeof fakes.FakeBrowserWindow
    >;
    expect(ask.setVisibleOnAllWorkspaces).toHaveBeenCalledWith(true, { visibleOnFullScreen: true });
    // set before the window is first shown
    for (const w of [overlay, ask]) {
      expect(w.show).not.toHaveBeenCalled();
      w.emit('ready-to-show');
      expect(w.show).toHaveBeenCalled();
    }
  });

  it('Wayland: the overlay asks to be full screen, nothing is placed or kept on top; Escape still closes it', () => {
    const contents = new AppContents();
    const bounds = { x: 0, y: 0, width: 1280, height: 720 };
    const overlay = createCaptureOverlay({
      files: packagedFiles,
      contents,
      bounds,
      wayland: true,
    }) as unknown as InstanceType<typeof fakes.FakeBrowserWindow>;
    expect(overlay.options).toMatchObject({ fullscreen: true, frame: false, transparent: true, width: 1280 });
    for (const key of ['x', 'y', 'alwaysOnTop', 'enableLargerThanScreen'] as const) {
      expect(overlay.options, key).not.toHaveProperty(key);
    }
    expect(overlay.setAlwaysOnTop).not.toHaveBeenCalled();
    expect(overlay.setVisibleOnAllWorkspaces).not.toHaveBeenCalled();
    const esc = { preventDefault: vi.fn() };
    overlay.webContents.emit('before-input-event', esc, { type: 'keyDown', key: 'Escape' });
    expect(overlay.close).toHaveBeenCalled();
    const ask = createAskWindow({ files: packagedFiles, contents, wayland: true }) as unknown as InstanceType<
      typeof fakes.FakeBrowserWindow
    >;
    expect(ask.options).not.toHaveProperty('alwaysOnTop');
    expect(ask.options).not.toHaveProperty('x');
    expect(ask.setVisibleOnAllWorkspaces).not.toHaveBeenCalled();
  });

  it('broadcast sends an event to every live app window on its wire name', () => {
    const contents = new AppContents();
    const a = createMainWindow({ files: packagedFiles, contents }) as unknown as InstanceType<
      typeof fakes.FakeBrowserWindow
    >;
    const b = createAskWindow({ files: packagedFiles, contents }) as unknown as InstanceType<
      typeof fakes.FakeBrowserWindow
    >;
    b.webContents.emit('destroyed');
    broadcast(contents, 'engine.status', { state: 'ready', restarts: 0 });
    expect(a.webContents.send).toHaveBeenCalledWith('glance:engine.status', { state: 'ready', restarts: 0 });
    expect(b.webContents.send).not.toHaveBeenCalled();
  });
});

describe('tray', () => {
  it('offers Open, Ask about the screen and Quit', () => {
    const actions = { open: vi.fn(), askAboutScreen: vi.fn(), quit: vi.fn() };
    createTray('/icon.png', actions);
    const tray = fakes.FakeTray.created.at(-1)!;
    expect(tray.image).toBe('/icon.png');
    const template = (tray.menu as { template: MenuItemConstructorOptions[] }).template;
    const item = (label: string) => template.find((i) => i.label === label)!;
    expect(template.filter((i) => i.label).map((i) => i.label)).toEqual([
      'Open Glance',
      'Ask about the screen…',
      'Quit',
    ]);
    const click = (label: string) => (item(label).click as () => void)();
    click('Open Glance');
    expect(actions.open).toHaveBeenCalledTimes(1);
    click('Ask about the screen…');
    expect(actions.askAboutScreen).toHaveBeenCalledTimes(1);
    click('Quit');
    expect(actions.quit).toHaveBeenCalledTimes(1);
    tray.emit('click');
    expect(actions.open).toHaveBeenCalledTimes(2);
  });
});

// Keeps the fake honest about the one thing windows.ts relies on: WebContents are event emitters.
it('fakes are event emitters like the real objects', () => {
  expect(new fakes.FakeBrowserWindow({}).webContents).toBeInstanceOf(EventEmitter);
});
