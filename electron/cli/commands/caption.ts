// glance caption [FOLDER...]: a sentence per photo from a local vision model, kept in the library (searchable, shown
// by glance show, exported to XMP). The job runs in the engine process; a killed run resumes where it stopped,
// because every caption is stored as it is written and the job only asks for photos that have none yet.
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { CaptionProgress } from '../../engine/captions/caption-job.ts';
import { EngineSupervisor } from '../../engine/process/supervisor.ts';
import { CHAT_OPTIONS, modelFromValues } from '../chat-context.ts';
import { formatDuration } from '../format.ts';
import { type CliIo, EXIT } from '../io.ts';

export const usage = `Usage: glance caption [FOLDER...] [options]

Describes every photo of the library (or of the given library folders) in one sentence with a local vision model,
and keeps the caption with the model's name and the date. Photos that already have a caption by that model are
skipped, so a stopped or killed run goes on where it was. A caption you wrote yourself is never replaced.

Options:
  --model ID|FILE        a catalog chat model or a .gguf file (default: smolvlm-500m when installed, the fastest;
                         else the installed chat model)
  --mmproj FILE          the vision projector for --model FILE
  --redo                 caption again the photos this model captioned before (your own captions are kept)
  --json                 one JSON line per photo ({file, caption} or {file, error}), then a summary line
  --home DIR             Glance's data folder (default: GLANCE_HOME, else the app-data folder)
`;

const OPTIONS = {
  home: CHAT_OPTIONS.home,
  model: CHAT_OPTIONS.model,
  mmproj: CHAT_OPTIONS.mmproj,
  ctx: CHAT_OPTIONS.ctx,
  'gpu-layers': CHAT_OPTIONS['gpu-layers'],
  json: CHAT_OPTIONS.json,
  redo: { type: 'boolean' },
} as const;

export async function captionCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const { home, label, model } = modelFromValues(values, io, { prefer: 'smolvlm-500m' });
  let last: CaptionProgress | null = null;
  let settle: (p: CaptionProgress) => void = () => {};
  const finished = new Promise<CaptionProgress>((resolve) => {
    settle = resolve;
  });
  let lastLine = 0;
  const engine = new EngineSupervisor({
    home,
    events: {
      captionsProgress: (p) => {
        last = p;
        if (p.state === 'done' || p.state === 'cancelled' || p.state === 'failed') settle(p);
        if (values.json || p.state !== 'running') return;
        if (io.tty) {
          const name = p.current ? path.basename(p.current.path) : '';
          io.err(
            `\r\x1b[K${p.done}/${p.total} · ${p.photosPerSecond.toFixed(2)} photos/s · ETA ${formatDuration(p.etaSeconds)} · ${name}`,
          );
        } else if (Date.now() - lastLine > 1000) {
          lastLine = Date.now();
          io.err(`captioning ${p.done}/${p.total}, ${p.photosPerSecond.toFixed(2)} photos/s\n`);
        }
      },
      captionsPhoto: (e) => {
        if (values.json)
          io.out(
            `${JSON.stringify(e.error ? { file: e.path, error: e.error } : { file: e.path, caption: e.caption })}\n`,
          );
      },
    },
  });
  const onSignal = () => void engine.call('captionsCancel').catch(() => {});
  try {
    await engine.start();
    process.once('SIGINT', onSignal);
    const start = await engine.call('captionsStart', {
      ...(positionals.length ? { folders: positionals.map((f) => path.resolve(f)) } : {}),
      model,
      label,
      redo: values.redo ?? false,
    });
    const end = start.state === 'running' || start.state === 'paused' ? await finished : start;
    if (io.tty && !values.json) io.err('\r\x1b[K');
    const p = last ?? end;
    const line = `${p.state === 'cancelled' ? 'cancelled: ' : ''}${p.done - p.failed} captioned by ${label}, ${p.failed} could not be read`;
    if (values.json)
      io.out(
        `${JSON.stringify({ summary: { state: p.state, captioned: p.done - p.failed, failed: p.failed, model: label } })}\n`,
      );
    else {
      io.out(`${line}\n`);
      for (const f of p.failures ?? []) io.err(`  ${f.path}: ${f.message}\n`);
    }
    if (p.state === 'failed') {
      io.err(`glance caption: ${p.error ?? 'the job failed'}\n`);
      return EXIT.model;
    }
    return p.state === 'cancelled' ? 130 : p.failed ? EXIT.someFailed : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    await engine.stop();
  }
}
