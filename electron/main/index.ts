// The desktop app's main process: lifecycle and wiring only. Everything with logic lives in the modules it imports.
import path from 'node:path';
import { app, type BrowserWindow, dialog, ipcMain, nativeImage, protocol, screen, session, type Tray } from 'electron';
import { resolveHome } from '../engine/paths.ts';
import type { EngineSupervisor } from '../engine/process/supervisor.ts';
import { createBackend } from './backend.ts';
import { startEngine } from './engine-host.ts';
import { handleGlanceProtocol, registerGlanceScheme } from './protocol.ts';
import { registerRouter } from './router.ts';
import { AppContents, type AppLocation, applySessionSecurity, hardenContents, trustedSender } from './security.ts';
import { createTray, FALLBACK_TRAY_ICON } from './tray.ts';
import { appFiles, broadcast, createCaptureOverlay, createMainWindow } from './windows.ts';

/** Passed by a second launch (a desktop shortcut, a system hotkey) to start screenshot-and-ask in the running app. */
export const ASK_SCREEN_ARG = '--ask-screen';

function main(): void {
  // Both before `ready`: privileged schemes are fixed at startup, and every renderer is sandboxed.
  registerGlanceScheme(protocol);
  app.enableSandbox();

  if (!app.requestSingleInstanceLock()) {
    app.quit(); // the running Glance got our argv in its 'second-instance'
    return;
  }

  const files = appFiles();
  // In development only the dev server's pages are the app's; in the package only the renderer folder's.
  const location: AppLocation = files.devServerUrl
    ? { devServerUrl: files.devServerUrl }
    : { rendererDir: files.rendererDir };
  const contents = new AppContents();
  const home = resolveHome();
  let mainWindow: BrowserWindow | null = null;
  let overlay: BrowserWindow | null = null;
  let engine: EngineSupervisor | null = null;
  let unregisterRouter: (() => void) | null = null;
  let tray: Tray | null = null; // held here: a tray nobody references is garbage-collected off the screen

  const showMainWindow = () => {
    if (!app.isReady()) return;
    if (!mainWindow || mainWindow.isDestroyed()) {
      mainWindow = createMainWindow({ files, contents });
      mainWindow.on('closed', () => {
        mainWindow = null;
      });
      return;
    }
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.show();
    mainWindow.focus();
  };

  // Screenshot-and-ask starts with the region picker on the display under the pointer; the capture and the ask
  // window that follow belong to the screenshot work.
  const askAboutScreen = () => {
    if (!app.isReady()) return;
    if (overlay && !overlay.isDestroyed()) return overlay.focus();
    const display = screen.getDisplayNearestPoint(screen.getCursorScreenPoint());
    overlay = createCaptureOverlay({ files, contents, bounds: display.bounds });
    overlay.on('closed', () => {
      overlay = null;
    });
  };

  app.on('web-contents-created', (_event, created) => hardenContents(created, location));

  app.on('second-instance', (_event, argv) => {
    if (argv.includes(ASK_SCREEN_ARG)) askAboutScreen();
    else showMainWindow();
  });

  // Closing the last window leaves Glance in the tray: indexing and the ask hotkey keep working.
  app.on('window-all-closed', () => {});
  app.on('activate', () => showMainWindow());

  // Quitting waits for the engine to finish: generation stopped, model released, database closed.
  let quit: 'running' | 'stopping' | 'done' = 'running';
  app.on('before-quit', (event) => {
    if (quit === 'done') return;
    event.preventDefault();
    if (quit === 'stopping') return;
    quit = 'stopping';
    unregisterRouter?.();
    Promise.resolve(engine?.stop())
      .catch((err: unknown) => console.error(`Glance: the engine did not stop cleanly: ${String(err)}`))
      .finally(() => {
        quit = 'done';
        tray?.destroy();
        app.quit();
      });
  });

  app
    .whenReady()
    .then(() => {
      applySessionSecurity(session.defaultSession, location);
      // The engine's bundle does not sit where the sources do: tell it where the vocabulary is.
      process.env.GLANCE_RESOURCES ??= resourcesDir();
      engine = startEngine({
        home,
        entry: files.engine,
        events: {
          chatToken: (e) => broadcast(contents, 'chat.token', e),
          libraryProgress: (p) => broadcast(contents, 'library.progress', p),
          modelsProgress: (p) => broadcast(contents, 'models.progress', p),
        },
        onStatus: (s) => broadcast(contents, 'engine.status', s),
      });
      const backend = createBackend({
        engine,
        dataFolder: home,
        pickFolder: async () => {
          const options = { title: 'Add a photo folder', properties: ['openDirectory' as const] };
          const r = mainWindow
            ? await dialog.showOpenDialog(mainWindow, options)
            : await dialog.showOpenDialog(options);
          return r.canceled ? null : (r.filePaths[0] ?? null);
        },
        startCapture: askAboutScreen,
      });
      unregisterRouter = registerRouter(ipcMain, backend.handlers, trustedSender(location, contents));
      handleGlanceProtocol(session.defaultSession.protocol, {
        thumbnail: backend.resolveThumbnail,
        attachment: backend.resolveAttachment,
      });
      showMainWindow();
      tray ??= createTray(trayIcon(), { open: showMainWindow, askAboutScreen, quit: () => app.quit() });
      if (process.argv.includes(ASK_SCREEN_ARG)) askAboutScreen();
    })
    .catch((err: unknown) => {
      dialog.showErrorBox('Glance could not start', err instanceof Error ? err.message : String(err));
      app.exit(1);
    });
}

/** The shipped resources/ folder: beside the package's asar (Forge's extraResource), or in the repository. */
function resourcesDir(): string {
  return app.isPackaged ? path.join(process.resourcesPath, 'resources') : path.join(app.getAppPath(), 'resources');
}

/** resources/icons/tray.png when the package has one, else a plain built-in mark. */
function trayIcon() {
  const icon = nativeImage.createFromPath(path.join(resourcesDir(), 'icons', 'tray.png'));
  return icon.isEmpty() ? nativeImage.createFromDataURL(FALLBACK_TRAY_ICON) : icon;
}

main();
