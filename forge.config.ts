// Electron Forge: `npm start` (dev, with Vite's dev server for the window) and `npm run package` (the app folder
// out/Glance-<platform>-<arch>, which electron-builder turns into installers; see electron-builder.config.ts).
//
// What goes into the app: the Vite bundles (.vite/), package.json, and node_modules reduced to the production tree
// of the packages the bundles leave external (packaging/natives.ts). Forge's Vite plugin alone would ship `.vite`
// only and the app would die on its first `import 'better-sqlite3'`; the `ignore` below is the established fix
// (electron/forge#3738). Forge then rebuilds better-sqlite3 for Electron's ABI (the other bindings are N-API),
// the prune hook drops other platforms' and unwanted backends' binaries, and asar keeps every native file outside
// the archive.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FuseV1Options, FuseVersion } from '@electron/fuses';
import { FusesPlugin } from '@electron-forge/plugin-fuses';
import { VitePlugin } from '@electron-forge/plugin-vite';
import type { ForgeConfig } from '@electron-forge/shared-types';
import { APP_ID, EXECUTABLE_NAME, PRODUCT_NAME } from './electron-builder.config.ts';
import {
  ASAR_UNPACK,
  appIgnore,
  asarUnpackDir,
  productionClosure,
  pruneApp,
  RUNTIME_EXTERNALS,
  targetFor,
} from './packaging/natives.ts';

const root = path.dirname(fileURLToPath(import.meta.url));
const shipped = productionClosure(root, RUNTIME_EXTERNALS);

const config: ForgeConfig = {
  packagerConfig: {
    name: PRODUCT_NAME,
    executableName: EXECUTABLE_NAME,
    appBundleId: APP_ID,
    appCategoryType: 'public.app-category.photography',
    asar: { unpack: ASAR_UNPACK, unpackDir: asarUnpackDir() },
    prune: true,
    ignore: appIgnore(shipped.dirs),
    // resources/ lands in the resources folder as resources/ (the engine reads resources/vocabulary.json three
    // folders above .vite/build/engine.js, which is app.asar's parent)
    extraResource: [path.join(root, 'resources')],
  },
  // better-sqlite3 is the one binding built against V8 rather than N-API: it needs Electron's ABI.
  rebuildConfig: { onlyModules: ['better-sqlite3'] },
  makers: [], // installers come from electron-builder (npm run make)
  hooks: {
    prePackage: async () => {
      if (shipped.missing.length) {
        throw new Error(`packages the app needs are not installed (run npm ci): ${shipped.missing.join(', ')}`);
      }
    },
    packageAfterPrune: async (_config, buildPath, _electronVersion, platform, arch) => {
      const target = targetFor(platform, arch);
      const removed = pruneApp(buildPath, target);
      console.log(
        `Glance: left out ${removed.length} paths not for ${platform}-${arch} (${target.backends.join('+')})`,
      );
      const absent = RUNTIME_EXTERNALS.filter(
        (name) => !existsSync(path.join(buildPath, 'node_modules', name, 'package.json')),
      );
      if (absent.length) throw new Error(`the app would ship without ${absent.join(', ')}`);
    },
  },
  plugins: [
    new VitePlugin({
      build: [
        { entry: 'electron/main/index.ts', config: 'vite.main.config.ts', target: 'main' },
        { entry: 'electron/preload/index.ts', config: 'vite.preload.config.ts', target: 'preload' },
        // engine.js, which the main process starts with utilityProcess.fork
        { entry: 'electron/engine/process/engine-main.ts', config: 'vite.engine.config.ts', target: 'main' },
        // heif-worker.js beside engine.js: the engine's HEIC decoder threads (native-models/clip/heif-pool.ts)
        { entry: 'native-models/clip/heif-worker.ts', config: 'vite.heif-worker.config.ts', target: 'main' },
      ],
      renderer: [{ name: 'main_window', config: 'vite.renderer.config.ts' }],
    }),
    // Flipped in the Electron binary at package time, before signing.
    new FusesPlugin({
      version: FuseVersion.V1,
      [FuseV1Options.RunAsNode]: false,
      [FuseV1Options.EnableCookieEncryption]: true,
      [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
      [FuseV1Options.EnableNodeCliInspectArguments]: false,
      [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
      [FuseV1Options.OnlyLoadAppFromAsar]: true,
      // The pages are served as app://glance/ (electron/main/protocol.ts): file:// gets no more than in Chrome.
      [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
    }),
  ],
};

export default config;
