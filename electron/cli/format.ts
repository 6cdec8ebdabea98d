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
