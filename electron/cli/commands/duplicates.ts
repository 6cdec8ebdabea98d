// glance duplicates: groups of near-identical photos.
import { parseArgs } from 'node:util';
import { type CliIo, EXIT } from '../io.ts';
import { LIBRARY_OPTIONS, LIBRARY_OPTIONS_HELP, openLibrary, positiveNumber } from '../library-context.ts';

export const usage = `Usage: glance duplicates [options]

Groups of photos that look nearly the same (resized copies, re-saves, bursts).

Options:
  --threshold X          how similar, from 0 to 1 (default 0.95; 1 means identical to the model)
${LIBRARY_OPTIONS_HELP}
`;

export async function duplicatesCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...LIBRARY_OPTIONS, threshold: { type: 'string' } } });
  const threshold = positiveNumber('threshold', values.threshold, false) ?? 0.95;
  const lib = openLibrary(values, io);
  try {
    const groups = await lib.duplicates(threshold);
    if (values.json) io.out(`${JSON.stringify(groups, null, 2)}\n`);
    else if (groups.length === 0) io.out('no near-duplicates\n');
    else {
      groups.forEach((g, i) => {
        io.out(`group ${i + 1} (${g.photos.length} photos, similarity ≥ ${g.similarity.toFixed(3)})\n`);
        for (const p of g.photos) io.out(`  ${p.path}\n`);
      });
    }
    return EXIT.ok;
  } finally {
    lib.close();
  }
}
