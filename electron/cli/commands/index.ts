// glance index [FOLDER...]: add folders and index them; without folders, bring every folder up to date.
import { parseArgs } from 'node:util';
import type { IndexProgress } from '../../engine/library/indexer.ts';
import { formatDuration, progressBar } from '../format.ts';
import { type CliIo, EXIT } from '../io.ts';
import {
  ensureLibraryClip,
  LIBRARY_OPTIONS,
  LIBRARY_OPTIONS_HELP,
  openLibrary,
  positiveNumber,
  rememberClip,
} from '../library-context.ts';

export const usage = `Usage: glance index [FOLDER...] [options]

Adds the folders to the library and indexes every photo in them (recursively); without folders, brings every
folder of the library up to date. Unchanged files are not opened again; moved files keep their tags.

Options:
  --errors               list the files that could not be indexed, with the reason, and exit
  --watch                keep running and index changes as they happen (Ctrl+C stops)
  --batch N              images per model call (default 8)
${LIBRARY_OPTIONS_HELP}
`;

export function summary(p: IndexProgress): string {
  const parts = [
    `${p.indexed} indexed`,
    `${p.unchanged} unchanged`,
    `${p.moved} moved`,
    `${p.removed} removed`,
    `${p.errors} could not be read`,
  ];
  return `${p.phase === 'cancelled' ? 'cancelled: ' : ''}${parts.join(', ')}${p.errors ? ' (glance index --errors lists them)' : ''}`;
}

/** An index run's progress on stderr: a bar on a terminal, a line a second in logs and pipes, nothing for --json. */
export function progressPrinter(io: CliIo, json: boolean): (p: IndexProgress) => void {
  let lastLine = 0;
  return (p) => {
    if (json) return;
    if (io.tty) {
      if (p.phase === 'scanning') io.err(`\rscanning… ${p.found} photos found`);
      else if (p.phase === 'indexing' || p.phase === 'paused') io.err(`\r${progressBar(p)}`);
      else io.err('\r\x1b[K');
    } else if (p.phase === 'indexing' && Date.now() - lastLine > 1000) {
      // logs and pipes get a line a second, not a redraw per file
      lastLine = Date.now();
      io.err(
        `indexing ${p.done}/${p.total} files, ${p.filesPerSecond.toFixed(1)} files/s, ETA ${formatDuration(p.etaSeconds)}\n`,
      );
    }
  };
}

export async function indexCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...LIBRARY_OPTIONS, errors: { type: 'boolean' }, watch: { type: 'boolean' }, batch: { type: 'string' } },
  });
  const batchSize = positiveNumber('batch', values.batch);
  const lib = openLibrary(values, io, batchSize ? { batchSize } : {});
  try {
    if (values.errors) {
      const errors = lib.errors();
      if (values.json) io.out(`${JSON.stringify(errors, null, 2)}\n`);
      else if (errors.length === 0) io.out('no files with errors\n');
      else for (const e of errors) io.out(`${e.path}\n  ${e.code}: ${e.message}\n`);
      return EXIT.ok;
    }
    if (positionals.length === 0 && lib.folders().length === 0) {
      io.err('glance index: the library has no folders yet: glance index FOLDER...\n');
      return EXIT.usage;
    }
    await ensureLibraryClip(values, io, 'index photos'); // the model loads on first need, after this
    const onSignal = () => lib.cancelIndexing();
    process.once('SIGINT', onSignal);
    const onProgress = progressPrinter(io, values.json ?? false);
    const result = await lib.indexFolders(positionals.length ? positionals : undefined, onProgress);
    rememberClip(lib, values, io); // the library's embeddings are now this model's: later commands use it
    io.out(values.json ? `${JSON.stringify(result)}\n` : `${summary(result)}\n`);
    if (result.phase === 'cancelled') {
      process.off('SIGINT', onSignal);
      return 130;
    }
    if (!values.watch) {
      process.off('SIGINT', onSignal);
      return EXIT.ok;
    }
    return await watch(lib, io);
  } finally {
    lib.close();
  }
}

async function watch(lib: ReturnType<typeof openLibrary>, io: CliIo) {
  io.err(`watching ${lib.folders().length} folder(s); Ctrl+C stops\n`);
  const stop = lib.watch(
    (r) => io.out(`${summary(r)}\n`),
    (err) => io.err(`glance index: ${(err as Error).message}\n`),
  );
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  await stop();
  return EXIT.ok;
}
