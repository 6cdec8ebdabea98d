// The `glance` command line: a second front end of the engine, headless, the same services in-process.
// Each command is one module under commands/; this file only dispatches.
import { spawn } from 'node:child_process';
import { describeError, ModelError } from '../../native-models/errors.ts';
import { askCommand, usage as askUsage } from './commands/ask.ts';
import { captionCommand, usage as captionUsage } from './commands/caption.ts';
import { chatCommand, usage as chatUsage } from './commands/chat.ts';
import { classifyCommand, usage as classifyUsage } from './commands/classify.ts';
import { duplicatesCommand, usage as duplicatesUsage } from './commands/duplicates.ts';
import { foldersCommand, usage as foldersUsage } from './commands/folders.ts';
import { indexCommand, usage as indexUsage } from './commands/index.ts';
import { modelsCommand, usage as modelsUsage } from './commands/models.ts';
import { searchCommand, searchUsage, similarCommand, similarUsage } from './commands/search.ts';
import { serveCommand, usage as serveUsage } from './commands/serve.ts';
import { showCommand, usage as showUsage } from './commands/show.ts';
import { tagsCommand, usage as tagsUsage } from './commands/tags.ts';
import { type CliIo, EXIT, processIo, UsageError } from './io.ts';
import { guardStdout } from './stdout-guard.ts';

interface Command {
  summary: string;
  usage: string;
  run: (argv: string[], io: CliIo) => Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
  classify: {
    summary: 'zero-shot labels for images with CLIP',
    usage: classifyUsage,
    run: classifyCommand,
  },
  index: {
    summary: 'add photo folders and index them (--watch keeps them indexed)',
    usage: indexUsage,
    run: indexCommand,
  },
  search: { summary: 'find photos by text, tag, folder and date', usage: searchUsage, run: searchCommand },
  similar: { summary: 'photos that look like a given one', usage: similarUsage, run: similarCommand },
  show: { summary: "a photo's everything: file, date, tags with margins, caption", usage: showUsage, run: showCommand },
  tags: { summary: "a photo's tags; add, remove, rename; export to XMP", usage: tagsUsage, run: tagsCommand },
  duplicates: { summary: 'groups of near-identical photos', usage: duplicatesUsage, run: duplicatesCommand },
  folders: { summary: "the library's folders", usage: foldersUsage, run: foldersCommand },
  ask: { summary: 'ask a local vision model about images', usage: askUsage, run: askCommand },
  chat: { summary: 'a conversation about images in the terminal', usage: chatUsage, run: chatCommand },
  caption: {
    summary: 'a sentence per photo from a local vision model (resumable; --redo)',
    usage: captionUsage,
    run: captionCommand,
  },
  serve: {
    summary: 'a local OpenAI-compatible API for other apps (this machine only, with a token)',
    usage: serveUsage,
    run: serveCommand,
  },
  models: {
    summary: "the model catalog: list, download, verify, remove; use sets the library's CLIP model",
    usage: modelsUsage,
    run: modelsCommand,
  },
};

export const mainUsage = `Usage: glance COMMAND [options]

Glance: a local assistant for pictures. Nothing leaves this machine.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
  .join('\n')}

Run "glance COMMAND --help" for a command's options.
glance --ask-screen starts screenshot-and-ask in the running desktop app (GLANCE_APP names it).
Data and models live in GLANCE_HOME (or --home DIR), by default the app-data folder.
`;

const ASK_SCREEN = '--ask-screen';

/**
 * `glance --ask-screen`: starts screenshot-and-ask in the running desktop app, for desktops where Electron's global
 * shortcuts do not work (Wayland): bind this command to a key in the desktop's settings. The app's own executable
 * takes the same switch; a second launch hands it to the running instance and quits.
 */
function askScreen(io: CliIo): number {
  const app = io.env.GLANCE_APP;
  if (!app) {
    io.err(
      'glance --ask-screen: set GLANCE_APP to the Glance app (e.g. /opt/Glance/glance), or bind the app itself with ' +
        '--ask-screen in your desktop keyboard settings\n',
    );
    return EXIT.usage;
  }
  spawn(app, [ASK_SCREEN], { detached: true, stdio: 'ignore' }).unref();
  io.out('asked Glance to capture the screen\n');
  return EXIT.ok;
}

/** Codes that mean "the model is missing or broken": exit code 3, as for classify. */
const MODEL_PROBLEMS =
  /^(model-|mmproj-missing$|no-chat-model$|unknown-model$|not-gguf$|truncated$|file-missing$|not-a-text-model$|not-a-projector$|projector-mismatch$|load-failed$)/;

/** The real terminal: Glance's output to stdout, which nothing else may write to (see stdout-guard.ts). */
const guardedProcessIo = (): CliIo => ({ ...processIo(), out: guardStdout() });

export async function run(argv: string[], io: CliIo = guardedProcessIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === ASK_SCREEN) return askScreen(io);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(mainUsage);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`glance: unknown command "${name}"\n\n${mainUsage}`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    // node:util parseArgs reports unknown options and missing values with a TypeError carrying this code.
    const code = (err as { code?: string }).code;
    if (err instanceof UsageError || code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`glance ${name}: ${(err as Error).message}\n\n${command.usage}`);
      return EXIT.usage;
    }
    const { code: errorCode, message } = describeError(err);
    const hint =
      err instanceof ModelError && err.code === 'model-folder-missing'
        ? '\nPut a CLIP ONNX export there (see "Models" in the README) or pass --model DIR.'
        : '';
    io.err(`glance ${name}: ${message}${hint}\n`);
    return MODEL_PROBLEMS.test(errorCode) ? EXIT.model : EXIT.someFailed;
  }
}
