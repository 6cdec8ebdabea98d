// electron-builder turns the app Electron Forge packaged (out/Glance-<platform>-<arch>) into installers and update
// metadata: `npm run make` runs it with `--prepackaged`, through packaging/make.ts. electron-builder 26 reads a
// TypeScript config itself (jiti), so `npx electron-builder --config electron-builder.config.ts --prepackaged DIR`
// works as well.
//
// With --prepackaged electron-builder copies no files: its `files` filters and `afterPack` hooks never run. Which
// binaries an installer carries is therefore settled when Forge packages the app (packaging/natives.ts's rules,
// applied by forge.config.ts for the platform, arch and GLANCE_LLAMA_BACKENDS being packaged); this config names
// the installers and, through the same target, their flavour (no update feed: see UPDATE_FEED).
import type { Configuration } from 'electron-builder';
import { flavour, type Target, targetFor } from './packaging/natives.ts';

export const APP_ID = 'app.glance.desktop';
export const PRODUCT_NAME = 'Glance';
/** Lower case: Linux's convention, and electron-builder's Linux default; Forge's packagerConfig uses the same. */
export const EXECUTABLE_NAME = 'glance';

/**
 * Linux: the installed .desktop file's name, also package.json's "desktopName" (Electron reads it there). It is the
 * app's identity on the desktop: Wayland's app_id and what the GlobalShortcuts portal knows Glance by; a name that
 * matches no installed .desktop file makes the portal refuse the shortcut while register() still says yes.
 * `linux.syncDesktopName` makes electron-builder install the file under this name (by default it would be
 * glance.desktop, not a reverse-DNS id).
 */
export const DESKTOP_NAME = `${APP_ID}.desktop`;

/**
 * No update feed: nothing in the app reads one yet (no electron-updater, no signed releases, no server), and a
 * half-configured feed is worse than none — the generated app-update.yml named no publisher, so a Windows signature
 * check would have been skipped. Glance updates by installing a newer version until updates verify themselves
 * (README, Security: "Updates"). The installers are built with `publish: null` and no app-update.yml is written.
 */
export const UPDATE_FEED = null;

/** This machine, with the backends GLANCE_LLAMA_BACKENDS asks for. */
export const hostTarget = (): Target => targetFor(process.platform, process.arch);

/** Where `electron-forge package` leaves the app for a target (what --prepackaged takes). */
export function prepackagedPath(t: Target, outDir = 'out'): string {
  const dir = `${outDir}/${PRODUCT_NAME}-${t.platform}-${t.arch}`;
  return t.platform === 'darwin' ? `${dir}/${PRODUCT_NAME}.app` : dir;
}

export function builderConfig(t: Target = hostTarget()): Configuration {
  return {
    appId: APP_ID,
    productName: PRODUCT_NAME,
    executableName: EXECUTABLE_NAME,
    directories: { output: 'out/make' },
    // e.g. Glance-0.1.0-linux-x64.AppImage, Glance-0.1.0-win-x64-cuda.exe
    artifactName: `\${productName}-\${version}-\${os}-\${arch}${flavour(t)}.\${ext}`,
    publish: UPDATE_FEED, // no update feed: see UPDATE_FEED
    linux: {
      target: ['AppImage', 'deb'],
      syncDesktopName: true, // the .desktop file is named after package.json's desktopName (DESKTOP_NAME)
      category: 'Graphics',
      synopsis: 'Photo tagging, search and vision chat, on your own machine',
      // deb needs a maintainer; package.json has no author yet
      maintainer: 'Glance <glance@glance.invalid>',
    },
    mac: {
      target: ['dmg'],
      category: 'public.app-category.photography',
    },
    win: {
      target: ['nsis'],
    },
    nsis: {
      oneClick: false,
      perMachine: false,
      allowToChangeInstallationDirectory: true,
    },
  };
}

export default builderConfig();
