// What the packaged app carries besides its Vite bundles: the runtime packages that cannot be bundled (native
// bindings, and packages that load files beside themselves at run time), the asar rules that keep native files out
// of the archive, and which prebuilt binaries each installer keeps. Plain data and pure functions: forge.config.ts,
// the Vite configs, electron-builder.config.ts and test/unit/packaging.test.ts all read them from here.
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

/** Dependencies with native code (a `.node` file or `binding.gyp` in their production tree). Never bundled. */
export const NATIVE_DEPENDENCIES = [
  'onnxruntime-node',
  'sharp',
  'better-sqlite3',
  '@fugood/llama.node',
  'usearch',
] as const;

/**
 * Everything the main and engine bundles leave to `node_modules` at run time: the native dependencies, plus
 * heic-decode, whose libheif-js reads its wasm file from beside itself (and which the engine loads with
 * createRequire, out of the bundler's sight, as it does @fugood/llama.node). The packaged app ships these and
 * their production dependencies, nothing else of `node_modules`.
 */
export const RUNTIME_EXTERNALS = [...NATIVE_DEPENDENCIES, 'heic-decode'] as const;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * Rollup/Rolldown `external` for the Node-side bundles (main, engine): Electron, Node's builtins and the runtime
 * externals with their subpaths. An array (not a function) so that Vite's mergeConfig can join it with the list
 * Forge's Vite plugin adds.
 */
export function nodeExternals(): (string | RegExp)[] {
  return [
    'electron',
    /^electron\//,
    /^node:/,
    ...builtinModules.filter((m) => !m.startsWith('_')),
    ...RUNTIME_EXTERNALS.flatMap((name) => [name, new RegExp(`^${escapeRegExp(name)}/`)]),
  ];
}

/** True when `id` is external for the main and engine bundles. */
export function isNodeExternal(id: string): boolean {
  return nodeExternals().some((e) => (typeof e === 'string' ? e === id : e.test(id)));
}

// ---------------------------------------------------------------------------------------------------------------
// asar

/** Every native file stays outside app.asar: dlopen cannot read from inside an archive. */
export const ASAR_UNPACK = '**/*.{node,so,so.*,dylib,dll}';

/**
 * Binding folders unpacked whole, so that a binding finds the libraries, shaders and ggml backends it loads from its
 * own folder (llama.cpp's backends, ONNX Runtime's provider libraries, libvips beside sharp's binding).
 */
export const ASAR_UNPACK_DIRS = [
  'node_modules/onnxruntime-node/bin',
  'node_modules/@img/sharp-*',
  'node_modules/better-sqlite3/build/Release',
  'node_modules/@fugood/node-llama-*',
  'node_modules/usearch/prebuilds',
] as const;

/** @electron/asar takes one `unpackDir` glob: the folders as one brace pattern. */
export const asarUnpackDir = () => `{${ASAR_UNPACK_DIRS.join(',')}}`;

// ---------------------------------------------------------------------------------------------------------------
// What gets copied into the app

export interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export const readPackageJson = (dir: string): PackageJson =>
  JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;

/** Where Node would find `name` when required from the package in `fromDir` (both relative to `root`). */
function resolvePackageDir(root: string, fromDir: string, name: string): string | null {
  let dir = fromDir;
  for (;;) {
    const candidate = path.posix.join(dir, 'node_modules', name);
    if (existsSync(path.join(root, candidate, 'package.json'))) return candidate;
    if (dir === '' || dir === '.') return null;
    // up to the enclosing package (skipping the node_modules and @scope segments)
    const parts = dir.split('/');
    parts.pop();
    while (parts.length && (parts.at(-1) === 'node_modules' || parts.at(-1)?.startsWith('@'))) parts.pop();
    dir = parts.join('/');
  }
}

export interface Closure {
  /** Package folders relative to `root`, with '/' separators: `node_modules/sharp`, `node_modules/a/node_modules/b`. */
  dirs: Set<string>;
  /** Required dependencies that are not installed ("needed-by -> name"). */
  missing: string[];
}

/**
 * The production dependency tree of `names` as installed under `root/node_modules`: dependencies and installed
 * optional dependencies, resolved the way Node resolves them (nested node_modules first).
 */
export function productionClosure(root: string, names: readonly string[]): Closure {
  const dirs = new Set<string>();
  const missing: string[] = [];
  const visit = (fromDir: string, name: string, optional: boolean, by: string) => {
    const dir = resolvePackageDir(root, fromDir, name);
    if (!dir) {
      if (!optional) missing.push(`${by} -> ${name}`);
      return;
    }
    if (dirs.has(dir)) return;
    dirs.add(dir);
    const pj = readPackageJson(path.join(root, dir));
    for (const dep of Object.keys(pj.dependencies ?? {})) visit(dir, dep, false, name);
    for (const dep of Object.keys(pj.optionalDependencies ?? {})) visit(dir, dep, true, name);
  };
  for (const name of names) visit('', name, false, 'package.json');
  return { dirs, missing };
}

