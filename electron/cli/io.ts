// What a command may touch of the outside world, so tests can run commands in-process and read what they print.
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal (colours, progress bars). */
  tty: boolean;
  /** Asks a person a question and returns their answer; absent when no one is at a terminal (stdin not a TTY). */
  ask?: (question: string) => Promise<string>;
}

/** A question on stderr (stdout may be piped), the answer from stdin. */
async function askOnTerminal(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

export const processIo = (): CliIo => ({
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
  tty: Boolean(process.stdout.isTTY),
  ...(process.stdin.isTTY ? { ask: askOnTerminal } : {}),
});

/** A mistake in how the command was called: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT = { ok: 0, someFailed: 1, usage: 2, model: 3 } as const;
