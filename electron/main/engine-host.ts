// The engine in the desktop app: Electron's utilityProcess, supervised like the CLI's forked engine. A crash of
// native code there (llama.cpp, onnxruntime) costs a restart, never the window.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ForkOptions, type UtilityProcess, utilityProcess } from 'electron';
import type { EngineEvents } from '../engine/process/contract.ts';
import { type EngineChild, type EngineStatus, EngineSupervisor } from '../engine/process/supervisor.ts';

/** The Vite-built engine entry, beside the built main process. */
export const ENGINE_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'engine.js');

const OUTPUT_TAIL = 8192;

/** Electron's UtilityProcess as the supervisor's EngineChild. */
export function utilityProcessChild(
  entry: string,
  env: NodeJS.ProcessEnv,
  fork: (modulePath: string, args?: string[], options?: ForkOptions) => UtilityProcess = (...a) =>
    utilityProcess.fork(...a),
): EngineChild {
  const child = fork(entry, [], {
    env,
    serviceName: 'Glance engine',
    // Piped, not inherited: llama.cpp logs freely; the tail goes into crash reports, the rest nowhere.
    stdio: 'pipe',
  });
  let tail = '';
  const keep = (chunk: Buffer | string) => {
    tail = (tail + chunk.toString()).slice(-OUTPUT_TAIL);
    if (env.GLANCE_ENGINE_LOG === '1') process.stderr.write(chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A V8 fatal error says where it happened only here.
  child.on('error', (type, location) => keep(`\n${type} at ${location}\n`));
  let exited = false;
  // The pid is gone once the process is: remember it for a forced kill.
  let pid: number | undefined;
  child.on('spawn', () => {
    pid = child.pid;
  });
  child.on('exit', () => {
    exited = true;
  });
  return {
    get pid() {
      return child.pid ?? (exited ? undefined : pid);
    },
    send: (message) => {
      if (!exited) child.postMessage(message);
    },
    onMessage: (fn) => child.on('message', fn),
    // The exit code is what waitpid gave; utilityProcess reports no signal separately.
    onExit: (fn) => child.on('exit', (code) => fn(code, null)),
    output: () => tail,
    kill: (signal) => {
      if (exited) return;
      // utilityProcess.kill() only asks (SIGTERM); the supervisor's last resort must not be refusable.
      if (signal === 'SIGKILL' && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
          return;
        } catch {
          // gone already, or not ours to kill: fall back to asking
        }
      }
      child.kill();
    },
  };
}

export interface EngineHostOptions {
  home: string;
  events?: Partial<EngineEvents>;
  onStatus?: (status: EngineStatus) => void;
  /** The engine's entry file; the built engine.js beside main by default. */
  entry?: string;
  /** How a process is started; utilityProcess by default. */
  spawn?: (env: NodeJS.ProcessEnv) => EngineChild;
}

/** Starts the supervised engine; its first start is under way when this returns. */
export function startEngine(o: EngineHostOptions): EngineSupervisor {
  const entry = o.entry ?? ENGINE_ENTRY;
  const engine = new EngineSupervisor({
    home: o.home,
    spawn: o.spawn ?? ((env) => utilityProcessChild(entry, env)),
    ...(o.events ? { events: o.events } : {}),
    ...(o.onStatus ? { onStatus: o.onStatus } : {}),
  });
  engine.start().catch((err: unknown) => {
    // Calls report the same error to the window; this line is for whoever reads the log.
    console.error(`Glance: the engine did not start: ${err instanceof Error ? err.message : String(err)}`);
  });
  return engine;
}
