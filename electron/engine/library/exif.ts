// The EXIF facts the library keeps: when the photo was taken. exifr reads only the header (under a millisecond).
import exifr from 'exifr';

/** Capture time in ms since the epoch (EXIF has no time zone: read as local time), or null. */
export async function captureTime(bytes: Uint8Array): Promise<number | null> {
  try {
    const tags = (await exifr.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      pick: ['DateTimeOriginal', 'CreateDate', 'DateTimeDigitized'],
    })) as Record<string, unknown> | undefined;
    const when = tags?.DateTimeOriginal ?? tags?.CreateDate ?? tags?.DateTimeDigitized;
    return when instanceof Date && !Number.isNaN(when.getTime()) ? when.getTime() : null;
  } catch {
    return null; // no EXIF or unreadable EXIF: the photo is still indexed
  }
}
