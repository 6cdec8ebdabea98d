// The app's windows: the main window, the small ask window and the screen-capture overlay. Every one gets the same
// secure preferences and is registered as the app's own (the IPC sender check and event relay read the registry).
// Their content is the one renderer bundle; the view is chosen by the URL's hash (#ask, #capture).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserWindow, type BrowserWindowConstructorOptions, type Rectangle } from 'electron';
import { type AppEvent, type AppEvents, wire } from '../ipc/contract.ts';
import { appPageUrl } from './protocol.ts';
import { type AppContents, type AppLocation, secureWebPreferences } from './security.ts';

// Set by Electron Forge's Vite plugin at build time (`define`): the dev server while `electron-forge start` runs,
// and the renderer's name, which is its folder under .vite/renderer/ in the package.
declare global {
  const MAIN_WINDOW_VITE_DEV_SERVER_URL: string | undefined;
  const MAIN_WINDOW_VITE_NAME: string | undefined;
}

/** The folder of the built main process (.vite/build/): preload.js and engine.js sit beside main.js. */
export const BUILD_DIR = path.dirname(fileURLToPath(import.meta.url));

export interface AppFiles extends AppLocation {
  preload: string;
  engine: string;
  /** The packaged renderer's folder, served as app://glance/ (protocol.ts); its index.html is every window's page. */
  rendererDir: string;
}

/** Where the built pieces are, following the Forge Vite plugin's layout. */
export function appFiles(
  buildDir: string = BUILD_DIR,
  devServerUrl: string | undefined = typeof MAIN_WINDOW_VITE_DEV_SERVER_URL === 'undefined'
    ? undefined
    : MAIN_WINDOW_VITE_DEV_SERVER_URL,
  rendererName: string = (typeof MAIN_WINDOW_VITE_NAME === 'undefined' ? undefined : MAIN_WINDOW_VITE_NAME) ??
    'main_window',
): AppFiles {
  return {
    preload: path.join(buildDir, 'preload.js'),
    engine: path.join(buildDir, 'engine.js'),
    rendererDir: path.join(buildDir, '..', 'renderer', rendererName),
    ...(devServerUrl ? { devServerUrl } : {}),
  };
}

export type View = 'main' | 'ask' | 'capture';

export interface WindowOptions {
  files: AppFiles;
  contents: AppContents;
  /**
   * Wayland (display-server.ts): the desktop places and stacks windows; an app cannot position them or keep them on
   * top, so the capture windows ask for none of it there.
   */
  wayland?: boolean;
}

/**
 * Above full-screen apps (macOS Spaces) and on every workspace, for the capture windows. On macOS this turns Glance
 * into an accessory app while they are open (the Dock icon goes away); index.ts shows the Dock icon again after.
 */
function aboveFullScreenApps(win: BrowserWindow): void {
  win.setVisibleOnAllWorkspaces(true, { visibleOnFullScreen: true });
}

/**
 * Loads a view of the renderer: from the dev server in development, otherwise from `app://glance/index.html`, the
 * packaged files served by the app scheme's handler. Never a file:// page.
 */
export function loadView(win: Pick<BrowserWindow, 'loadURL'>, files: AppFiles, view: View): Promise<void> {
  const hash = view === 'main' ? undefined : view;
  if (files.devServerUrl) {
    const url = new URL(files.devServerUrl);
    if (hash) url.hash = hash;
    return win.loadURL(url.toString());
  }
  return win.loadURL(appPageUrl(hash));
}

function open(o: WindowOptions, view: View, options: BrowserWindowConstructorOptions): BrowserWindow {
  const win = new BrowserWindow({ ...options, show: false, webPreferences: secureWebPreferences(o.files.preload) });
  o.contents.add(win.webContents);
  win.once('ready-to-show', () => win.show());
  loadView(win, o.files, view).catch((err: unknown) => {
    // A page that does not load is a broken build; say which, rather than showing an empty window forever.
    console.error(`Glance: the ${view} view did not load: ${err instanceof Error ? err.message : String(err)}`);
  });
  return win;
}

export function createMainWindow(o: WindowOptions): BrowserWindow {
  return open(o, 'main', {
    title: 'Glance',
    width: 1200,
    height: 800,
    minWidth: 720,
    minHeight: 480,
    backgroundColor: '#1e1e1e',
    autoHideMenuBar: true,
  });
}

/**
 * The small window of screenshot-and-ask: the picture and its conversation, above other windows (full-screen apps
 * included). On Wayland an ordinary window, which the desktop places.
 */
export function createAskWindow(o: WindowOptions): BrowserWindow {
  const win = open(o, 'ask', {
    title: 'Ask Glance',
    width: 440,
    height: 600,
    minWidth: 360,
    minHeight: 320,
    frame: false,
    skipTaskbar: true,
    fullscreenable: false,
    backgroundColor: '#1e1e1e',
    ...(o.wayland ? {} : { alwaysOnTop: true }),
  });
  if (!o.wayland) aboveFullScreenApps(win);
  return win;
}

/**
 * The region picker: transparent, frameless, over one whole display, above full-screen apps and menus (the
 * 'screen-saver' level, the way screenshot tools sit). On Wayland, where a window can be neither placed nor kept on
 * top, it asks to be full screen and the desktop shows it (bounds then give only its size). Escape or losing focus
 * closes it.
 */
export function createCaptureOverlay(o: WindowOptions & { bounds: Rectangle }): BrowserWindow {
  const common: BrowserWindowConstructorOptions = {
    frame: false,
    transparent: true,
    skipTaskbar: true,
    resizable: false,
    movable: false,
    minimizable: false,
    maximizable: false,
    hasShadow: false,
  };
  const win = o.wayland
    ? open(o, 'capture', {
        ...common,
        width: o.bounds.width,
        height: o.bounds.height,
        fullscreenable: true,
        fullscreen: true,
      })
    : open(o, 'capture', {
        ...common,
        ...o.bounds,
        alwaysOnTop: true,
        fullscreenable: false,
        enableLargerThanScreen: true,
      });
  if (!o.wayland) {
    win.setAlwaysOnTop(true, 'screen-saver');
    aboveFullScreenApps(win);
  }
  // The main process owns the way out, whatever state the page is in.
  win.webContents.on('before-input-event', (event, input) => {
    if (input.type === 'keyDown' && input.key === 'Escape') {
      event.preventDefault();
      win.close();
    }
  });
  win.on('blur', () => {
    if (!win.isDestroyed()) win.close();
  });
  return win;
}

/** Pushes an event to every window of the app. */
export function broadcast<E extends AppEvent>(
  contents: Pick<AppContents, 'all'>,
  event: E,
  payload: AppEvents[E],
): void {
  for (const c of contents.all()) c.send(wire(event), payload);
}
