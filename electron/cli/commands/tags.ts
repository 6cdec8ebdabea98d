// glance tags FILE | add FILE TAG... | remove FILE TAG... | rename OLD NEW | threshold [VALUE] | export-xmp [FOLDER]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type CliIo, EXIT, UsageError } from '../io.ts';
import { LIBRARY_OPTIONS, LIBRARY_OPTIONS_HELP, openLibrary } from '../library-context.ts';

export const usage = `Usage: glance tags FILE                 a photo's tags (--all: with the tagger's scores and near misses)
       glance tags add FILE TAG...       add tags of your own
       glance tags remove FILE TAG...    remove tags (the tagger never puts them back)
       glance tags rename OLD NEW        rename a tag everywhere (merging into NEW if it exists)
       glance tags threshold [VALUE]     show or set how sure the tagger must be (0 to 1, default 0.03)
       glance tags export-xmp [FOLDER]   write tags to XMP sidecars (digiKam, darktable, Lightroom)

Options:
  --all                  with FILE: show scores and candidates below the threshold
${LIBRARY_OPTIONS_HELP}
`;

export async function tagsCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...LIBRARY_OPTIONS, all: { type: 'boolean' } },
  });
  const [first, ...rest] = positionals;
  if (!first) throw new UsageError('say which photo, or what to do');
  const lib = openLibrary(values, io);
  try {
    switch (first) {
      case 'add':
      case 'remove': {
        const [file, ...tags] = rest;
        if (!file || tags.length === 0) throw new UsageError(`glance tags ${first} FILE TAG...`);
        for (const t of tags) (first === 'add' ? lib.addTag : lib.removeTag).call(lib, file, t);
        io.out(
          `${first === 'add' ? 'added' : 'removed'} ${tags.join(', ')} ${first === 'add' ? 'to' : 'from'} ${path.resolve(file)}\n`,
        );
        return EXIT.ok;
      }
      case 'rename': {
        if (rest.length !== 2) throw new UsageError('glance tags rename OLD NEW');
        if (!lib.renameTag(rest[0]!, rest[1]!)) {
          io.err(`glance tags: there is no tag "${rest[0]}"\n`);
          return EXIT.someFailed;
        }
        io.out(`renamed "${rest[0]}" to "${rest[1]}"\n`);
        return EXIT.ok;
      }
      case 'threshold': {
        if (rest.length === 0) {
          io.out(`${lib.threshold()}\n`);
          return EXIT.ok;
        }
        const v = Number(rest[0]);
        lib.setThreshold(v);
        io.out(`threshold set to ${v}; tags follow at once, nothing is re-indexed\n`);
        return EXIT.ok;
      }
      case 'export-xmp': {
        const { photos, written, failed } = await lib.exportXmp(rest[0]);
        if (values.json) io.out(`${JSON.stringify({ photos, written, failed }, null, 2)}\n`);
        else {
          const changed = written.filter((w) => w.created || w.added.length > 0 || w.description !== undefined);
          io.out(
            `${photos} photos, ${changed.length} sidecars written or updated, ${written.length - changed.length} already up to date\n`,
          );
        }
        // the export went on past these; each says which file and why
        for (const f of failed) io.err(`glance tags export-xmp: ${f.message}\n`);
        return failed.length > 0 ? EXIT.someFailed : EXIT.ok;
      }
      default: {
        if (rest.length > 0) throw new UsageError(`unknown tags action "${first}"`);
        const { tags, candidates } = lib.tags(first);
        if (values.json) {
          io.out(`${JSON.stringify(values.all ? { tags, candidates } : { tags }, null, 2)}\n`);
          return EXIT.ok;
        }
        const fmt = (t: (typeof tags)[number]) =>
          `  ${t.name}${t.source === 'user' ? ' (yours)' : ''}${values.all && t.score !== null ? `  ${t.score.toFixed(3)}` : ''}\n`;
        io.out(tags.length ? tags.map(fmt).join('') : '  (no tags)\n');
        if (values.all && candidates.length) io.out(`below the threshold:\n${candidates.map(fmt).join('')}`);
        return EXIT.ok;
      }
    }
  } finally {
    lib.close();
  }
}
