// glance show FILE: everything the library knows of one photo: its file, size, date, dimensions, tags with their
// margins, and its caption with the model that wrote it.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes } from '../../../common/format.ts';
import type { MarginTag } from '../../engine/library/library.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';
import { LIBRARY_OPTIONS, LIBRARY_OPTIONS_HELP, openLibrary } from '../library-context.ts';

export const usage = `Usage: glance show FILE [--json]

Everything the library knows of a photo: path, size, date, dimensions, tags with their margins (how far the
tagger's score is above the threshold), and its caption with the model that wrote it (or "yours").

Options:
  --all                  also the tagger's near misses, below the threshold (negative margins)
${LIBRARY_OPTIONS_HELP}
`;

/** Local time, to the minute: what a person reads on their clock. */
function localTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const signed = (m: number) => `${m >= 0 ? '+' : '−'}${Math.abs(m).toFixed(3)}`;

export async function showCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...LIBRARY_OPTIONS, all: { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError('say which photo: glance show FILE');
  const file = positionals[0]!;
  const lib = openLibrary(values, io);
  try {
    const { row, caption } = lib.photoDetail(path.resolve(file));
    const { tags, candidates } = lib.tagMargins(row.id);
    const tagJson = (t: MarginTag) => ({
      name: t.name,
      category: t.category,
      source: t.source, // 'user': a person's own; 'auto': the tagger's
      score: t.score,
      margin: t.margin,
    });
    if (values.json) {
      const out = {
        path: row.path,
        size: row.size,
        width: row.width,
        height: row.height,
        // EXIF's capture time when the photo has one, else null; the file's modification time always
        takenAt: row.taken_at === null ? null : new Date(row.taken_at).toISOString(),
        modifiedAt: new Date(row.mtime_ms).toISOString(),
        threshold: lib.threshold(),
        tags: tags.map(tagJson),
        ...(values.all ? { candidates: candidates.map(tagJson) } : {}),
        caption: caption && {
          text: caption.text,
          model: caption.model,
          edited: caption.edited,
          createdAt: new Date(caption.createdAt).toISOString(),
        },
      };
      io.out(`${JSON.stringify(out, null, 2)}\n`);
      return EXIT.ok;
    }
    const lines = [row.path];
    const field = (name: string, value: string) => lines.push(`  ${name.padEnd(11)} ${value}`);
    const human = formatBytes(row.size);
    field('size', /bytes?$/.test(human) ? human : `${human} (${row.size} bytes)`);
    field(
      'date',
      row.taken_at !== null
        ? `${localTime(row.taken_at)} (taken, from EXIF)`
        : `${localTime(row.mtime_ms)} (file modified; no capture date in the photo)`,
    );
    field('dimensions', row.width && row.height ? `${row.width} × ${row.height}` : 'unknown');
    const tagLine = (t: MarginTag) =>
      `    ${t.name.padEnd(24)} ${t.margin === null ? 'yours' : `${signed(t.margin)}  (score ${t.score?.toFixed(3)})`}`;
    lines.push(`  tags        ${tags.length === 0 ? '(none)' : `margin above the threshold (${lib.threshold()})`}`);
    lines.push(...tags.map(tagLine));
    if (values.all && candidates.length > 0) {
      lines.push('  below the threshold', ...candidates.map(tagLine));
    }
    if (caption) {
      field(
        'caption',
        `${caption.text}\n              (${caption.edited ? 'yours' : caption.model}, ${localTime(caption.createdAt)})`,
      );
    } else field('caption', '(none: glance caption describes photos)');
    io.out(`${lines.join('\n')}\n`);
    return EXIT.ok;
  } finally {
    lib.close();
  }
}
