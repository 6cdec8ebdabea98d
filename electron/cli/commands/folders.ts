// glance folders [remove DIR]: the library's folders.
import { parseArgs } from 'node:util';
import { formatBytes } from '../../../common/format.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';
import { LIBRARY_OPTIONS, LIBRARY_OPTIONS_HELP, openLibrary } from '../library-context.ts';

export const usage = `Usage: glance folders               the library's folders, their photo counts, and the space
                                    Glance's cache (thumbnails, embeddings) takes for them
       glance folders remove DIR    take a folder out of the library (its photos and tags leave the index;
                                    the files themselves are not touched)
Add folders with glance index DIR.

Options:
${LIBRARY_OPTIONS_HELP}
`;

export async function foldersCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: LIBRARY_OPTIONS });
  const lib = openLibrary(values, io);
  try {
    if (positionals[0] === 'remove') {
      if (positionals.length !== 2) throw new UsageError('glance folders remove DIR');
      const n = lib.removeFolder(positionals[1]!);
      io.out(`removed ${positionals[1]} (${n} photos left the index)\n`);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unknown folders action "${positionals[0]}"`);
    const folders = lib.folderUsage();
    // --json: each folder with its cacheBytes (a field added to the list, so scripts reading it keep working)
    if (values.json) io.out(`${JSON.stringify(folders, null, 2)}\n`);
    else if (folders.length === 0) io.out('no folders yet: glance index DIR adds one\n');
    else {
      io.out(`${'photos'.padStart(8)}  ${'cache'.padStart(8)}  folder\n`);
      for (const f of folders) {
        io.out(`${String(f.photos).padStart(8)}  ${formatBytes(f.cacheBytes).padStart(8)}  ${f.path}\n`);
      }
      // content shared by two folders counts in each folder's figure, once in the total
      io.out(`cache: ${formatBytes(lib.cacheBytes())} of thumbnails and embeddings in all\n`);
    }
    return EXIT.ok;
  } finally {
    lib.close();
  }
}
