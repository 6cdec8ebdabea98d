// The packaging invariants, checked without Electron: what Forge's config asks of the packager, asar and the
// fuses; that every native dependency stays out of the bundles and gets into the app; which prebuilt binaries each
// installer keeps; and that every entry builds, alone (`npm run build:entries`) and the way Forge builds it.
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as asar from '@electron/asar';
import { FuseV1Options, FuseVersion } from '@electron/fuses';
import { userPathFilter } from '@electron/packager/dist/copy-filter.js';
import { build, loadConfigFromFile, type UserConfig } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineChild, EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import builderConfig, {
  APP_ID,
  builderConfig as builderConfigFor,
  DESKTOP_NAME,
  EXECUTABLE_NAME,
  prepackagedPath,
} from '../../electron-builder.config.ts';
import forgeConfig from '../../forge.config.ts';
import { decodeHeif } from '../../native-models/clip/heif.ts';
import { buildEntries } from '../../packaging/build-entries.ts';
import {
  ASAR_UNPACK,
  ASAR_UNPACK_DIRS,
  asarUnpackDir,
  backendsFromEnv,
  exclusionReason,
  isExcluded,
  isNodeExternal,
  NATIVE_DEPENDENCIES,
  productionClosure,
  pruneApp,
  RUNTIME_EXTERNALS,
  readPackageJson,
  type Target,
  targetFor,
} from '../../packaging/natives.ts';
import { ENGINE_ENTRY } from '../../vite.engine.config.ts';
import { HEIF_WORKER_ENTRY, HEIF_WORKER_FILE } from '../../vite.heif-worker.config.ts';
import { MAIN_ENTRY, nodeBundle } from '../../vite.main.config.ts';
import { PRELOAD_ENTRY } from '../../vite.preload.config.ts';
import { RENDERER_NAME } from '../../vite.renderer.config.ts';
import { solidRgb, writeHeic } from '../fixtures/raw-and-heic.ts';
import { repoRoot } from '../fixtures/repo.ts';

const require = createRequire(import.meta.url);
/** Forge's Vite plugin's config generator: its defaults merged under each config, as in `electron-forge package`. */
const { default: ViteConfigGenerator } = require('@electron-forge/plugin-vite/dist/ViteConfig.js') as {
  default: new (
    config: unknown,
    projectDir: string,
    isProd: boolean,
  ) => { getBuildConfigs(): Promise<UserConfig[]>; getRendererConfig(): Promise<UserConfig[]> };
};

const root = repoRoot;
const pkg = readPackageJson(root);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'glance-packaging-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Plugin = { name: string; config?: unknown; fusesConfig?: Record<string, unknown> };
const plugins = (forgeConfig.plugins ?? []) as unknown as Plugin[];
const vitePlugin = plugins.find((p) => p.name === 'vite')!;
const viteConfig = vitePlugin.config as {
  build: { entry: string; config: string; target?: string }[];
  renderer: { name: string; config: string }[];
};
const asarOptions = forgeConfig.packagerConfig?.asar as { unpack: string; unpackDir: string };

/** Every file below `dir` (relative, '/' separators), not following links. */
function filesBelow(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesBelow(dir, child));
    else if (e.isFile()) out.push(child);
  }
  return out;
}

const isNativeFile = (f: string) => /\.(node|dylib|dll|so)$|\.so\.\d/.test(f);

