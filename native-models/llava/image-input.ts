// What an image is handed to llama.cpp as. The app stores images near full size (attachments.ts), whatever model
// will read them, and llama.cpp sizes each image for its projector (mtmd-image.cpp). Handing it more than the
// projector uses costs twice: llama.node reads, decodes and hashes the file again on every turn (measured with the
// tiny model: about 3 s per turn for a 12-megapixel JPEG, 0.3 s for a 1344-px one), and llama.cpp's resize
// (bilinear or bicubic from the nearest source pixels, no low-pass filter) aliases when it shrinks many times over.
// So an image larger than its projector's limit is shrunk here once, with a proper filter (libvips), to the limit
// llama.cpp would resize it to anyway, and handed over as a data URL: no file to clean up, and the same bytes on
// every turn, so llama.cpp's cache of the image holds. A screenshot stays lossless (PNG); a photo that came as a
// JPEG goes as a JPEG of quality 95 (a 3-megapixel PNG is 10 MB of base64 to decode on every turn, for nothing).
// Projectors not named here get the file.
import sharp from 'sharp';
import type { ProjectorFacts } from './gguf-check.ts';

/** The most of an image a projector uses: a shorter side, a longer side, or a number of pixels. */
export type InputLimit = { shortSide: number } | { longSide: number } | { pixels: number };

/** The limit of a projector type, from the rules of llama.cpp's clip.cpp and mtmd-image.cpp; null: none known. */
export function projectorLimit(
  p: Pick<ProjectorFacts, 'projectorType' | 'imageSize' | 'patchSize' | 'gridPinpoints' | 'preprocImageSize'>,
): InputLimit | null {
  const t = p.projectorType;
  // one square of imageSize (LLaVA-1.5 336, Gemma 3 896), padded or stretched: both sides are used up to it.
  // An mlp projector with a pinpoint grid is LLaVA-1.6, which tiles large images instead.
  if (t === 'gemma3' || ((t === 'mlp' || t === 'mlp_norm') && !p.gridPinpoints?.length)) {
    return { shortSide: p.imageSize };
  }
  // Qwen-VL's "smart resize": at most 4096 tokens of (patch x 2)² pixels each (2 = the merge of its projector)
  if (t === 'qwen2vl_merger' || t === 'qwen2.5vl_merger' || t === 'qwen3vl_merger') {
    return { pixels: 4096 * (p.patchSize * 2) ** 2 };
  }
  // SmolVLM (idefics3): the longer side is scaled to the preprocessor's longest edge, then cut into tiles
  if (t === 'idefics3' && p.preprocImageSize) return { longSide: p.preprocImageSize };
  return null;
}

/** The image for a projector with this limit: the file itself when it is within it, else a data URL of it shrunk. */
export async function projectorInput(file: string, limit: InputLimit | null): Promise<string> {
  if (limit === null) return file;
  const { width: w, height: h, format } = await sharp(file, { limitInputPixels: false }).metadata();
  if (!w || !h) return file;
  const scale =
    'shortSide' in limit
      ? limit.shortSide / Math.min(w, h)
      : 'longSide' in limit
        ? limit.longSide / Math.max(w, h)
        : Math.sqrt(limit.pixels / (w * h));
  if (scale >= 1) return file;
  // the shorter side never rounds below a shortSide limit
  const floor = 'shortSide' in limit ? limit.shortSide : 1;
  const resized = sharp(file, { limitInputPixels: false })
    .resize(Math.max(floor, Math.floor(w * scale)), Math.max(floor, Math.floor(h * scale)), {
      fit: 'fill',
      kernel: 'lanczos3',
    })
    .removeAlpha();
  const jpeg = format === 'jpeg';
  const bytes = await (jpeg ? resized.jpeg({ quality: 95 }) : resized.png({ compressionLevel: 1 })).toBuffer();
  return `data:image/${jpeg ? 'jpeg' : 'png'};base64,${bytes.toString('base64')}`;
}

/** projectorInput, remembered for the last few files (a conversation hands the same images over on every turn). */
export class ProjectorInputs {
  private readonly cache = new Map<string, Promise<string>>();
  constructor(
    private readonly limit: InputLimit | null,
    private readonly keep = 4,
  ) {}

  get(file: string): Promise<string> {
    let input = this.cache.get(file);
    if (!input) {
      input = projectorInput(file, this.limit);
      input.catch(() => this.cache.delete(file));
      this.cache.set(file, input);
      if (this.cache.size > this.keep) this.cache.delete(this.cache.keys().next().value!);
    }
    return input;
  }
}
