import { describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16, fromF16Array, toF16Array } from '../../native-models/clip/float16.ts';

describe('float16 conversion', () => {
  it('round-trips every finite half value exactly', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const exp = (bits >> 10) & 0x1f;
      if (exp === 0x1f) continue;
      const back = f32ToF16(f16ToF32(bits));
      // +0 and -0 keep their sign bits
      expect(back).toBe(bits);
    }
  });

  it('rounds to nearest even and handles the edges', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(70000)).toBe(0x7c00); // overflow → inf
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16(2 ** -26)).toBe(0); // underflow
    expect(Number.isNaN(f16ToF32(f32ToF16(Number.NaN)))).toBe(true);
  });

  it('converts arrays within half precision', () => {
    const v = Float32Array.from([0.1, -3.25, 1000.5, 1e-5]);
    const back = fromF16Array(toF16Array(v));
    v.forEach((x, i) => {
      expect(Math.abs(back[i]! - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -10 + 2 ** -24);
    });
  });
});