describe('the Forge config', () => {
  it('unpacks every native file and the binding folders from app.asar', () => {
    expect(asarOptions.unpack).toBe('**/*.{node,so,so.*,dylib,dll}');
    expect(asarOptions.unpack).toBe(ASAR_UNPACK);
    expect(asarOptions.unpackDir).toBe(asarUnpackDir());
    for (const dir of [
      'node_modules/onnxruntime-node/bin',
      'node_modules/@img/sharp-*',
      'node_modules/better-sqlite3/build/Release',
      'node_modules/@fugood/node-llama-*',
    ]) {
      expect(ASAR_UNPACK_DIRS).toContain(dir);
    }
    // asar's own matcher (the minimatch @electron/asar resolves), against the file names the bindings really have
    const minimatch = createRequire(require.resolve('@electron/asar'))('minimatch') as (
      p: string,
      pattern: string,
      o?: object,
    ) => boolean;
    const app = '/tmp/electron-packager/linux-x64/Glance-linux-x64/resources/app';
    for (const f of [
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
      'node_modules/onnxruntime-node/bin/napi-v6/darwin/arm64/libonnxruntime.1.30.0.dylib',
      'node_modules/onnxruntime-node/bin/napi-v6/win32/x64/DirectML.dll',
      'node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so.8.18.7',
      'node_modules/@fugood/node-llama-linux-x64/libggml-vulkan.so',
    ]) {
      expect(minimatch(`${app}/${f}`, asarOptions.unpack, { matchBase: true }), f).toBe(true);
    }
    expect(minimatch(`${app}/node_modules/sharp/lib/index.js`, asarOptions.unpack, { matchBase: true })).toBe(false);
    for (const dir of ['node_modules/@img/sharp-linux-x64', 'node_modules/@fugood/node-llama-darwin-arm64']) {
      expect(minimatch(dir, asarOptions.unpackDir), dir).toBe(true);
    }
  });

  it('sets the fuses', () => {
    const fuses = plugins.find((p) => p.name === 'fuses')?.fusesConfig;
    expect(fuses).toEqual({
      version: FuseVersion.V1,
      [FuseV1Options.RunAsNode]: false,
      [FuseV1Options.EnableCookieEncryption]: true,
      [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
      [FuseV1Options.EnableNodeCliInspectArguments]: false,
      [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
      [FuseV1Options.OnlyLoadAppFromAsar]: true,
      [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
    });
    // the pages are served as app://glance/ (electron/main/protocol.ts): file:// gets no extra privileges
    expect(fuses?.[FuseV1Options.GrantFileProtocolExtraPrivileges]).toBe(false);
  });

  it('builds the five entries from files that exist, with the names the main process loads', () => {
    expect(forgeConfig.makers).toEqual([]);
    expect(pkg.main).toBe('.vite/build/main.js'); // Forge's Vite plugin refuses any other
    const entries = Object.fromEntries(viteConfig.build.map((b) => [b.config, b]));
    expect(entries['vite.main.config.ts']).toMatchObject({ entry: MAIN_ENTRY, target: 'main' });
    expect(entries['vite.preload.config.ts']).toMatchObject({ entry: PRELOAD_ENTRY, target: 'preload' });
    expect(entries['vite.engine.config.ts']).toMatchObject({ entry: ENGINE_ENTRY, target: 'main' });
    // the engine's HEIC decoder threads: without heif-worker.js beside engine.js, HEIC decodes block the engine
    expect(entries['vite.heif-worker.config.ts']).toMatchObject({ entry: HEIF_WORKER_ENTRY, target: 'main' });
    expect(viteConfig.build).toHaveLength(4);
    expect(viteConfig.renderer).toEqual([{ name: RENDERER_NAME, config: 'vite.renderer.config.ts' }]);
    for (const b of viteConfig.build) {
      expect(existsSync(path.join(root, b.entry)), b.entry).toBe(true);
      expect(existsSync(path.join(root, b.config)), b.config).toBe(true);
    }
    expect(existsSync(path.join(root, 'renderer', 'index.html'))).toBe(true);
  });

  it('agrees with electron-builder on the app id and executable', () => {
    expect(forgeConfig.packagerConfig?.appBundleId).toBe(APP_ID);
    expect(forgeConfig.packagerConfig?.executableName).toBe(EXECUTABLE_NAME);
    expect(builderConfig.executableName).toBe(EXECUTABLE_NAME);
    expect(forgeConfig.rebuildConfig?.onlyModules).toEqual(['better-sqlite3']);
  });
});

describe('native dependencies', () => {
  /** package.json dependencies whose installed production tree holds a `.node` file or a binding.gyp. */
  const detected = Object.keys(pkg.dependencies ?? {}).filter((dep) =>
    [...productionClosure(root, [dep]).dirs].some((dir) => {
      const abs = path.join(root, dir);
      return existsSync(path.join(abs, 'binding.gyp')) || filesBelow(abs).some((f) => f.endsWith('.node'));
    }),
  );

  it('are found by scanning node_modules, and listed in packaging/natives.ts', () => {
    expect(detected).toContain('better-sqlite3');
    expect(detected).toContain('onnxruntime-node');
    expect([...detected].sort()).toEqual([...NATIVE_DEPENDENCIES].sort());
  });

  it('are external in the main and engine bundles', async () => {
    for (const file of ['vite.main.config.ts', 'vite.engine.config.ts']) {
      const loaded = await loadConfigFromFile({ command: 'build', mode: 'production' }, path.join(root, file));
      const external = (loaded!.config as UserConfig).build!.rolldownOptions!.external as (string | RegExp)[];
      const matches = (id: string) => external.some((e) => (typeof e === 'string' ? e === id : e.test(id)));
      for (const dep of [...detected, 'heic-decode', 'electron', 'node:fs', 'fs']) {
        expect(matches(dep), `${file}: ${dep}`).toBe(true);
      }
      expect(matches('@img/sharp-linux-x64/sharp.node')).toBe(false); // only what sharp itself requires at run time
      expect(matches('birpc')).toBe(false); // bundled
    }
  });

  it('are shipped with their production dependencies', () => {
    const closure = productionClosure(root, RUNTIME_EXTERNALS);
    expect(closure.missing).toEqual([]);
    for (const name of RUNTIME_EXTERNALS) expect(closure.dirs.has(`node_modules/${name}`), name).toBe(true);
    for (const dep of ['bindings', 'onnxruntime-common', 'libheif-js', '@img/colour', 'detect-libc']) {
      expect(closure.dirs.has(`node_modules/${dep}`), dep).toBe(true);
    }
    for (const dev of Object.keys(pkg.devDependencies ?? {})) {
      expect(closure.dirs.has(`node_modules/${dev}`), dev).toBe(false);
    }
  });
});

describe('per-platform binaries', () => {
  // The platform packages the bindings name (real names, most of them not installed on this machine) ...
  const platformPackages = ['@fugood/llama.node', 'sharp'].flatMap((name) =>
    Object.keys(readPackageJson(path.join(root, 'node_modules', name)).optionalDependencies ?? {}).map(
      (dep) => `node_modules/${dep}`,
    ),
  );
  // ... and the files onnxruntime-node ships for every platform in one package
  const ortFiles = filesBelow(path.join(root, 'node_modules/onnxruntime-node/bin')).map(
    (f) => `node_modules/onnxruntime-node/bin/${f}`,
  );
  const kept = (t: Target, paths: string[]) => paths.filter((p) => !isExcluded(p, t)).sort();

  it('keep only the linux-x64 builds (CPU and Vulkan by default)', () => {
    const t = targetFor('linux', 'x64', '');
    expect(t.backends).toEqual(['cpu', 'vulkan']);
    expect(kept(t, platformPackages)).toEqual(
      [
        'node_modules/@fugood/node-llama-linux-x64',
        'node_modules/@fugood/node-llama-linux-x64-vulkan',
        'node_modules/@img/sharp-libvips-linux-x64',
        'node_modules/@img/sharp-linux-x64',
      ].sort(),
    );
    expect(kept(t, ortFiles)).toEqual(ortFiles.filter((f) => f.includes('/napi-v6/linux/x64/')).sort());
    expect(kept(t, ortFiles).length).toBeGreaterThan(0);
  });

  it('keep only the darwin-arm64 builds (Metal is the default build there)', () => {
    const t = targetFor('darwin', 'arm64', '');
    expect(kept(t, platformPackages)).toEqual(
      [
        'node_modules/@fugood/node-llama-darwin-arm64',
        'node_modules/@img/sharp-darwin-arm64',
        'node_modules/@img/sharp-libvips-darwin-arm64',
      ].sort(),
    );
    expect(kept(t, ortFiles)).toEqual(ortFiles.filter((f) => f.includes('/napi-v6/darwin/arm64/')).sort());
  });

  it('keep only the win32-x64 builds', () => {
    const t = targetFor('win32', 'x64', '');
    expect(kept(t, platformPackages)).toEqual(
      [
        'node_modules/@fugood/node-llama-win32-x64',
        'node_modules/@fugood/node-llama-win32-x64-vulkan',
        'node_modules/@img/sharp-win32-x64',
      ].sort(),
    );
    const ort = kept(t, ortFiles);
    expect(ort).toEqual(ortFiles.filter((f) => f.includes('/napi-v6/win32/x64/')).sort());
    expect(ort.some((f) => f.endsWith('DirectML.dll'))).toBe(true);
    // usearch (the vector index) ships one prebuild per platform in its own package
    const usearch = filesBelow(path.join(root, 'node_modules/usearch/prebuilds')).map(
      (f) => `node_modules/usearch/prebuilds/${f}`,
    );
    expect(kept(t, usearch)).toEqual(['node_modules/usearch/prebuilds/win32-x64/usearch.node']);
    expect(kept(targetFor('darwin', 'arm64', ''), usearch)).toEqual([
      'node_modules/usearch/prebuilds/darwin-arm64+x64/usearch.node',
    ]);
  });

  it('add the CUDA builds when GLANCE_LLAMA_BACKENDS asks for them', () => {
    const t = targetFor('linux', 'x64', 'vulkan,cuda');
    expect(kept(t, platformPackages).filter((p) => p.includes('cuda'))).toEqual([
      'node_modules/@fugood/node-llama-linux-x64-cuda',
    ]);
    expect(() => backendsFromEnv('linux', 'x64', 'rocm')).toThrow(/unknown backend rocm/);
    expect(prepackagedPath(t)).toBe('out/Glance-linux-x64');
    expect(builderConfigFor(t).artifactName).toMatch(/\$\{arch\}-cuda\.\$\{ext\}$/);
  });

  it('apply to real paths in node_modules, at any depth, and drop what only a source build needs', () => {
    const t = targetFor('linux', 'x64', '');
    const installed = ['@fugood', '@img'].flatMap((scope) =>
      readdirSync(path.join(root, 'node_modules', scope)).flatMap((name) =>
        filesBelow(path.join(root, 'node_modules', scope, name)).map((f) => `node_modules/${scope}/${name}/${f}`),
      ),
    );
    const leftOut = installed.filter((p) => isExcluded(p, t));
    expect(leftOut.some((p) => p.startsWith('node_modules/@fugood/node-llama-wasm/'))).toBe(true);
    expect(installed.filter((p) => isNativeFile(p) && !isExcluded(p, t)).length).toBeGreaterThan(0);
    expect(exclusionReason('node_modules/x/node_modules/@img/sharp-linuxmusl-x64/lib/a.node', t)).toMatch(/sharp/);
    expect(isExcluded('node_modules/better-sqlite3/build/Release/better_sqlite3.node', t)).toBe(false);
    expect(isExcluded('node_modules/better-sqlite3/build/Release', t)).toBe(false);
    expect(isExcluded('node_modules/better-sqlite3/build/Release/obj.target', t)).toBe(true);
    expect(isExcluded('node_modules/better-sqlite3/deps/sqlite3/sqlite3.c', t)).toBe(true);
    expect(isExcluded('node_modules/better-sqlite3/lib/index.js', t)).toBe(false);
  });
});

describe('electron-builder config', () => {
  it('is valid for electron-builder 26, names the installers and publishes no update feed (none is read yet)', async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration: (c: unknown, log: unknown) => Promise<void>;
    };
    const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
    await validateConfiguration(builderConfig, new DebugLogger(false));
    expect(builderConfig).toMatchObject({
      appId: 'app.glance.desktop',
      productName: 'Glance',
      linux: { target: ['AppImage', 'deb'] },
      mac: { target: ['dmg'] },
      win: { target: ['nsis'] },
    });
    expect(builderConfig.publish).toBeNull();
    const t = targetFor('darwin', 'arm64', '');
    expect(prepackagedPath(t)).toBe('out/Glance-darwin-arm64/Glance.app');
    // nothing writes an app-update.yml into the packaged app, and no app code loads an updater
    expect(readFileSync(path.join(root, 'forge.config.ts'), 'utf8')).not.toMatch(/app-update\.yml/);
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    expect(Object.keys(pkg.dependencies ?? {})).not.toContain('electron-updater');
  });
});

describe('the Linux desktop identity (Wayland app_id, GlobalShortcuts portal)', () => {
  it("package.json's desktopName is a reverse-DNS id and names the .desktop file the deb and AppImage install", () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { desktopName?: string };
    expect(pkg.desktopName).toBe(DESKTOP_NAME);
    expect(DESKTOP_NAME).toBe(`${APP_ID}.desktop`);
    expect(DESKTOP_NAME).toMatch(/^[A-Za-z][\w-]*(\.[A-Za-z][\w-]*){2,}\.desktop$/);
    // electron-builder's own choice of file name (FpmTarget: /usr/share/applications/<name>.desktop; AppImage: the
    // same name inside the image), from this config and this package.json
    const { LinuxTargetHelper } = require('app-builder-lib/out/targets/LinuxTargetHelper.js') as {
      LinuxTargetHelper: { prototype: { getDesktopFileName(this: unknown): string } };
    };
    const installed = LinuxTargetHelper.prototype.getDesktopFileName.call({
      packager: {
        platformSpecificBuildOptions: builderConfig.linux,
        info: { metadata: pkg },
        executableName: EXECUTABLE_NAME,
      },
    });
    expect(`${installed}.desktop`).toBe(pkg.desktopName);
  });
});

