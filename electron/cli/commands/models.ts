// glance models list | download ID | remove ID | verify ID | use ID|DIR
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { licenceNote } from '../../../native-models/catalog.ts';
import { formatBytes } from '../../../native-models/download/hub.ts';
import { clipChoice, isCatalogClip, saveClip } from '../../engine/clip-choice.ts';
import { ModelManager } from '../../engine/models/model-manager.ts';
import { glancePaths, resolveHome } from '../../engine/paths.ts';
import { downloadWithProgress } from '../download-progress.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';
import { chooseClip, ensureClip, openLibrary, parseVariant } from '../library-context.ts';
import { progressPrinter, summary } from './index.ts';

export const usage = `Usage: glance models [list]          the catalog, and what is installed
       glance models download ID     download a model at its reviewed commit (resumes an interrupted download;
                                     verifies each file's SHA-256 against the catalog's pin, or the first download's)
       glance models verify ID       re-check an installed model's files against the same pins
       glance models remove ID       delete an installed model
       glance models use ID|DIR      the CLIP model of the library (a catalog id or a model folder); the photos are
                                     indexed again with it, your own tags stay

Options:
  --variant V            with use: the model's variant (fp32, fp16, quantized; default fp32)
  --yes, -y              with use: download a catalog model that is not installed without asking
  --json                 print JSON
  --home DIR             Glance's data folder (default: GLANCE_HOME, else the app-data folder)
The hub is huggingface.co, or GLANCE_HUB_ENDPOINT / HF_ENDPOINT (https:// only; http:// only to 127.0.0.1, ::1,
localhost); gated models need HF_TOKEN.
`;

export async function modelsCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      home: { type: 'string' },
      variant: { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
    },
  });
  const [action = 'list', id, ...rest] = positionals;
  if (rest.length) throw new UsageError(`unexpected "${rest[0]}"`);
  const manager = new ModelManager(glancePaths(resolveHome(values.home, io.env)));
  switch (action) {
    case 'list': {
      const list = await manager.list();
      if (values.json) {
        io.out(
          `${JSON.stringify(
            list.map((m) => ({
              id: m.entry.id,
              kind: m.entry.kind,
              installed: m.installed,
              size: m.size,
              dir: m.dir,
              ...(m.damaged ? { damaged: m.damaged } : {}),
              ...(licenceNote(m.entry) ? { licenceNote: licenceNote(m.entry) } : {}),
            })),
            null,
            2,
          )}\n`,
        );
        return EXIT.ok;
      }
      for (const m of list) {
        io.out(
          `${m.installed ? '●' : '○'} ${m.entry.id.padEnd(22)} ${m.entry.kind.padEnd(5)} ${formatBytes(m.size).padStart(8)}  ${m.entry.goodAt}\n`,
        );
      }
      io.out('● installed   ○ available: glance models download ID\n');
      for (const m of list) {
        const note = licenceNote(m.entry);
        if (note) io.out(`\n${m.entry.id}: ${note}\n`);
      }
      for (const m of list) if (m.damaged) io.err(`warning: ${m.damaged}\n`);
      return EXIT.ok;
    }
    case 'download': {
      if (!id) throw new UsageError('glance models download ID');
      const m = await downloadWithProgress(manager, id, io);
      io.out(values.json ? `${JSON.stringify(m, null, 2)}\n` : `${id} installed (${m.files.length} files, verified)\n`);
      return EXIT.ok;
    }
    case 'use':
      if (!id) throw new UsageError('glance models use ID|DIR');
      return useClip(id, values, io);
    case 'verify': {
      if (!id) throw new UsageError('glance models verify ID');
      const results = await manager.verify(id);
      if (values.json) io.out(`${JSON.stringify(results, null, 2)}\n`);
      else
        for (const r of results) {
          const against = r.pin === 'catalog' ? 'reviewed build' : 'first download';
          io.out(`${r.ok ? 'ok     ' : 'BROKEN '} ${r.file}${r.reason ? `: ${r.reason}` : ` (${against})`}\n`);
        }
      const bad = results.filter((r) => !r.ok).length;
      if (bad) io.err(`${bad} file(s) damaged: glance models download ${id} fetches them again\n`);
      return bad ? EXIT.someFailed : EXIT.ok;
    }
    case 'remove': {
      if (!id) throw new UsageError('glance models remove ID');
      const had = await manager.remove(id);
      io.out(had ? `${id} removed\n` : `${id} was not installed (partial files, if any, removed)\n`);
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown action "${action}"`);
  }
}

/** glance models use ID|DIR: the library's CLIP model changes, and its photos are embedded again with it. */
async function useClip(
  model: string,
  values: { json?: boolean | undefined; home?: string | undefined; variant?: string | undefined; yes?: boolean },
  io: CliIo,
): Promise<number> {
  if (!isCatalogClip(model) && !existsSync(model)) {
    throw new UsageError(`"${model}" is neither a CLIP model of the catalog (glance models list) nor a folder`);
  }
  const choice = clipChoice(model, parseVariant(values.variant));
  const home = resolveHome(values.home, io.env);
  await ensureClip(choice, home, io, { yes: values.yes, purpose: 'index photos' });
  const lib = openLibrary({ home: values.home, model, variant: choice.variant }, io);
  try {
    const before = chooseClip({ home: values.home }, home).choice;
    saveClip(lib.store, choice);
    const name = `${choice.model}${choice.variant === 'fp32' ? '' : ` (${choice.variant})`}`;
    if (lib.folders().length === 0) {
      io.out(values.json ? `${JSON.stringify({ model: choice })}\n` : `the library now uses ${name}\n`);
      return EXIT.ok;
    }
    if (!values.json && JSON.stringify(before) !== JSON.stringify(choice)) {
      io.err(`indexing the library again with ${name}; your own tags stay\n`);
    }
    const result = await lib.indexFolders(undefined, progressPrinter(io, values.json ?? false));
    io.out(
      values.json
        ? `${JSON.stringify({ model: choice, index: result })}\n`
        : `the library now uses ${name}: ${summary(result)}\n`,
    );
    return EXIT.ok;
  } finally {
    lib.close();
  }
}