/** Files @electron/packager leaves out by default; a custom `ignore` function replaces its list, so it is kept here. */
const PACKAGER_DEFAULT_IGNORES = [/\/node_modules\/\.bin($|\/)/, /\.o(bj)?$/, /\/node_gyp_bins($|\/)/];

/**
 * The `packagerConfig.ignore` function: the app is the Vite output, package.json, and the production closure of
 * the runtime externals. (Forge's Vite plugin would keep `.vite` only, leaving the externals out.)
 * `file` is relative to the project with a leading '/', as @electron/packager passes it.
 */
export function appIgnore(closure: ReadonlySet<string>): (file: string) => boolean {
  const ancestors = new Set<string>();
  for (const dir of closure) {
    const parts = dir.split('/');
    for (let i = 1; i < parts.length; i++) ancestors.add(parts.slice(0, i).join('/'));
  }
  return (file: string) => {
    if (!file) return false;
    const rel = file.replace(/\\/g, '/').replace(/^\//, '');
    if (rel === 'package.json' || rel === '.vite' || rel.startsWith('.vite/')) return false;
    if (!rel.startsWith('node_modules')) return true;
    if (PACKAGER_DEFAULT_IGNORES.some((re) => re.test(`/${rel}`))) return true;
    if (ancestors.has(rel)) return false; // node_modules, @scope and parent package folders on the way down
    const owner = packageDirOf(rel);
    return owner === null || !closure.has(owner);
  };
}

/** The innermost package folder a path lies in (`node_modules/a/node_modules/@s/b/lib/x.js` -> `.../@s/b`). */
export function packageDirOf(rel: string): string | null {
  const parts = rel.split('/');
  let end = -1;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] !== 'node_modules') continue;
    const first = parts[i + 1];
    if (first === undefined) break;
    if (first.startsWith('@')) {
      if (parts[i + 2] === undefined) break;
      end = i + 3;
    } else {
      end = i + 2;
    }
  }
  return end < 0 ? null : parts.slice(0, end).join('/');
}

// ---------------------------------------------------------------------------------------------------------------
// Which prebuilt binaries an installer keeps

export type LlamaBackend = 'cpu' | 'metal' | 'vulkan' | 'cuda';

export interface Target {
  /** Node's names, as Forge passes them: linux, darwin, win32. */
  platform: string;
  /** x64, arm64, armv7l, ia32. */
  arch: string;
  /** llama.cpp builds to ship besides the default one (CPU, and Metal on macOS). */
  backends: readonly LlamaBackend[];
}

/**
 * CUDA builds are opt-in: they are hundreds of megabytes (and still need the NVIDIA driver), while Vulkan covers
 * most GPUs on Linux and Windows for a fraction of that. Set GLANCE_LLAMA_BACKENDS=cpu,vulkan,cuda for a CUDA build.
 */
export function defaultBackends(platform: string, arch: string): LlamaBackend[] {
  if (platform === 'darwin') return arch === 'arm64' ? ['cpu', 'metal'] : ['cpu'];
  return ['cpu', 'vulkan'];
}

/** The target for a platform and arch, with the backends GLANCE_LLAMA_BACKENDS asks for (or the default ones). */
export function targetFor(
  platform: string,
  arch: string,
  env: string | undefined = process.env.GLANCE_LLAMA_BACKENDS,
): Target {
  return { platform, arch, backends: backendsFromEnv(platform, arch, env) };
}

export function backendsFromEnv(
  platform: string,
  arch: string,
  value: string | undefined = process.env.GLANCE_LLAMA_BACKENDS,
): LlamaBackend[] {
  if (!value?.trim()) return defaultBackends(platform, arch);
  const known: LlamaBackend[] = ['cpu', 'metal', 'vulkan', 'cuda'];
  const list = value.split(',').map((s) => s.trim().toLowerCase());
  const unknown = list.filter((b) => !known.includes(b as LlamaBackend));
  if (unknown.length) {
    throw new Error(`GLANCE_LLAMA_BACKENDS: unknown backend ${unknown.join(', ')} (known: ${known.join(', ')})`);
  }
  return [...new Set(['cpu', ...list])] as LlamaBackend[];
}

/** A flavour suffix for artifact names and update channels when the backends differ from the default ones. */
export function flavour(t: Target): string {
  const extra = t.backends.filter((b) => !defaultBackends(t.platform, t.arch).includes(b));
  return extra.length ? `-${[...extra].sort().join('-')}` : '';
}

/** What a prebuilt binary package (or folder) is built for. */
interface Build {
  platform: string;
  arch: string;
  /** A backend variant ('cuda', 'vulkan', ...); undefined for the default build. */
  variant?: string;
}

export interface BinaryRule {
  /** Who publishes these binaries, for failure messages. */
  family: string;
  /** Matches a path relative to the app folder ('/' separators); the match's groups name the build. */
  pattern: RegExp;
  build: (m: RegExpExecArray) => Build | 'never';
}

