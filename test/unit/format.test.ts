import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../common/format.ts';
import { CHAT_CATALOG, CLIP_CATALOG } from '../../native-models/catalog.ts';

describe('formatBytes (common/format.ts, the one the whole app uses)', () => {
  it('writes decimal units to three significant figures, as the hub does', () => {
    const cases: [number, string][] = [
      [0, '0 bytes'],
      [1, '1 byte'],
      [17, '17 bytes'],
      [999, '999 bytes'],
      [1000, '1 kB'],
      [1500, '1.5 kB'],
      [60_928, '60.9 kB'],
      [999_499, '999 kB'],
      [999_950, '1 MB'],
      [1_234_567, '1.23 MB'],
      [12_345_678, '12.3 MB'],
      [123_456_789, '123 MB'],
      [4_100_000_000, '4.1 GB'],
      [2.5e12, '2.5 TB'],
    ];
    expect(cases.map(([n]) => formatBytes(n))).toEqual(cases.map(([, s]) => s));
  });

  it('shows the catalog sizes as the hub shows them (LLaVA: 4.08 GB, not 4.3 GB)', () => {
    const llava = CHAT_CATALOG.find((e) => e.id === 'llava-1.5-7b')!;
    expect(formatBytes(llava.model.size)).toBe('4.08 GB');
    expect(formatBytes(llava.mmproj.size)).toBe('624 MB');
    const clip = CLIP_CATALOG.find((e) => e.id === 'clip-vit-base-patch32')!;
    expect(formatBytes(clip.files.find((f) => f.file === 'onnx/vision_model.onnx')!.size)).toBe('351 MB');
  });
});
