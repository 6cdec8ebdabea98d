// The one router for every ipcMain.handle: checks that the sender is the app's own window and frame, validates the
// argument against the contract, calls the handler, and always answers a Result: never a thrown stack trace.
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import * as v from 'valibot';
import { CHANNELS, type Channel, type ChannelResult, wire } from '../ipc/contract.ts';
import { fail, ok, type Result } from '../ipc/result.ts';

export type Handlers = {
  [C in Channel]: (arg: v.InferOutput<(typeof CHANNELS)[C]['schema']>) => Promise<ChannelResult<C>> | ChannelResult<C>;
};

const isChannel = (name: string): name is Channel => Object.hasOwn(CHANNELS, name);

/** Validates and runs one call. Shared by the IPC router and the test bridge, so both speak the same contract. */
export async function dispatch(handlers: Handlers, name: string, arg: unknown): Promise<Result<unknown>> {
  if (!isChannel(name)) return fail('unknown-channel', `there is no channel "${String(name).slice(0, 80)}"`);
  const parsed = v.safeParse(CHANNELS[name].schema, arg);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const where = issue?.path?.map((p) => String(p.key)).join('.') || 'argument';
    return fail('invalid-argument', `${name}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  try {
    const handler = handlers[name] as (a: unknown) => unknown;
    return ok(await handler(parsed.output));
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    return fail(
      typeof e?.code === 'string' ? e.code : 'internal',
      typeof e?.message === 'string' ? e.message : 'failed',
    );
  }
}

/** Registers a handler for every channel of the contract; returns the function that removes them. */
export function registerRouter(
  ipc: Pick<IpcMain, 'handle' | 'removeHandler'>,
  handlers: Handlers,
  trusted: (event: IpcMainInvokeEvent) => boolean,
): () => void {
  const names = Object.keys(CHANNELS) as Channel[];
  for (const name of names) {
    ipc.handle(wire(name), async (event, ...args: unknown[]) => {
      if (!trusted(event)) return fail('forbidden', 'this window may not call Glance');
      if (args.length > 1) return fail('invalid-argument', `${name} takes one argument`);
      return dispatch(handlers, name, args[0]);
    });
  }
  return () => {
    for (const name of names) ipc.removeHandler(wire(name));
  };
}
