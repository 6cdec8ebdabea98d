// The `glance` command line: a second front end of the engine, headless, the same services in-process.
// Each command is one module under commands/; this file only dispatches.
import { describeError } from '../../native-models/errors.ts';
import { classifyCommand, usage as classifyUsage } from './commands/classify.ts';
import { type CliIo, EXIT, processIo, UsageError } from './io.ts';

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
};

export const mainUsage = `Usage: glance COMMAND [options]

Glance: a local assistant for pictures. Nothing leaves this machine.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
  .join('\n')}

Run "glance COMMAND --help" for a command's options.
Data and models live in GLANCE_HOME (or --home DIR), by default the app-data folder.
`;

export async function run(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
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
    io.err(`glance ${name}: ${describeError(err).message}\n`);
    return EXIT.someFailed;
  }
}
