// The folder rules of the design, as code: which folders may import what.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Module specifiers imported only for their types (`import type`): they load no code. */
export function typeOnlyImportsOf(source: string): Set<string> {
  const out = new Set<string>();
  for (const m of source.matchAll(/\bimport\s+type\s+[\w*{}\s,$]+\s+from\s+['"]([^'"]+)['"]/g)) out.add(m[1]!);
  return out;
}

/** Module specifiers a source file imports: static imports, re-exports, dynamic import() and require(). */
export function importsOf(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?[\w*{}\s,$]+\s+from\s+['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) specs.push(m[1]!);
  return specs;
}

export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|js|mjs|cjs|svelte)$/.test(name)) out.push(p);
  }
  return out;
}

export interface Rule {
  folder: string;
  /** Why the rule exists, for the failure message. */
  why: string;
  forbidden: (spec: string, file: string, typeOnly: boolean) => boolean;
}

const isElectron = (s: string) => s === 'electron' || s.startsWith('electron/');
const NODE_BUILTINS = /^(node:|fs$|path$|os$|child_process$|worker_threads$|net$|http$|https$|crypto$)/;

/** Resolves a relative specifier to a repository-relative path, for rules about project folders. */
export function resolvedFolder(spec: string, file: string, root: string): string | null {
  if (!spec.startsWith('.')) return null;
  return path
    .relative(root, path.resolve(path.dirname(file), spec))
    .split(path.sep)
    .join('/');
}

export function rules(root: string): Rule[] {
  const into = (prefix: string) => (spec: string, file: string) =>
    resolvedFolder(spec, file, root)?.startsWith(prefix) ?? false;
  return [
    {
      folder: 'common',
      why: 'common code is pure TypeScript that every layer imports: it imports nothing outside common/',
      forbidden: (s, f) => !s.startsWith('.') || !(resolvedFolder(s, f, root)?.startsWith('common/') ?? false),
    },
    {
      folder: 'native-models',
      why: 'model runtimes run in the engine and the CLI, where Electron does not exist',
      forbidden: (s, f) => isElectron(s) || into('electron/')(s, f),
    },
    {
      folder: 'electron/engine',
      why: 'the engine runs under plain Node too (CLI, tests)',
      forbidden: (s, f) => isElectron(s) || into('electron/main')(s, f) || into('electron/preload')(s, f),
    },
    {
      folder: 'electron/cli',
      why: 'the CLI is headless and runs under plain Node',
      forbidden: (s, f) => isElectron(s) || into('electron/main')(s, f) || into('electron/preload')(s, f),
    },
    {
      folder: 'electron/main',
      why: 'main stays thin: it reaches the engine only through its supervisor (and data paths, and types)',
      forbidden: (s, f, typeOnly) => {
        const target = resolvedFolder(s, f, root);
        if (!target || typeOnly) return false;
        if (target.startsWith('native-models')) return true;
        const allowed = ['electron/engine/process/supervisor', 'electron/engine/paths'];
        return target.startsWith('electron/engine/') && !allowed.some((a) => target.startsWith(a));
      },
    },
    {
      folder: 'electron/ipc',
      why: 'the contract is pure TypeScript shared by every process',
      forbidden: (s, f) => isElectron(s) || NODE_BUILTINS.test(s) || into('native-models')(s, f),
    },
    {
      folder: 'renderer',
      why: 'the renderer is sandboxed: no Node, no Electron, only the contract',
      forbidden: (s, f) =>
        isElectron(s) ||
        NODE_BUILTINS.test(s) ||
        into('native-models')(s, f) ||
        into('electron/engine')(s, f) ||
        into('electron/main')(s, f),
    },
  ];
}

export function violations(root: string): string[] {
  const found: string[] = [];
  for (const rule of rules(root)) {
    const dir = path.join(root, rule.folder);
    let files: string[];
    try {
      files = sourceFiles(dir);
    } catch {
      continue; // the folder does not exist yet
    }
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      const typeOnly = typeOnlyImportsOf(source);
      for (const spec of importsOf(source)) {
        if (rule.forbidden(spec, file, typeOnly.has(spec))) {
          found.push(`${path.relative(root, file)} imports "${spec}": ${rule.why}`);
        }
      }
    }
  }
  return found;
}
