// glance search TEXT and glance similar FILE: ranked photos, with filters by tag, folder and date.
import { parseArgs } from 'node:util';
import { MULTILINGUAL_TEXT_ID } from '../../../native-models/catalog.ts';
import type { SearchHit, SearchLanguage, SearchQuery } from '../../engine/library/library.ts';
import { readSettings } from '../../engine/settings.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';
import {
  ensureLibraryClip,
  LIBRARY_OPTIONS,
  LIBRARY_OPTIONS_HELP,
  openLibrary,
  parseDate,
  positiveNumber,
} from '../library-context.ts';

const FILTERS_HELP = `  --limit N              at most N photos (default 20)
  --tag TAG              only photos with this tag (repeatable: all of them)
  --folder DIR           only photos under DIR
  --from DATE, --to DATE only photos taken in this range (YYYY, YYYY-MM or YYYY-MM-DD)
  --lang auto|en|multi   which model reads TEXT: en CLIP's own (English), multi the multilingual text model (50+
                         languages; glance models download ${MULTILINGUAL_TEXT_ID}), auto (the default, or the
                         Settings choice) the multilingual one for text that is not English when it is installed
${LIBRARY_OPTIONS_HELP}`;

export const searchUsage = `Usage: glance search [TEXT] [options]

Finds photos by what they show ("kids on a beach at sunset"), best match first. Without TEXT, lists the photos the
filters select, newest first.

Options:
${FILTERS_HELP}
`;

export const similarUsage = `Usage: glance similar FILE [options]

More like this: photos that look like FILE (a photo of the library or any image).

Options:
${FILTERS_HELP}
`;

const OPTIONS = {
  ...LIBRARY_OPTIONS,
  limit: { type: 'string' },
  tag: { type: 'string', multiple: true },
  folder: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  lang: { type: 'string' },
} as const;

function printHits(hits: SearchHit[], json: boolean | undefined, io: CliIo): void {
  if (json) {
    io.out(`${JSON.stringify(hits, null, 2)}\n`);
    return;
  }
  if (hits.length === 0) io.out('no photos found\n');
  for (const h of hits) io.out(`${h.score === null ? '' : `${h.score.toFixed(3)}  `}${h.path}\n`);
}

async function run(argv: string[], io: CliIo, mode: 'search' | 'similar'): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const q: SearchQuery = {
    limit: positiveNumber('limit', values.limit) ?? 20,
    ...(values.tag ? { tags: values.tag } : {}),
    ...(values.folder ? { folder: values.folder } : {}),
  };
  const from = parseDate('from', values.from, false);
  const to = parseDate('to', values.to, true);
  if (from !== undefined) q.from = from;
  if (to !== undefined) q.to = to;
  if (mode === 'similar') {
    if (positionals.length !== 1) throw new UsageError('give one image: glance similar FILE');
    q.like = { path: positionals[0]! };
  } else if (positionals.length > 0) {
    q.text = positionals.join(' ');
  } else if (!q.tags && !q.folder && from === undefined && to === undefined) {
    throw new UsageError('give a text to search for, or a filter');
  }
  // filters alone read the index; a text or an image to compare needs the model itself
  if (q.text !== undefined || q.like) await ensureLibraryClip(values, io, 'search photos');
  if (values.lang !== undefined && !['auto', 'en', 'multi'].includes(values.lang)) {
    throw new UsageError(`--lang takes auto, en or multi (got "${values.lang}")`);
  }
  const lib = openLibrary(values, io);
  try {
    if (q.text !== undefined) {
      const lang =
        (values.lang as SearchLanguage | undefined) ?? readSettings(lib.store, 'the library').settings.searchLanguage;
      // decided once here (the search then takes the encoder as given, without detecting the language again)
      const encoder = await lib.textEncoderFor(q.text, lang);
      q.lang = encoder === 'multilingual' ? 'multi' : 'en';
      // said on stderr, so that piped output stays the photos alone
      if (encoder === 'multilingual' && !values.json) io.err('(read by the multilingual text model)\n');
    }
    printHits(await lib.search(q), values.json, io);
    return EXIT.ok;
  } finally {
    lib.close();
  }
}

export const searchCommand = (argv: string[], io: CliIo) => run(argv, io, 'search');
export const similarCommand = (argv: string[], io: CliIo) => run(argv, io, 'similar');
