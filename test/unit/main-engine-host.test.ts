// The engine under Electron: utilityProcess as an EngineChild, and the supervisor restarting it after a crash and
// stopping it cleanly, driven by a fake UtilityProcess that answers over birpc like the real engine.
import { EventEmitter } from 'node:events';
import { createBirpc } from 'birpc';
import type { ForkOptions, UtilityProcess } from 'electron';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineEvents, EngineMethods } from '../../electron/engine/process/contract.ts';
import type { EngineStatus } from '../../electron/engine/process/supervisor.ts';
import { startEngine, utilityProcessChild } from '../../electron/main/engine-host.ts';

// engine-host.ts imports utilityProcess; every test here passes its own fork, so the module is only a stand-in.
vi.mock('electron', () => ({
  utilityProcess: {
    fork: vi.fn(() => {
      throw new Error('the real utilityProcess was used');
    }),
  },
}));

let nextPid = 1000;

/** A UtilityProcess that the test controls: what it posts, when it exits. */
class FakeUtilityProcess extends EventEmitter {
  pid: number | undefined = nextPid++;
  stdout = new EventEmitter();
  stderr = new EventEmitter();
  posted: unknown[] = [];
  peer: ((m: unknown) => void) | null = null;
  kill = vi.fn(() => {
    this.exit(0);
    return true;
  });
  postMessage(message: unknown) {
    this.posted.push(message);
    const peer = this.peer;
    if (peer) queueMicrotask(() => peer(message));
  }
  exit(code: number) {
    if (this.pid === undefined) return;
    this.pid = undefined;
    this.emit('exit', code);
  }
}

/** The engine's side: ping and shutdown, as engine-main.ts answers them. */
function engineOn(child: FakeUtilityProcess, o: { ping?: boolean } = {}) {
  const methods = {
    ping: async () => ({ ok: true as const, value: { pid: child.pid ?? 0 } }),
    shutdown: async () => {
      setImmediate(() => child.exit(0));
      return { ok: true as const, value: null };
    },
  };
  const rpc = createBirpc<EngineEvents, Pick<EngineMethods, 'ping' | 'shutdown'>>(
    o.ping === false ? { ...methods, ping: () => new Promise(() => {}) } : methods,
    {
      post: (data) => queueMicrotask(() => child.emit('message', data)),
      on: (fn) => {
        child.peer = fn;
      },
      timeout: -1,
    },
  );
  return rpc;
}

/** `silent`: the indexes of the forks whose engine never answers ping (never says ready). */
function fakeFork(o: { silent?: number[] } = {}) {
  const children: FakeUtilityProcess[] = [];
  const fork = vi.fn((_entry: string, _args?: string[], _options?: ForkOptions) => {
    const child = new FakeUtilityProcess();
    engineOn(child, { ping: !o.silent?.includes(children.length) });
    children.push(child);
    queueMicrotask(() => child.emit('spawn'));
    return child as unknown as UtilityProcess;
  });
  return { fork, children };
}

