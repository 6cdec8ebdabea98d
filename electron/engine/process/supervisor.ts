// Starts the engine process and keeps it alive: a crash (segfault, kill, out of memory) rejects the calls in flight
// with an error that says so, and the engine restarts with backoff. Calls made while it restarts wait for it.
// The process itself comes from `spawn`, so the desktop app can hand in Electron's utilityProcess.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type BirpcReturn, createBirpc } from 'birpc';
import type { EngineEvents, EngineMethods } from './contract.ts';

/** What the supervisor needs of a process: Node's ChildProcess and Electron's UtilityProcess both fit. */
export interface EngineChild {
  readonly pid: number | undefined;
  send(message: unknown): void;
  onMessage(fn: (message: unknown) => void): void;
  onExit(fn: (code: number | null, signal: string | null) => void): void;
  /** Recent output of the process, for crash reports. */
  output(): string;
  kill(signal?: NodeJS.Signals): void;
}

export type EngineState = 'starting' | 'ready' | 'restarting' | 'stopped';

export interface EngineStatus {
  state: EngineState;
  restarts: number;
  /** Why the engine last stopped, in words. */
  lastCrash?: string;
}

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SupervisorOptions {
  home: string;
  /** More environment for the engine process, on every start and restart (`glance serve` passes its API here). */
  env?: Record<string, string>;
  spawn?: (env: NodeJS.ProcessEnv) => EngineChild;
  events?: Partial<EngineEvents>;
  onStatus?: (s: EngineStatus) => void;
  /** First restart delay; doubles per crash up to maxBackoffMs, and resets after a minute without one. */
  backoffMs?: number;
  maxBackoffMs?: number;
  startTimeoutMs?: number;
}

const ENGINE_ENTRY = fileURLToPath(new URL('./engine-main.ts', import.meta.url));

