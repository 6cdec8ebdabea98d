// Plain-text rendering of results for a terminal.
import type { ClassifyResult } from '../engine/classify.ts';

const BAR_WIDTH = 20;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

export function bar(fraction: number, width = BAR_WIDTH): string {
  const eighths = Math.round(Math.min(1, Math.max(0, fraction)) * width * 8);
  return ('█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8]).padEnd(width);
}

export function percent(p: number): string {
  return `${(p * 100).toFixed(1)}%`.padStart(6);
}

/** One image: its name, then its labels from most to least likely. */
export function formatScores(r: ClassifyResult, top?: number): string {
  if (!r.ok) return `${r.file}\n  error: ${r.error.message}\n`;
  const rows = [...r.scores].sort((a, b) => b.probability - a.probability).slice(0, top);
  return `${r.file}\n${rows.map((s) => `  ${percent(s.probability)}  ${bar(s.probability)}  ${s.label}`).join('\n')}\n`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** One terminal line: bar, counts, speed, ETA, current file. */
export function progressBar(p: {
  done: number;
  total: number;
  filesPerSecond: number;
  etaSeconds: number | null;
  errors: number;
  current: string | null;
  phase: string;
}): string {
  const frac = p.total ? p.done / p.total : 1;
  const name = p.current ? (p.current.split(/[/\\]/).pop() ?? '') : '';
  const paused = p.phase === 'paused' ? ' (paused)' : '';
  return `${bar(frac, 24)} ${p.done}/${p.total} · ${p.filesPerSecond.toFixed(1)} files/s · ETA ${formatDuration(p.etaSeconds)} · ${p.errors} errors${paused} · ${name.slice(0, 30)}\x1b[K`;
}
