import { describe, expect, it } from 'vitest';
import { decodeBmp } from '../../native-models/clip/bmp.ts';
import { ImageError } from '../../native-models/errors.ts';
import { bmpBytes } from '../fixtures/images.ts';

describe('BMP reader (libvips as shipped has none)', () => {
  it('reads 24-bit bottom-up rows with padding (odd width)', () => {
    const w = 3;
    const h = 2;
    const px = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    const out = decodeBmp(bmpBytes(px, w, h));
    expect(out.width).toBe(3);
    expect(out.height).toBe(2);
    expect(Array.from(out.data)).toEqual(Array.from(px));
  });

  it('reads an 8-bit palette image', () => {
    // 2x1, palette [black, orange], bottom-up, rows padded to 4 bytes
    const header = Buffer.alloc(54);
    header.write('BM', 0);
    const palette = Buffer.from([0, 0, 0, 0, 0, 165, 255, 0]); // BGRA
    const pixels = Buffer.from([1, 0, 0, 0]);
    header.writeUInt32LE(54 + palette.length + pixels.length, 2);
    header.writeUInt32LE(54 + palette.length, 10);
    header.writeUInt32LE(40, 14);
    header.writeInt32LE(2, 18);
    header.writeInt32LE(1, 22);
    header.writeUInt16LE(1, 26);
    header.writeUInt16LE(8, 28);
    header.writeUInt32LE(2, 46);
    const out = decodeBmp(Buffer.concat([header, palette, pixels]));
    expect(Array.from(out.data)).toEqual([255, 165, 0, 0, 0, 0]);
  });

  it('says so when the file is cut short', () => {
    const full = bmpBytes(new Uint8Array(30 * 20 * 3), 30, 20);
    expect(() => decodeBmp(full.subarray(0, full.length / 2), 'x.bmp')).toThrow(ImageError);
    expect(() => decodeBmp(full.subarray(0, full.length / 2), 'x.bmp')).toThrow(/cut short/);
  });
});
