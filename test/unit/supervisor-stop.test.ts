// The supervisor stopped while a restart's engine is starting and never says ready: the start timeout ends that
// process during the stop. Afterwards the supervisor is stopped, and a later start() starts a fresh engine.
import { createBirpc } from 'birpc';
import { afterEach, expect, it } from 'vitest';
import type { EngineEvents, EngineMethods } from '../../electron/engine/process/contract.ts';
import { type EngineChild, EngineSupervisor } from '../../electron/engine/process/supervisor.ts';

let pid = 5000;

/** An engine process: `answers` false is one hung at start (it reads no message, not even shutdown). */
class FakeChild implements EngineChild {
  pid: number | undefined = pid++;
  private exits: ((code: number | null, signal: string | null) => void)[] = [];
  private messages: ((m: unknown) => void)[] = [];
  private peer: ((m: unknown) => void) | null = null;

  constructor(private readonly answers: boolean) {
    if (!answers) return;
    createBirpc<EngineEvents, Pick<EngineMethods, 'ping' | 'shutdown'>>(
      {
        ping: async () => ({ ok: true as const, value: { pid: this.pid ?? 0 } }),
        shutdown: async () => {
          setImmediate(() => this.exit(0, null));
          return { ok: true as const, value: null };
        },
      },
      {
        post: (data) =>
          queueMicrotask(() => {
            for (const fn of this.messages) fn(data);
          }),
        on: (fn) => {
          this.peer = fn;
        },
        timeout: -1,
      },
    );
  }
  send(m: unknown): void {
    const peer = this.peer;
    if (this.answers && peer) queueMicrotask(() => peer(m));
  }
  onMessage(fn: (m: unknown) => void): void {
    this.messages.push(fn);
  }
  onExit(fn: (code: number | null, signal: string | null) => void): void {
    this.exits.push(fn);
  }
  output(): string {
    return '';
  }
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    setImmediate(() => this.exit(null, signal));
  }
  exit(code: number | null, signal: string | null): void {
    if (this.pid === undefined) return;
    this.pid = undefined;
    for (const fn of this.exits) fn(code, signal);
  }
}

let engine: EngineSupervisor | undefined;
afterEach(async () => {
  await engine?.stop(100);
});

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
}

it('a stop while a restarted engine hangs at start leaves it stopped, and start() starts again', async () => {
  const children: FakeChild[] = [];
  const plan = [true, false, true]; // the restart's engine hangs
  engine = new EngineSupervisor({
    home: '/nowhere',
    spawn: () => {
      const child = new FakeChild(plan[children.length] ?? true);
      children.push(child);
      return child;
    },
    backoffMs: 5,
    startTimeoutMs: 150,
  });
  await engine.start();
  children[0]!.exit(139, null); // a crash: restarted after the backoff
  await until(() => children.length === 2);
  // the hung engine reads no shutdown; the start timeout ends it before the stop's own deadline
  await engine.stop(5_000);
  expect(engine.state().state).toBe('stopped');
  await expect(engine.call('ping')).rejects.toMatchObject({ code: 'engine-stopped' });
  const started = engine.start();
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('start() did not start')), 2_000));
  await Promise.race([started, timeout]);
  expect(children).toHaveLength(3);
  expect(await engine.call('ping')).toEqual({ pid: children[2]!.pid });
});
