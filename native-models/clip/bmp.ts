// A BMP reader: libvips as shipped with sharp has no BMP loader, and people still have BMP files (old scanners,
// Windows screenshots). Uncompressed BMPs only: 1/4/8-bit palette, 16/24/32-bit, bottom-up or top-down.
import { ImageError } from '../errors.ts';

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d; // "BM"
}

export interface RawImage {
  data: Uint8Array; // RGB, row-major, top row first
  width: number;
  height: number;
}

function maskShift(mask: number): [number, number] {
  if (mask === 0) return [0, 0];
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return [shift, (mask >>> shift) >>> 0];
}

export function decodeBmp(bytes: Uint8Array, what = 'the image', maxPixels = Number.POSITIVE_INFINITY): RawImage {
  const fail = (why: string) => new ImageError('image-unreadable', `${what}: ${why}`);
  if (bytes.length < 26 || !isBmp(bytes)) throw new ImageError('image-not-an-image', `${what}: not a BMP file`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = v.getUint32(10, true);
  const headerSize = v.getUint32(14, true);
  if (headerSize < 40) throw fail('uses an OS/2 BMP header, which Glance does not read');
  const width = v.getInt32(18, true);
  const rawHeight = v.getInt32(22, true);
  const height = Math.abs(rawHeight);
  const bpp = v.getUint16(28, true);
  const compression = v.getUint32(30, true);
  if (width <= 0 || height === 0) throw fail('has no pixel size');
  if (width * height > maxPixels) {
    throw new ImageError('image-too-large', `${what}: ${width}×${height} is above the pixel limit`);
  }
  if (compression !== 0 && compression !== 3) throw fail('is a compressed BMP (RLE), which Glance does not read');
  let masks: [number, number, number] = bpp === 16 ? [0x7c00, 0x3e0, 0x1f] : [0xff0000, 0xff00, 0xff];
  if (compression === 3) {
    masks = [v.getUint32(54, true), v.getUint32(58, true), v.getUint32(62, true)];
  }
  const colours = bpp <= 8 ? v.getUint32(46, true) || 1 << bpp : 0;
  const paletteAt = 14 + headerSize;
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) {
    throw new ImageError('image-truncated', `${what}: the file is cut short (incomplete download or copy?)`);
  }
  const out = new Uint8Array(width * height * 3);
  const shifts = masks.map(maskShift);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (rawHeight > 0 ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (bpp <= 8) {
        const bit = x * bpp;
        const index = (bytes[row + (bit >> 3)]! >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        if (index >= colours) throw fail('has a pixel outside its palette');
        const p = paletteAt + index * 4;
        out[o] = bytes[p + 2]!;
        out[o + 1] = bytes[p + 1]!;
        out[o + 2] = bytes[p]!;
      } else if (bpp === 24 && compression === 0) {
        const p = row + x * 3;
        out[o] = bytes[p + 2]!;
        out[o + 1] = bytes[p + 1]!;
        out[o + 2] = bytes[p]!;
      } else if (bpp === 16 || bpp === 32) {
        const px = bpp === 16 ? v.getUint16(row + x * 2, true) : v.getUint32(row + x * 4, true);
        for (let c = 0; c < 3; c++) {
          const [shift, max] = shifts[c]!;
          out[o + c] = max ? Math.round((((px >>> shift) & max) * 255) / max) : 0;
        }
      } else {
        throw fail(`has ${bpp} bits per pixel, which Glance does not read`);
      }
    }
  }
  return { data: out, width, height };
}