/** A path pattern below any node_modules folder (a package may be installed nested). */
const under = (rest: string) => new RegExp(`^(?:.*/)?node_modules/${rest}`);

/**
 * Per-platform binaries, one rule per publisher. A path a rule matches stays only when the build it names is for
 * the target's platform and arch, and is the default build or one of the target's backends.
 */
export const BINARY_RULES: readonly BinaryRule[] = [
  {
    family: '@fugood/llama.node',
    pattern: under(String.raw`@fugood/node-llama-(?:(darwin|linux|win32)-(x64|arm64)(?:-(\w+))?|wasm)(?:/|$)`),
    build: (m) => (m[1] && m[2] ? { platform: m[1], arch: m[2], variant: m[3] } : 'never'),
  },
  {
    family: 'sharp',
    // linuxmusl: Electron is a glibc program; wasm32: the WebAssembly fallback for platforms without a binary
    pattern: under(
      String.raw`@img/sharp-(?:libvips-)?(darwin|linux|linuxmusl|win32|freebsd|webcontainers|wasm32)(?:-(\w+))?(?:/|$)`,
    ),
    build: (m) =>
      m[1] === 'linuxmusl' || m[1] === 'freebsd' || m[1] === 'webcontainers' || m[1] === 'wasm32' || !m[2]
        ? 'never'
        : { platform: m[1]!, arch: m[2] === 'arm' ? 'armv7l' : m[2] },
  },
  {
    family: 'usearch',
    // prebuildify's folders: darwin-arm64+x64 is one universal binary for both Mac arches
    pattern: under(String.raw`usearch/prebuilds/(\w+)-([\w+]+)(?:/|$)`),
    build: (m) => ({ platform: m[1]!, arch: m[2]!.split('+').length > 1 ? '' : m[2]! }),
  },
  {
    family: 'onnxruntime-node',
    pattern: under(String.raw`onnxruntime-node/bin/napi-v\d+/(\w+)(?:/(\w+))?(?:/|$)`),
    build: (m) => ({ platform: m[1]!, arch: m[2] ?? '' }),
  },
];

/** Files only a build from source needs (removed after Forge's rebuild step, which may compile better-sqlite3). */
export const BUILD_ONLY: readonly RegExp[] = [
  under('better-sqlite3/(deps|src)(/|$)'),
  under(String.raw`better-sqlite3/build/(?!Release(/better_sqlite3\.node)?$)`),
  under(String.raw`@fugood/llama\.node/(src|CMakeLists\.txt)(/|$)`),
  under('usearch/(c|cpp|cmake|numkong|include)(/|$)'),
  /\.(o|obj|a|pdb|ilk|exp)$/,
];

function keeps(build: Build, t: Target): boolean {
  if (build.platform !== t.platform) return false;
  // a folder above the arch level (onnxruntime-node/bin/napi-v6/linux) stays when its platform is the target's
  if (build.arch && build.arch !== t.arch) return false;
  return !build.variant || t.backends.includes(build.variant as LlamaBackend);
}

/** Why a path is left out of the target's installer, or null when it stays. `rel` is relative to the app folder. */
export function exclusionReason(rel: string, t: Target): string | null {
  const p = rel.replace(/\\/g, '/');
  for (const rule of BINARY_RULES) {
    const m = rule.pattern.exec(p);
    if (!m) continue;
    const build = rule.build(m);
    if (build === 'never') return `${rule.family}: not a build Electron can load`;
    if (!keeps(build, t)) {
      const name = [build.platform, build.arch, build.variant].filter(Boolean).join('-');
      return `${rule.family}: built for ${name}, not ${t.platform}-${t.arch} with ${t.backends.join('+')}`;
    }
    return null;
  }
  if (BUILD_ONLY.some((re) => re.test(p))) return 'only needed to build from source';
  return null;
}

export const isExcluded = (rel: string, t: Target): boolean => exclusionReason(rel, t) !== null;

/**
 * Removes from a copied app folder (`resources/app` before it becomes app.asar) what the target's installer must
 * not carry, then the folders left empty. Returns what went, relative to the folder.
 */
export function pruneApp(appDir: string, t: Target): string[] {
  const removed: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(appDir, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (isExcluded(child, t)) {
        rmSync(path.join(appDir, child), { recursive: true, force: true });
        removed.push(child);
      } else if (entry.isDirectory()) {
        walk(child);
      }
    }
  };
  if (existsSync(path.join(appDir, 'node_modules'))) {
    walk('node_modules');
    removeEmptyDirs(path.join(appDir, 'node_modules'));
  }
  return removed;
}

/** Removes empty folders below `dir` (and `dir` itself when nothing is left); true when `dir` went. */
function removeEmptyDirs(dir: string): boolean {
  let empty = true;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!(entry.isDirectory() && removeEmptyDirs(path.join(dir, entry.name)))) empty = false;
  }
  if (empty) rmdirSync(dir);
  return empty;
}