/** The engine under plain Node: a fork running the TypeScript entry through tsx. */
export function forkEngine(env: NodeJS.ProcessEnv): EngineChild {
  const child: ChildProcess = fork(ENGINE_ENTRY, [], {
    env,
    execArgv: ['--import', import.meta.resolve('tsx')],
    serialization: 'advanced', // typed arrays (image bytes) cross as they are
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // llama.cpp logs to stdout and stderr whatever one asks: keep the tail for crash reports, show nothing.
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-8192);
    if (env.GLANCE_ENGINE_LOG === '1') process.stderr.write(chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    get pid() {
      return child.pid;
    },
    send: (m) => {
      if (child.connected) child.send(m as never);
    },
    onMessage: (fn) => child.on('message', fn),
    onExit: (fn) => child.on('exit', fn),
    output: () => tail,
    kill: (signal) => child.kill(signal),
  };
}

/** The last line the engine printed, for error messages. */
function lastWords(child: EngineChild): string {
  const line = child
    .output()
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .at(-1);
  return line ? `; its last words: ${line.slice(0, 200)}` : '';
}

export class EngineSupervisor {
  private child: EngineChild | null = null;
  private rpc: BirpcReturn<EngineMethods, EngineEvents> | null = null;
  private ready: Promise<void> | null = null;
  private status: EngineStatus = { state: 'stopped', restarts: 0 };
  private backoff: number;
  private lastStart = 0;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private cancelRestart: ((err: EngineError) => void) | undefined;
  /** The last start failed (and stop() was not called since): the next call starts the engine again. */
  private startFailed = false;

  constructor(private readonly o: SupervisorOptions) {
    this.backoff = o.backoffMs ?? 500;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  state(): EngineStatus {
    return { ...this.status };
  }

  private setStatus(patch: Partial<EngineStatus>): void {
    this.status = { ...this.status, ...patch };
    this.o.onStatus?.(this.state());
  }

  /** Starts the engine; after a failed start (it did not answer in time, say) a later call tries again. */
  start(): Promise<void> {
    this.stopping = false;
    this.startFailed = false;
    if (!this.ready) {
      const ready = this.launch();
      this.ready = ready;
      ready.catch((err: Error) => {
        if (this.ready !== ready) return;
        this.ready = null;
        this.startFailed = true;
        this.setStatus({ state: 'stopped', lastCrash: err.message });
      });
    }
    return this.ready;
  }

  private async launch(): Promise<void> {
    this.setStatus({ state: this.status.restarts > 0 ? 'restarting' : 'starting' });
    const child = (this.o.spawn ?? forkEngine)({ ...process.env, ...this.o.env, GLANCE_HOME: this.o.home });
    this.child = child;
    this.lastStart = Date.now();
    const events: EngineEvents = {
      chatToken: (e) => this.o.events?.chatToken?.(e),
      libraryProgress: (p) => this.o.events?.libraryProgress?.(p),
      duplicatesProgress: (p) => this.o.events?.duplicatesProgress?.(p),
      modelsProgress: (p) => this.o.events?.modelsProgress?.(p),
      captionsProgress: (p) => this.o.events?.captionsProgress?.(p),
      captionsPhoto: (e) => this.o.events?.captionsPhoto?.(e),
    };
    const rpc = createBirpc<EngineMethods, EngineEvents>(events, {
      post: (data) => child.send(data),
      on: (fn) => child.onMessage(fn),
      timeout: -1, // answers stream for minutes; a dead engine is noticed by its exit, not a timer
    });
    this.rpc = rpc;
    child.onExit((code, signal) => this.exited(child, rpc, code, signal));
    const timeout = this.o.startTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      rpc.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          const err = new EngineError(
            'engine-start-failed',
            `the engine did not start within ${timeout / 1000} s${lastWords(child)}`,
          );
          // A process that never says ready is ended, so that it holds no memory and a retry starts clean.
          if (this.child === child) {
            this.child = null;
            this.rpc = null;
          }
          child.kill('SIGKILL');
          rpc.$rejectPendingCalls(({ reject: r }) => r(err));
          rpc.$close();
          reject(err);
        }, timeout);
      }),
    ]).finally(() => clearTimeout(timer));
    this.setStatus({ state: 'ready' });
  }

  private exited(
    child: EngineChild,
    rpc: BirpcReturn<EngineMethods, EngineEvents>,
    code: number | null,
    signal: string | null,
  ) {
    if (this.child !== child) return;
    this.child = null;
    this.rpc = null;
    const how = signal ? `killed by ${signal}` : `exit code ${code}`;
    const crash = `the engine stopped unexpectedly (${how})${lastWords(child)}`;
    rpc.$rejectPendingCalls(({ method, reject }) =>
      reject(
        new EngineError(
          'engine-crashed',
          this.stopping ? 'the engine was stopped' : `${crash}; it is being restarted (${method} was not finished)`,
        ),
      ),
    );
    rpc.$close();
    if (this.stopping) {
      this.ready = null;
      this.setStatus({ state: 'stopped' });
      return;
    }
    this.scheduleRestart(crash);
  }

  /** Starts the engine again after a backoff; calls made meanwhile wait for it. A failed start is retried the same way. */
  private scheduleRestart(reason: string): void {
    if (Date.now() - this.lastStart > 60_000) this.backoff = this.o.backoffMs ?? 500;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.o.maxBackoffMs ?? 30_000);
    this.setStatus({ state: 'restarting', restarts: this.status.restarts + 1, lastCrash: reason });
    const ready = new Promise<void>((resolve, reject) => {
      this.cancelRestart = (err) => reject(err);
      this.restartTimer = setTimeout(() => {
        this.cancelRestart = undefined;
        this.launch().then(resolve, (err: Error) => {
          reject(err);
          if (this.ready !== ready) return;
          if (!this.stopping) {
            this.scheduleRestart(err.message);
            return;
          }
          // stopped meanwhile, and the start timeout (not the exit) ended the process: stopped, and start() starts again
          this.ready = null;
          this.setStatus({ state: 'stopped' });
        });
      }, delay);
    });
    ready.catch(() => {});
    this.ready = ready;
  }

  /** Calls an engine method; a failure comes back as an EngineError with the engine's own code. */
  async call<K extends keyof EngineMethods>(
    method: K,
    ...args: Parameters<EngineMethods[K]>
  ): Promise<Extract<Awaited<ReturnType<EngineMethods[K]>>, { ok: true }>['value']> {
    if (!this.ready && this.startFailed && !this.stopping) await this.start();
    if (!this.ready) throw new EngineError('engine-stopped', 'the engine is not running');
    await this.ready;
    const rpc = this.rpc;
    if (!rpc) throw new EngineError('engine-crashed', this.status.lastCrash ?? 'the engine is not running');
    const fn = rpc[method] as unknown as (...a: unknown[]) => Promise<Awaited<ReturnType<EngineMethods[K]>>>;
    const r = await fn(...args);
    if (!r.ok) throw new EngineError(r.error.code, r.error.message);
    return r.value as never;
  }

  /** Asks the engine to finish (stop generating, release the model, close the database), then makes sure it did. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    // Calls waiting for a restart that will not happen now fail instead of waiting forever.
    this.cancelRestart?.(new EngineError('engine-stopped', 'the engine was stopped'));
    this.cancelRestart = undefined;
    const child = this.child;
    const rpc = this.rpc;
    if (!child || !rpc) {
      this.ready = null;
      this.setStatus({ state: 'stopped' });
      return;
    }
    const exited = new Promise<void>((resolve) => child.onExit(() => resolve()));
    rpc.shutdown().catch(() => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
