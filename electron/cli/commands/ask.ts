// glance ask IMAGE... "QUESTION": one question about one or more images, the answer streamed as it is written.
// --short answers as a VQA model does (yes, no, a number, a word or two), under a grammar, not by parsing free text;
// --each FOLDER and --search QUERY ask the same question of every photo, one JSON line per photo.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isPhotoFile } from '../../engine/library/scan.ts';
import { EngineError } from '../../engine/process/supervisor.ts';
import { absolute, CHAT_OPTIONS, CHAT_OPTIONS_HELP, modelFromValues, startEngine } from '../chat-context.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';
import { openLibrary, positiveNumber } from '../library-context.ts';

export const usage = `Usage: glance ask IMAGE... "QUESTION" [options]
       glance ask --each FOLDER "QUESTION" [--short] [options]
       glance ask --search "QUERY" "QUESTION" [--short] [--limit N] [options]

Asks a local vision model about images; the answer streams as it is written. The exchange is kept as a
conversation (glance chat --continue ID goes on with it).

With --each or --search, asks the question of every photo (the pictures in FOLDER, or the library's best matches
for QUERY) one at a time, each on its own: a line per photo as it is answered ("file: answer"; with --json one JSON
object per line, {"file", "answer"} or {"file", "error"}), so the output can feed a spreadsheet. A picture that
cannot be read gets its error on its line and the others are still answered.

Options:
  --short                a short answer as a VQA model gives: exactly "yes" or "no" for a yes/no question, digits
                         for "how many", else a word or a short phrase
  --each FOLDER          ask about every picture directly in FOLDER
  --search QUERY         ask about the library's best matches for QUERY (see glance search)
  --limit N              with --search: how many photos (default 20)
${CHAT_OPTIONS_HELP}
`;

const OPTIONS = {
  ...CHAT_OPTIONS,
  short: { type: 'boolean' },
  each: { type: 'string' },
  search: { type: 'string' },
  limit: { type: 'string' },
} as const;

export async function askCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  if (values.each !== undefined || values.search !== undefined) return askEach(values, positionals, io);
  if (positionals.length < 2)
    throw new UsageError('give at least one image and a question: glance ask photo.jpg "what is this?"');
  const question = positionals.at(-1)!;
  const images = absolute(positionals.slice(0, -1));
  const { home, label, model, options } = modelFromValues(values, io);
  if (values.short) return askShortOnce(home, images, question, model, label, values.json ?? false, io);
  let streamed = false;
  const engine = startEngine(home, (_, token) => {
    if (values.json) return;
    streamed = true;
    io.out(token);
  });
  const onSignal = () => void engine.call('chatStop', { conversationId: conversation }).catch(() => {});
  let conversation = -1;
  try {
    await engine.start();
    conversation = (await engine.call('chatCreate', values.system ? { systemPrompt: values.system } : {})).id;
    process.once('SIGINT', onSignal);
    const message = await engine.call('chatSend', {
      conversationId: conversation,
      text: question,
      images,
      model,
      options,
    });
    if (values.json) {
      // the settings the answer was written with, seed included: --temperature and --seed reproduce it
      const sampling = message.stats?.sampling ?? null;
      io.out(`${JSON.stringify({ conversation, model: label, sampling, message }, null, 2)}\n`);
    } else {
      if (streamed) io.out('\n');
      const s = message.stats;
      const info = await engine.call('modelInfo');
      for (const note of info?.notes ?? []) io.err(`note: ${note}\n`);
      if (s) {
        io.err(
          `${label} on ${info ? `${info.backend.toUpperCase()} (${info.device})` : '?'} · ${s.promptTokens} prompt tokens, ` +
            `first token after ${(s.timeToFirstTokenMs / 1000).toFixed(1)} s, ` +
            `${s.tokensPerSecond.toFixed(1)} tokens/s${s.stopped ? ' · stopped' : ''} · conversation ${conversation}\n`,
        );
      }
    }
    return EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    await engine.stop();
  }
}

type AskValues = ReturnType<
  typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>
>['values'];

/** A short answer to one question about one image (several images: the first; a VQA answer is about one picture). */
async function askShortOnce(
  home: string,
  images: string[],
  question: string,
  model: ReturnType<typeof modelFromValues>['model'],
  label: string,
  json: boolean,
  io: CliIo,
): Promise<number> {
  if (images.length !== 1) throw new UsageError('--short answers about one image: give exactly one');
  const engine = startEngine(home, () => {});
  try {
    await engine.start();
    const r = await engine.call('askShort', { image: images[0]!, question, model, short: true });
    io.out(
      json ? `${JSON.stringify({ file: images[0], answer: r.answer, kind: r.kind, model: label })}\n` : `${r.answer}\n`,
    );
    return EXIT.ok;
  } finally {
    await engine.stop();
  }
}

/** The pictures directly in a folder, by name. */
async function picturesIn(folder: string): Promise<string[]> {
  const dir = path.resolve(folder);
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`--each ${folder}: ${err.code === 'ENOENT' ? 'no such folder' : err.message}`);
  });
  return entries
    .filter((e) => e.isFile() && isPhotoFile(e.name))
    .map((e) => path.join(dir, e.name))
    .sort();
}

async function askEach(values: AskValues, positionals: string[], io: CliIo): Promise<number> {
  if (values.each !== undefined && values.search !== undefined)
    throw new UsageError('give --each or --search, not both');
  if (positionals.length !== 1) throw new UsageError('give one question: glance ask --each FOLDER "is it a receipt?"');
  const question = positionals[0]!;
  const { home, model, options } = modelFromValues(values, io);
  let files: string[];
  if (values.each !== undefined) {
    files = await picturesIn(values.each);
  } else {
    const lib = openLibrary({ home: values.home }, io);
    try {
      const limit = positiveNumber('limit', values.limit) ?? 20;
      files = (await lib.search({ text: values.search!, limit })).map((h) => h.path);
    } finally {
      lib.close();
    }
  }
  if (files.length === 0) {
    io.err(
      values.each !== undefined ? `glance ask: no pictures in ${values.each}\n` : 'glance ask: no photo matches\n',
    );
    return EXIT.ok;
  }
  const engine = startEngine(home, () => {});
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  let failed = 0;
  try {
    await engine.start();
    process.once('SIGINT', onSignal);
    for (const file of files) {
      if (stop) break;
      try {
        const r = await engine.call('askShort', {
          image: file,
          question,
          model,
          short: values.short ?? false,
          options,
        });
        io.out(values.json ? `${JSON.stringify({ file, answer: r.answer })}\n` : `${file}: ${r.answer}\n`);
      } catch (err) {
        if (!(err instanceof EngineError)) throw err;
        // this picture only: a broken file, a picture the model cannot take; the engine restarts if it crashed
        failed++;
        const error = { code: err.code, message: err.message };
        io.out(values.json ? `${JSON.stringify({ file, error })}\n` : `${file}: error: ${err.message}\n`);
      }
    }
    return stop ? 130 : failed ? EXIT.someFailed : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    await engine.stop();
  }
}
