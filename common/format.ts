// Formatting shared by every layer (renderer, main, engine, CLI, model runtimes): pure TypeScript, no Node, no
// Electron, importing nothing outside this folder.

/**
 * A byte count in decimal units, as the Hugging Face hub and most file managers count, to three significant
 * figures: 4_081_000_000 → "4.08 GB", 12_345_678 → "12.3 MB", 123_456_789 → "123 MB", 17 → "17 bytes".
 */
export function formatBytes(n: number): string {
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  if (Math.abs(n) < 999.5) {
    const b = Math.round(n);
    return `${b} byte${b === 1 ? '' : 's'}`;
  }
  let v = n / 1000;
  let i = 0;
  // 999.95 MB would round to "1000 MB": it is "1 GB"
  while (Math.abs(v) >= 999.5 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))} ${units[i]}`;
}
