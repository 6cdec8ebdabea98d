// Small helpers shared by the benchmarks: timing and a readable table.
import { execFileSync } from 'node:child_process';
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? c.toFixed(2) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) => `| ${r.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join(
    '\n',
  );
}

/** --name value pairs; flags without a value are "true". */
export function cliOptions(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out[a.slice(2)] = next;
      i++;
    } else out[a.slice(2)] = 'true';
  }
  return out;
}

// Phases: a benchmark runs each measured phase in a child process of itself (`--phase NAME`), so that each phase's
// peak memory is its own. The child prints one `RESULT {...}` line; the parent reads it.

/** In the child: runs the phase named by `--phase`, prints its result with the process's peak RSS, and exits. */
export async function runPhaseHere(
  name: string,
  phases: Record<string, () => Promise<Record<string, number | string>>>,
): Promise<never> {
  const fn = phases[name];
  if (!fn) throw new Error(`unknown phase ${name}`);
  const out = await fn();
  process.stdout.write(`RESULT ${JSON.stringify({ ...out, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
  process.exit(0);
}

/** In the parent: runs `script` again with the same arguments and `--phase name`, and returns what it measured. */
export function runPhase(script: string, name: string): Record<string, number> {
  console.log(`phase ${name} ...`);
  const out = execFileSync(process.execPath, [...process.execArgv, script, ...process.argv.slice(2), '--phase', name], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`phase ${name} printed no result`);
  return JSON.parse(line.slice(7));
}