describe('utilityProcessChild', () => {
  it('forks the entry as "Glance engine" with piped output and the given environment', () => {
    const { fork } = fakeFork();
    utilityProcessChild('/app/engine.js', { GLANCE_HOME: '/data' }, fork);
    expect(fork).toHaveBeenCalledWith('/app/engine.js', [], {
      env: { GLANCE_HOME: '/data' },
      serviceName: 'Glance engine',
      stdio: 'pipe',
    });
  });

  it('maps messages, exit and output', () => {
    const { fork, children } = fakeFork();
    const child = utilityProcessChild('/e.js', {}, fork);
    const raw = children[0]!;
    const messages: unknown[] = [];
    const exits: [number | null, string | null][] = [];
    child.onMessage((m) => messages.push(m));
    child.onExit((code, signal) => exits.push([code, signal]));
    expect(child.pid).toBe(raw.pid);
    raw.emit('message', { a: 1 });
    expect(messages).toEqual([{ a: 1 }]);
    child.send({ b: 2 });
    expect(raw.posted).toEqual([{ b: 2 }]);
    raw.stdout.emit('data', Buffer.from('llama: loading\n'));
    raw.stderr.emit('data', Buffer.from('ggml: out of memory\n'));
    raw.emit('error', 'FatalError', 'v8::Foo', 'report');
    expect(child.output()).toContain('ggml: out of memory');
    expect(child.output()).toContain('FatalError at v8::Foo');
    raw.exit(139);
    expect(exits).toEqual([[139, null]]);
    expect(child.pid).toBeUndefined();
    child.send({ c: 3 }); // posting to a dead process would throw in Electron
    expect(raw.posted).toEqual([{ b: 2 }]);
  });

  it('keeps only the tail of the output', () => {
    const { fork, children } = fakeFork();
    const child = utilityProcessChild('/e.js', {}, fork);
    children[0]!.stdout.emit('data', 'x'.repeat(20_000));
    children[0]!.stdout.emit('data', 'the end');
    expect(child.output().length).toBe(8192);
    expect(child.output().endsWith('the end')).toBe(true);
  });

  it('asks with kill(), and forces SIGKILL through the pid', () => {
    const { fork, children } = fakeFork();
    const child = utilityProcessChild('/e.js', {}, fork);
    const raw = children[0]!;
    const pid = raw.pid!;
    const processKill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    try {
      child.kill('SIGKILL');
      expect(processKill).toHaveBeenCalledWith(pid, 'SIGKILL');
      expect(raw.kill).not.toHaveBeenCalled();
      child.kill();
      expect(raw.kill).toHaveBeenCalledTimes(1);
      child.kill(); // exited now: nothing to do
      expect(raw.kill).toHaveBeenCalledTimes(1);
    } finally {
      processKill.mockRestore();
    }
  });
});

