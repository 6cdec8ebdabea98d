// glance chat [--image FILE]...: a conversation in the terminal. Lines are messages; /image FILE attaches an image to
// the next one; /regenerate, /reset, /exit. Ctrl+C stops an answer being written (twice quits).
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Message } from '../../engine/chat/chat-service.ts';
import { absolute, CHAT_OPTIONS, CHAT_OPTIONS_HELP, modelFromValues, startEngine } from '../chat-context.ts';
import { type CliIo, EXIT, UsageError } from '../io.ts';

export const usage = `Usage: glance chat [--image FILE]... [options]

A multi-turn conversation about images. Type a message and press Enter. Commands:
  /image FILE    attach an image to your next message (repeatable)
  /regenerate    answer the last message again
  /reset         start a new conversation (the old one stays on disk)
  /exit          quit (Ctrl+D too); Ctrl+C stops an answer while it is written

Options:
  --image FILE           attach an image to the first message (repeatable)
  --continue ID          go on with a saved conversation
${CHAT_OPTIONS_HELP}
`;

export async function chatCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CHAT_OPTIONS, image: { type: 'string', multiple: true }, continue: { type: 'string' } },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected "${positionals[0]}": type messages after the prompt`);
  const { home, label, model, options } = modelFromValues(values, io);
  // --json: one JSON line per answer (the message, and the sampling it was written with) instead of streamed text
  const engine = startEngine(home, (_, token) => {
    if (!values.json) io.out(token);
  });
  let pending = absolute(values.image ?? []);
  let conversation = -1;
  let answering = false;
  // Made before anything is awaited and iterated at once: readline drops lines that arrive with no reader.
  const rl = createInterface({ input: process.stdin, terminal: io.tty, prompt: io.tty ? '> ' : '' });
  const lines = rl[Symbol.asyncIterator]();
  const onSignal = () => {
    if (answering) void engine.call('chatStop', { conversationId: conversation }).catch(() => {});
    else rl.close();
  };
  process.on('SIGINT', onSignal);
  rl.on('SIGINT', onSignal);
  try {
    await engine.start();
    if (values.continue) {
      conversation = (await engine.call('chatGet', { id: Number(values.continue) })).id;
    } else {
      conversation = (await engine.call('chatCreate', values.system ? { systemPrompt: values.system } : {})).id;
    }
    io.err(`${label} · conversation ${conversation} · /exit quits\n`);
    const answer = async (run: () => Promise<Message>) => {
      answering = true;
      try {
        const message = await run();
        if (values.json) {
          const sampling = message.stats?.sampling ?? null;
          io.out(`${JSON.stringify({ conversation, model: label, sampling, message })}\n`);
        } else io.out('\n');
      } catch (err) {
        io.err(`\nerror: ${(err as Error).message}\n`);
        // The engine deletes a conversation whose first turn fails: the next message goes to a new one.
        const gone = await engine.call('chatGet', { id: conversation }).then(
          () => false,
          (e: { code?: string }) => e.code === 'not-found',
        );
        if (gone) {
          const system = values.system ? { systemPrompt: values.system } : {};
          conversation = await engine.call('chatCreate', system).then(
            (c) => c.id,
            () => conversation,
          );
        }
      } finally {
        answering = false;
      }
    };
    rl.prompt();
    for await (const raw of { [Symbol.asyncIterator]: () => lines }) {
      const line = raw.trim();
      if (line === '/exit' || line === '/quit') break;
      if (line.startsWith('/image ')) {
        pending.push(...absolute([line.slice(7).trim()]));
        io.err(`attached ${pending.length} image(s) to your next message\n`);
      } else if (line === '/reset') {
        conversation = (await engine.call('chatCreate', values.system ? { systemPrompt: values.system } : {})).id;
        pending = [];
        io.err(`new conversation ${conversation}\n`);
      } else if (line === '/regenerate') {
        await answer(() => engine.call('chatRegenerate', { conversationId: conversation, model, options }));
      } else if (line.startsWith('/')) {
        io.err('commands: /image FILE, /regenerate, /reset, /exit\n');
      } else if (line || pending.length) {
        const images = pending;
        pending = [];
        await answer(() =>
          engine.call('chatSend', { conversationId: conversation, text: line, images, model, options }),
        );
      }
      rl.prompt();
    }
    return EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    rl.close();
    await engine.stop();
  }
}
