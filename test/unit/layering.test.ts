import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../fixtures/repo.ts';
import { importsOf, violations } from '../layering.ts';

describe('layering rules of the design', () => {
  it('hold for the project tree', () => {
    expect(violations(repoRoot)).toEqual([]);
  });

  it('finds every form of import', () => {
    const src = `
      import { app } from 'electron';
      import type { X } from "./x.ts";
      import * as ns from 'a';
      import 'side-effect';
      export { y } from './y.ts';
      const m = await import('dyn');
      const r = require('req');
    `;
    expect(importsOf(src).sort()).toEqual(['./x.ts', './y.ts', 'a', 'dyn', 'electron', 'req', 'side-effect'].sort());
  });

  it('catches forbidden imports in a tree that breaks the rules', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'glance-layering-'));
    const put = (rel: string, text: string) => {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), text);
    };
    put('native-models/clip/bad.ts', "import { app } from 'electron';");
    put('electron/engine/bad.ts', "const e = require('electron');");
    put('electron/engine/ok.ts', "import x from '../../native-models/clip/model.ts';");
    put('renderer/src/bad.ts', "import fs from 'node:fs';\nimport { m } from '../../electron/engine/x.ts';");
    put('electron/ipc/bad.ts', "import path from 'node:path';");
    put('electron/main/bad.ts', "import { ClipModel } from '../../native-models/clip/model.ts';");
    put(
      'electron/main/ok.ts',
      "import type { Library } from '../engine/library/library.ts';\nimport { EngineSupervisor } from '../engine/process/supervisor.ts';",
    );
    put('electron/main/bad2.ts', "import { Library } from '../engine/library/library.ts';");
    put('common/bad.ts', "import path from 'node:path';\nimport { x } from '../electron/ipc/contract.ts';");
    put('common/bad2.ts', "import { marked } from 'marked';");
    put('common/ok.ts', "import { formatBytes } from './format.ts';");
    put('renderer/src/ok.ts', "import { formatBytes } from '../../common/format.ts';");
    put('native-models/ok.ts', "import { formatBytes } from '../common/format.ts';");
    const found = violations(root);
    expect(found).toHaveLength(10);
    expect(found.join('\n')).toMatch(/common\/bad\.ts imports "node:path"/);
    expect(found.join('\n')).toMatch(/common\/bad\.ts imports "\.\.\/electron\/ipc\/contract\.ts"/);
    expect(found.join('\n')).toMatch(/common\/bad2\.ts imports "marked"/);
    expect(found.join('\n')).toMatch(/native-models\/clip\/bad\.ts imports "electron"/);
    expect(found.join('\n')).not.toMatch(/ok\.ts/);
  });
});