describe('the supervised engine', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function host(o: { silent?: number[] } = {}) {
    const { fork, children } = fakeFork(o);
    const statuses: EngineStatus[] = [];
    const chatToken = vi.fn();
    const engine = startEngine({
      home: '/data',
      entry: '/app/engine.js',
      events: { chatToken },
      onStatus: (s) => statuses.push(s),
      spawn: (env) => utilityProcessChild('/app/engine.js', env, fork),
    });
    return { engine, fork, children, statuses, chatToken };
  }
  const settle = () => vi.advanceTimersByTimeAsync(0);

  it('starts, answers calls and relays engine events', async () => {
    const { engine, fork, children, statuses, chatToken } = host();
    await settle();
    expect(fork.mock.calls[0]![2]!.env).toMatchObject({ GLANCE_HOME: '/data' });
    expect(engine.state().state).toBe('ready');
    expect(statuses.map((s) => s.state)).toEqual(['starting', 'ready']);
    expect(await engine.call('ping')).toEqual({ pid: children[0]!.pid });
    // the engine pushes a token: it reaches the events given to startEngine
    const peer = createBirpc<EngineEvents, object>(
      {},
      { post: (d) => children[0]!.emit('message', d), on: () => {}, timeout: -1 },
    );
    await peer.chatToken.asEvent({ conversationId: 1, token: 'hi', count: 1 });
    await settle();
    expect(chatToken).toHaveBeenCalledWith({ conversationId: 1, token: 'hi', count: 1 });
  });

  it('restarts after an unexpected exit, waiting longer each time', async () => {
    const { engine, fork, children, statuses } = host();
    await settle();
    children[0]!.stderr.emit('data', 'llama.cpp: segmentation fault\n');
    children[0]!.exit(139);
    expect(engine.state()).toMatchObject({ state: 'restarting', restarts: 1 });
    expect(engine.state().lastCrash).toContain('segmentation fault');
    // a call made while it restarts waits for the new process
    const pending = engine.call('ping');
    await vi.advanceTimersByTimeAsync(499);
    expect(fork).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fork).toHaveBeenCalledTimes(2);
    expect(await pending).toEqual({ pid: children[1]!.pid });
    expect(engine.state().state).toBe('ready');

    children[1]!.exit(134);
    await vi.advanceTimersByTimeAsync(999);
    expect(fork).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(fork).toHaveBeenCalledTimes(3);
    await settle();
    expect(engine.state()).toMatchObject({ state: 'ready', restarts: 2 });
    expect(statuses.map((s) => s.state)).toEqual([
      'starting',
      'ready',
      'restarting',
      'restarting',
      'ready',
      'restarting',
      'restarting',
      'ready',
    ]);
  });

  it('stops cleanly: the engine is asked to shut down, exits, and is not restarted', async () => {
    const { engine, fork, children, statuses } = host();
    await settle();
    const stopped = engine.stop();
    await vi.advanceTimersByTimeAsync(0);
    await new Promise((r) => setImmediate(r)); // the fake engine exits on the next turn, as engine-main does
    await stopped;
    expect(children[0]!.kill).not.toHaveBeenCalled();
    expect(engine.state().state).toBe('stopped');
    expect(statuses.at(-1)!.state).toBe('stopped');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fork).toHaveBeenCalledTimes(1);
    await expect(engine.call('ping')).rejects.toMatchObject({ code: 'engine-stopped' });
  });

  it('stops during a restart without starting another engine', async () => {
    const { engine, fork, children } = host();
    await settle();
    children[0]!.exit(139);
    await engine.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fork).toHaveBeenCalledTimes(1);
    expect(engine.state().state).toBe('stopped');
  });

  /** SIGKILL goes through process.kill with the pid: here it ends the fake process instead of a real one. */
  function killsFakes(children: FakeUtilityProcess[]) {
    return vi.spyOn(process, 'kill').mockImplementation((pid) => {
      children.find((c) => c.pid === pid)?.exit(137);
      return true;
    });
  }

  it('kills an engine that does not say ready in time, and starts a fresh one on the next start or call', async () => {
    const { engine, fork, children, statuses } = host({ silent: [0] });
    const processKill = killsFakes(children);
    try {
      const first = engine.start().catch((e: unknown) => e);
      const pid = children[0]!.pid;
      await vi.advanceTimersByTimeAsync(29_999);
      expect(engine.state().state).toBe('starting');
      await vi.advanceTimersByTimeAsync(1);
      const err = await first;
      expect(err).toMatchObject({ code: 'engine-start-failed', message: expect.stringMatching(/within 30 s/) });
      expect(processKill).toHaveBeenCalledWith(pid, 'SIGKILL');
      expect(children[0]!.pid).toBeUndefined(); // it is gone, not left running
      expect(engine.state().state).toBe('stopped');
      expect(statuses.at(-1)!.lastCrash).toMatch(/did not start within 30 s/);
      // the failed start is not restarted behind anyone's back, and not remembered either: the next call starts one
      await vi.advanceTimersByTimeAsync(60_000);
      expect(fork).toHaveBeenCalledTimes(1);
      expect(await engine.call('ping')).toEqual({ pid: children[1]!.pid });
      expect(fork).toHaveBeenCalledTimes(2);
      expect(engine.state().state).toBe('ready');
    } finally {
      processKill.mockRestore();
    }
  });

  it('start() after a failed start launches again', async () => {
    const { engine, fork, children } = host({ silent: [0] });
    const processKill = killsFakes(children);
    try {
      const first = engine.start().catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(30_000);
      expect(await first).toMatchObject({ code: 'engine-start-failed' });
      const again = engine.start();
      await settle();
      await again;
      expect(fork).toHaveBeenCalledTimes(2);
      expect(engine.state().state).toBe('ready');
    } finally {
      processKill.mockRestore();
    }
  });

  it('a restart whose engine does not say ready is killed and tried again with the next backoff', async () => {
    const { engine, fork, children } = host({ silent: [1] });
    const processKill = killsFakes(children);
    try {
      await settle();
      children[0]!.exit(139);
      const waiting = engine.call('ping').catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(500); // first backoff: the second engine starts, and stays silent
      expect(fork).toHaveBeenCalledTimes(2);
      await vi.advanceTimersByTimeAsync(30_000);
      expect(await waiting).toMatchObject({ code: 'engine-start-failed' });
      expect(children[1]!.pid).toBeUndefined();
      expect(engine.state().state).toBe('restarting');
      await vi.advanceTimersByTimeAsync(1000); // the next backoff: a third engine, which answers
      expect(fork).toHaveBeenCalledTimes(3);
      expect(await engine.call('ping')).toEqual({ pid: children[2]!.pid });
    } finally {
      processKill.mockRestore();
    }
  });

  it('stop() during a restart fails the calls waiting for it instead of leaving them hanging', async () => {
    const { engine, fork, children } = host();
    await settle();
    children[0]!.exit(139);
    const waiting = engine.call('ping').catch((e: unknown) => e);
    await engine.stop();
    expect(await waiting).toMatchObject({ code: 'engine-stopped', message: 'the engine was stopped' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fork).toHaveBeenCalledTimes(1);
  });
});