describe('the entries', () => {
  const out = path.join(tmp, 'entries');
  let outputs: string[] = [];
  beforeAll(async () => {
    outputs = await buildEntries(out, 'silent');
  });

  /** Bare module specifiers a built file imports or requires (static, dynamic, createRequire). */
  const specifiers = (code: string) =>
    [
      ...code.matchAll(/^import\s[^'"]*?from\s*"([^"]+)"/gm),
      ...code.matchAll(/^import\s*"([^"]+)"/gm),
      ...code.matchAll(/\brequire\("([^"]+)"\)/g),
      ...code.matchAll(/createRequire\(import\.meta\.url\)\("([^"]+)"\)/g),
    ]
      .map((m) => m[1]!)
      .filter((s) => !s.startsWith('.'));

  it('build alone, as npm run build:entries does, into main, preload, engine, the HEIC worker and renderer', () => {
    expect(outputs.map((o) => path.relative(out, o))).toEqual([
      'build/main.js',
      'build/preload.js',
      'build/engine.js',
      `build/${HEIF_WORKER_FILE}`,
      'renderer/main_window/index.html',
    ]);
    for (const o of outputs) expect(existsSync(o), o).toBe(true);
    const html = readFileSync(path.join(out, 'renderer/main_window/index.html'), 'utf8');
    const script = /<script type="module" crossorigin src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script && existsSync(path.join(out, 'renderer/main_window', script))).toBe(true);
  });

  it('leave only Electron, Node and the shipped packages to run time', () => {
    const builtin = (s: string) => s.startsWith('node:') || builtinModules.includes(s);
    for (const name of ['main.js', 'engine.js', HEIF_WORKER_FILE]) {
      const code = readFileSync(path.join(out, 'build', name), 'utf8');
      expect(code, name).not.toMatch(/\brequire\(|module\.exports/); // ES modules: package.json says "type": "module"
      expect(code, name).not.toContain('data:video/mp2t'); // supervisor.ts's new URL(...) left alone
      for (const spec of specifiers(code)) {
        expect(builtin(spec) || spec === 'electron' || isNodeExternal(spec), `${name} imports ${spec}`).toBe(true);
      }
    }
    const engine = specifiers(readFileSync(path.join(out, 'build/engine.js'), 'utf8'));
    for (const dep of ['better-sqlite3', 'sharp', 'onnxruntime-node', '@fugood/llama.node']) {
      expect(engine, dep).toContain(dep);
    }
    // the GGUF pre-flight reads headers itself (gguf-reader.ts): node-llama-cpp is a test tool, not shipped
    expect(engine).not.toContain('node-llama-cpp');
    // the worker loads libheif-js (and its wasm) from node_modules at run time, as the engine does
    const worker = readFileSync(path.join(out, 'build', HEIF_WORKER_FILE), 'utf8');
    expect(worker).toContain('createRequire(import.meta.url).resolve("heic-decode")');
    expect(specifiers(worker).sort()).toEqual(['node:module', 'node:worker_threads']);
    const preload = readFileSync(path.join(out, 'build/preload.js'), 'utf8');
    expect(preload).not.toMatch(/^import\s/m); // a sandboxed preload is a CommonJS script
    expect(specifiers(preload)).toEqual(['electron']);
  });

  it('build the same files the way Forge builds them (its defaults merged under the configs)', async () => {
    const forgeOut = path.join(tmp, 'forge');
    const generator = new ViteConfigGenerator(vitePlugin.config, root, true);
    const configs = [...(await generator.getBuildConfigs()), ...(await generator.getRendererConfig())];
    for (const c of configs) {
      const dir = c.build?.outDir?.includes('renderer') ? 'renderer/main_window' : 'build';
      await build({
        configFile: false,
        ...c,
        logLevel: 'silent',
        build: { ...c.build, outDir: path.join(forgeOut, dir) },
      });
    }
    expect(
      filesBelow(forgeOut)
        .filter((f) => !f.startsWith('renderer/main_window/assets/'))
        .sort(),
    ).toEqual(
      [
        'build/engine.js',
        `build/${HEIF_WORKER_FILE}`,
        'build/main.js',
        'build/preload.js',
        'renderer/main_window/index.html',
      ].sort(),
    );
    expect(readFileSync(path.join(forgeOut, 'build/main.js'), 'utf8')).toMatch(/^import /m);
    expect(readFileSync(path.join(forgeOut, 'build/preload.js'), 'utf8')).toMatch(
      /^let electron = require\("electron"\)/,
    );
  });

  it('start: the bundled engine answers under Node, its packages found in node_modules', async () => {
    // laid out as in the app: .vite/build/engine.js with node_modules two folders up
    const app = path.join(tmp, 'app');
    cpSync(path.join(out, 'build'), path.join(app, '.vite', 'build'), { recursive: true });
    symlinkSync(path.join(root, 'node_modules'), path.join(app, 'node_modules'), 'junction');
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ type: 'module', main: pkg.main }));
    let child: ChildProcess | undefined;
    let output = '';
    const spawn = (env: NodeJS.ProcessEnv): EngineChild => {
      const c = fork(path.join(app, '.vite/build/engine.js'), [], {
        env,
        execArgv: [], // not the test worker's
        serialization: 'advanced',
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      child = c;
      const keep = (d: Buffer) => {
        output += d.toString();
      };
      c.stdout?.on('data', keep);
      c.stderr?.on('data', keep);
      return {
        get pid() {
          return c.pid;
        },
        send: (m) => c.connected && c.send(m as never),
        onMessage: (fn) => c.on('message', fn),
        onExit: (fn) => c.on('exit', fn),
        output: () => output,
        kill: (s) => c.kill(s),
      };
    };
    const engine = new EngineSupervisor({ home: path.join(tmp, 'home'), spawn, startTimeoutMs: 20_000 });
    try {
      await engine.start().catch((err: unknown) => {
        throw new Error(`${String(err)}\n${output}`);
      });
      expect(await engine.call('ping')).toEqual({ pid: child?.pid });
    } finally {
      await engine.stop();
    }
  });

  it('decode HEIC in the bundled worker, which the bundled HEIC pool finds beside engine.js', async () => {
    // laid out as in the app, with heif-pool.ts bundled the way the engine bundles it, as one more file in
    // .vite/build: its `new URL('./heif-worker.js', import.meta.url)` is then resolved exactly as in engine.js
    const app = path.join(tmp, 'heif-app');
    const buildDir = path.join(app, '.vite', 'build');
    cpSync(path.join(out, 'build'), buildDir, { recursive: true });
    symlinkSync(path.join(root, 'node_modules'), path.join(app, 'node_modules'), 'junction');
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ type: 'module', main: pkg.main }));
    const probe = 'heif-pool-probe.js';
    const probeConfig = nodeBundle({ command: 'build', mode: 'production' }, 'native-models/clip/heif-pool.ts', probe);
    await build({
      configFile: false,
      logLevel: 'silent',
      ...probeConfig,
      build: { ...probeConfig.build, outDir: buildDir },
    });
    const lookup = `new URL("./${HEIF_WORKER_FILE}", here)`;
    expect(readFileSync(path.join(buildDir, probe), 'utf8')).toContain(lookup);
    expect(readFileSync(path.join(buildDir, 'engine.js'), 'utf8')).toContain(lookup);

    const width = 64;
    const height = 48;
    const heic = await writeHeic(
      path.join(tmp, 'heif-app-photo.heic'),
      solidRgb(width, height, [200, 60, 30]),
      width,
      height,
    );
    // a script file: a worker inherits the process's execArgv, and `node --input-type=module -e` breaks it
    const script = path.join(app, 'probe.mjs');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
      import { createHash } from 'node:crypto';
      import { HeifPool } from ${JSON.stringify(pathToFileURL(path.join(buildDir, probe)).href)};
      const pool = new HeifPool(1);
      const { image } = await pool.decode(readFileSync(${JSON.stringify(heic)}), 'photo.heic', Infinity);
      const sha = createHash('sha256').update(image.data).digest('hex');
      console.log(JSON.stringify({ decodes: pool.decodes, workers: pool.workers, width: image.width, height: image.height, sha }));
      await pool.close();`,
    );
    const { stdout } = await promisify(execFile)(process.execPath, [script], { cwd: app, timeout: 30_000 });
    const local = decodeHeif(readFileSync(heic), 'photo.heic', Number.POSITIVE_INFINITY).image;
    expect(JSON.parse(stdout)).toEqual({
      decodes: 1, // counted only for a decode that ran in a worker
      workers: 1,
      width,
      height,
      sha: createHash('sha256').update(local.data).digest('hex'),
    });
  });
});

describe('the packaged app', () => {
  it('holds the bundles and the shipped packages, this platform’s binaries, native files outside app.asar', async () => {
    // What @electron/packager copies into resources/app with Forge's ignore and prune, as empty files
    const shipped = productionClosure(root, RUNTIME_EXTERNALS);
    const ignore = forgeConfig.packagerConfig?.ignore as (file: string) => boolean;
    const filter = userPathFilter({ dir: root, ignore, prune: true, out: path.join(tmp, 'out'), quiet: true } as never);
    const app = path.join(tmp, 'packaged', 'app');
    const copy = async (rel: string) => {
      for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (e.isSymbolicLink() || !(await filter(path.join(root, child), path.join(app, child)))) continue;
        if (e.isDirectory()) {
          mkdirSync(path.join(app, child), { recursive: true });
          await copy(child);
        } else {
          writeFileSync(path.join(app, child), '');
        }
      }
    };
    mkdirSync(app, { recursive: true });
    await copy('');
    expect(ignore('/.vite/build/main.js')).toBe(false);
    expect(ignore(`/.vite/build/${HEIF_WORKER_FILE}`)).toBe(false);
    expect(ignore('/electron/main/index.ts')).toBe(true);
    // .vite is there too when it has been built (it is, in the package step)
    expect(
      readdirSync(app)
        .filter((f) => f !== '.vite')
        .sort(),
    ).toEqual(['node_modules', 'package.json']);
    for (const dir of shipped.dirs) expect(existsSync(path.join(app, dir, 'package.json')), dir).toBe(true);

    const t = targetFor(process.platform, process.arch, '');
    pruneApp(app, t);
    const files = filesBelow(app);
    for (const dev of ['vite', 'electron', 'vitest', 'typescript', '@electron-forge/cli', 'tsx', 'valibot']) {
      expect(existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
    }
    expect(files.filter((f) => isExcluded(f, t))).toEqual([]);
    expect(files.some((f) => f.startsWith('node_modules/better-sqlite3/deps/'))).toBe(false);
    if (t.platform === 'linux' && t.arch === 'x64') {
      expect(existsSync(path.join(app, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64'))).toBe(true);
      expect(existsSync(path.join(app, 'node_modules/onnxruntime-node/bin/napi-v6/darwin'))).toBe(false);
      expect(existsSync(path.join(app, 'node_modules/@fugood/node-llama-linux-x64-cuda'))).toBe(false);
      expect(existsSync(path.join(app, 'node_modules/node-llama-cpp'))).toBe(false);
    }

    // asar with Forge's options: every native file and binding folder lands in app.asar.unpacked
    const archive = path.join(tmp, 'packaged', 'app.asar');
    await asar.createPackageWithOptions(app, archive, asarOptions);
    const natives = files.filter(isNativeFile);
    expect(natives.length).toBeGreaterThan(3);
    for (const f of natives) expect(asar.statFile(archive, f), f).toMatchObject({ unpacked: true });
    for (const f of files.filter((f) => /^node_modules\/@img\/sharp-[^/]+\//.test(f))) {
      expect(asar.statFile(archive, f), f).toMatchObject({ unpacked: true });
    }
    expect(asar.statFile(archive, 'node_modules/sharp/package.json')).not.toHaveProperty('unpacked', true);
  });
});
