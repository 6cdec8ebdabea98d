// electron-builder turns the app Electron Forge packaged (out/Glance-<platform>-<arch>) into installers and update
// metadata: `npm run make` runs it with `--prepackaged`, through packaging/make.ts. electron-builder 26 reads a
// TypeScript config itself (jiti), so `npx electron-builder --config electron-builder.config.ts --prepackaged DIR`
// works as well.
//
// With --prepackaged electron-builder copies no files: its `files` filters and `afterPack` hooks never run. Which
// binaries an installer carries is therefore settled when Forge packages the app (packaging/natives.ts's rules,
// applied by forge.config.ts for the platform, arch and GLANCE_LLAMA_BACKENDS being packaged); this config names
// the installers, their update feed and, through the same target, their flavour.
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

/** Where releases are served from; a placeholder until there is a server (set GLANCE_UPDATE_URL). */
export const UPDATE_URL_PLACEHOLDER = 'https://updates.glance.invalid';

/** electron-builder's `${os}` names. */
const BUILDER_OS: Record<string, string> = { darwin: 'mac', linux: 'linux', win32: 'win' };

/** This machine, with the backends GLANCE_LLAMA_BACKENDS asks for. */
export const hostTarget = (): Target => targetFor(process.platform, process.arch);

/**
 * The generic-provider feed an installed app polls: one folder per platform, arch and flavour, so that an arm64 Mac
 * never reads the x64 Mac's latest-mac.yml and a CUDA build only updates to CUDA builds.
 */
export function updateFeed(
  t: Target,
  base: string = process.env.GLANCE_UPDATE_URL || UPDATE_URL_PLACEHOLDER,
): { provider: 'generic'; url: string } {
  const os = BUILDER_OS[t.platform] ?? t.platform;
  return { provider: 'generic', url: `${base.replace(/\/+$/, '')}/${os}/${t.arch}${flavour(t)}` };
}

/** The app-update.yml electron-updater reads from the resources folder (electron-builder writes it only when it packs). */
export function appUpdateYml(t: Target): string {
  const feed = updateFeed(t);
  return `provider: ${feed.provider}\nurl: ${feed.url}\nupdaterCacheDirName: ${EXECUTABLE_NAME}-updater\n`;
}

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
    publish: updateFeed(t),
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
