// glance ask IMAGE... "QUESTION": one question about one or more images, the answer streamed as it is written.
import { parseArgs } from 'node:util';
import { absolute, CHAT_OPTIONS, CHAT_OPTIONS_HELP, modelFromValues, startEngine } from '../chat-context.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';

export const usage = `Usage: glance ask IMAGE... "QUESTION" [options]

Asks a local vision model about images; the answer streams as it is written. The exchange is kept as a
conversation (glance chat --continue ID goes on with it).

Options:
${CHAT_OPTIONS_HELP}
`;

export async function askCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: CHAT_OPTIONS });
  if (positionals.length < 2)
    throw new UsageError('give at least one image and a question: glance ask photo.jpg "what is this?"');
  const question = positionals.at(-1)!;
  const images = absolute(positionals.slice(0, -1));
  const { home, label, model, options } = modelFromValues(values, io);
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
