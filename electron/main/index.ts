// The desktop app's main process: lifecycle and wiring only. Everything with logic lives in the modules it imports.
import path from 'node:path';
import {
  app,
  type BrowserWindow,
  desktopCapturer,
  dialog,
  globalShortcut,
  ipcMain,
  nativeImage,
  protocol,
  screen,
  session,
  systemPreferences,
  type Tray,
} from 'electron';
import { resolveHome } from '../engine/paths.ts';
import type { EngineSupervisor } from '../engine/process/supervisor.ts';
import { captionProgressView, createBackend } from './backend.ts';
import { type CaptureFlow, createCaptureFlow } from './capture/flow.ts';
import { grabPicked, grabUnderPointer, promptScreenAccess } from './capture/grab.ts';
import { createAskHotkey, DEFAULT_ASK_HOTKEY } from './capture/hotkey.ts';
import { isWayland, type SessionProbe, withShortcutsPortal } from './display-server.ts';
import { startEngine } from './engine-host.ts';
import { handleAppProtocol, handleGlanceProtocol, registerSchemes } from './protocol.ts';
import { registerRouter } from './router.ts';
import { AppContents, type AppLocation, applySessionSecurity, CSP, hardenContents, trustedSender } from './security.ts';
import { createTray, FALLBACK_TRAY_ICON } from './tray.ts';
import { appFiles, broadcast, createAskWindow, createCaptureOverlay, createMainWindow } from './windows.ts';

/** Passed by a second launch (a desktop shortcut, a system hotkey) to start screenshot-and-ask in the running app. */
export const ASK_SCREEN_ARG = '--ask-screen';

function main(): void {
  // Both before `ready`: privileged schemes are fixed at startup, and every renderer is sandboxed.
  registerSchemes(protocol);
  app.enableSandbox();
  // Also before `ready`: on Wayland global shortcuts go through the desktop's GlobalShortcuts portal. It knows
  // Glance by package.json's desktopName, which must name the installed .desktop file (electron-builder.config.ts).
  const probe: SessionProbe = { switchValue: (name) => app.commandLine.getSwitchValue(name) };
  const wayland = isWayland(probe);
  if (wayland) {
    const features = withShortcutsPortal(
      app.commandLine.getSwitchValue('enable-features'),
      app.commandLine.getSwitchValue('disable-features'),
    );
    if (features) app.commandLine.appendSwitch('enable-features', features);
  }

  if (!app.requestSingleInstanceLock()) {
    app.quit(); // the running Glance got our argv in its 'second-instance'
    return;
  }

  const files = appFiles();
  // In development only the dev server's pages are the app's; in the package only app://glance, the renderer folder.
  const location: AppLocation = files.devServerUrl
    ? { devServerUrl: files.devServerUrl }
    : { rendererDir: files.rendererDir };
  const contents = new AppContents();
  const home = resolveHome();
  let mainWindow: BrowserWindow | null = null;
  let overlay: BrowserWindow | null = null;
  let askWindow: BrowserWindow | null = null;
  let flow: CaptureFlow | null = null;
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

  // Screenshot-and-ask: the shortcut, the tray and `--ask-screen` all start the same flow (capture/flow.ts).
  const askAboutScreen = () => {
    if (!app.isReady() || !flow) return;
    if (overlay && !overlay.isDestroyed()) return overlay.focus();
    void flow.start();
  };
  const hotkey = createAskHotkey(globalShortcut, askAboutScreen, probe);
  const warn = (message: string) => {
    void dialog.showMessageBox({ type: 'warning', title: 'Glance', message });
  };
  const close = (win: BrowserWindow | null) => {
    if (win && !win.isDestroyed()) win.close();
  };
  // The capture windows make Glance an accessory app on macOS (to show above full-screen apps): once both are
  // closed, its Dock icon comes back.
  const captureWindowClosed = () => {
    if (process.platform === 'darwin' && !overlay && !askWindow) void app.dock?.show();
  };

  const makeFlow = (engineRef: EngineSupervisor): CaptureFlow => {
    const f: CaptureFlow = createCaptureFlow({
      engine: engineRef,
      platform: process.platform,
      mediaAccess: () => systemPreferences.getMediaAccessStatus('screen'),
      requestScreenAccess: () => promptScreenAccess(desktopCapturer),
      report: warn,
      wayland,
      grab: () => (wayland ? grabPicked(desktopCapturer, screen) : grabUnderPointer(desktopCapturer, screen)),
      openOverlay: (display) => {
        overlay = createCaptureOverlay({ files, contents, wayland, bounds: display.bounds });
        const mine = overlay;
        mine.on('closed', () => {
          if (overlay === mine) overlay = null;
          f.overlayClosed();
          captureWindowClosed();
        });
      },
      closeOverlay: () => close(overlay),
      openAskWindow: (position) => {
        close(askWindow);
        askWindow = createAskWindow({ files, contents, wayland });
        if (position) askWindow.setPosition(position.x, position.y);
        const mine = askWindow;
        mine.on('closed', () => {
          if (askWindow === mine) askWindow = null;
          f.askClosed();
          captureWindowClosed();
        });
      },
      closeAskWindow: () => close(askWindow),
      showChat: (conversationId: number) => {
        showMainWindow();
        broadcast(contents, 'chat.open', { conversationId });
      },
    });
    return f;
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
    hotkey.release();
    flow?.cancel();
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
      // The packaged pages, from the renderer folder only, with the CSP as a response header.
      if (!files.devServerUrl) {
        handleAppProtocol(session.defaultSession.protocol, { rootDir: files.rendererDir, csp: CSP });
      }
      // The engine's bundle does not sit where the sources do: tell it where the vocabulary is.
      process.env.GLANCE_RESOURCES ??= resourcesDir();
      engine = startEngine({
        home,
        entry: files.engine,
        events: {
          chatToken: (e) => broadcast(contents, 'chat.token', e),
          libraryProgress: (p) => broadcast(contents, 'library.progress', p),
          duplicatesProgress: (p) => broadcast(contents, 'library.duplicatesProgress', p),
          modelsProgress: (p) => broadcast(contents, 'models.progress', p),
          captionsProgress: (p) => broadcast(contents, 'captions.progress', captionProgressView(p)),
        },
        onStatus: (s) => broadcast(contents, 'engine.status', s),
      });
      flow = makeFlow(engine);
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
        capture: flow,
        applyHotkey: (accelerator) => hotkey.apply(accelerator),
      });
      unregisterRouter = registerRouter(ipcMain, backend.handlers, trustedSender(location, contents));
      handleGlanceProtocol(session.defaultSession.protocol, {
        thumbnail: backend.resolveThumbnail,
        attachment: backend.resolveAttachment,
        capture: (id) => flow?.image(id) ?? Promise.resolve(null),
      });
      // The shortcut from settings; a refusal is said once, the app keeps working (tray, `--ask-screen`).
      void engine
        .call('settingsGet')
        .then((s) => s.hotkey || DEFAULT_ASK_HOTKEY)
        .catch(() => DEFAULT_ASK_HOTKEY)
        .then((accelerator) => {
          const refused = hotkey.apply(accelerator);
          if (refused) warn(`The screenshot shortcut is not available: ${refused}.`);
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
