// Reads a Hugging Face `preprocessor_config.json` (CLIPImageProcessor and the processors shaped like it) into the
// few numbers the preprocessing needs. Fields that change the geometry are validated here, so a model folder that
// does not fit fails on load with the field named, not later with a tensor of the wrong shape.
import { ModelError } from '../errors.ts';

export interface PreprocessConfig {
  /** Resize so that the shortest side has this length (the long side is floor(short * long / short')). */
  shortestEdge: number | null;
  /** Or resize to a fixed size (processors that use {height, width}). */
  resizeTo: { height: number; width: number } | null;
  crop: { height: number; width: number } | null;
  rescale: number | null;
  mean: [number, number, number] | null;
  std: [number, number, number] | null;
  /** Size of the tensor that reaches the model: 3 x height x width. */
  output: { height: number; width: number };
}

export const CLIP_DEFAULTS = {
  mean: [0.48145466, 0.4578275, 0.40821073] as [number, number, number],
  std: [0.26862954, 0.26130258, 0.27577711] as [number, number, number],
};

type Json = Record<string, unknown>;

function positiveInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null;
}

function size2d(v: unknown): { height: number; width: number } | null {
  const n = positiveInt(v);
  if (n) return { height: n, width: n };
  if (v && typeof v === 'object') {
    const o = v as Json;
    const h = positiveInt(o.height);
    const w = positiveInt(o.width);
    if (h && w) return { height: h, width: w };
  }
  return null;
}

function triple(v: unknown): [number, number, number] | null {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    return [v[0], v[1], v[2]];
  }
  if (typeof v === 'number' && Number.isFinite(v)) return [v, v, v];
  return null;
}

export function parsePreprocessConfig(raw: unknown, source = 'preprocessor_config.json'): PreprocessConfig {
  const bad = (what: string) => new ModelError('model-config-invalid', `${source}: ${what}`);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad('is not a JSON object');
  const c = raw as Json;

  let shortestEdge: number | null = null;
  let resizeTo: { height: number; width: number } | null = null;
  if (c.do_resize !== false) {
    const size = c.size;
    // CLIP's processor historically wrote `size: 224`, meaning the shortest edge.
    shortestEdge =
      positiveInt(size) ?? (size && typeof size === 'object' ? positiveInt((size as Json).shortest_edge) : null);
    if (!shortestEdge) resizeTo = size2d(size);
    if (!shortestEdge && !resizeTo)
      throw bad('"size" must be a number, {"shortest_edge": n} or {"height": h, "width": w}');
  }

  let crop: { height: number; width: number } | null = null;
  if (c.do_center_crop !== false && c.crop_size !== undefined) {
    crop = size2d(c.crop_size);
    if (!crop) throw bad('"crop_size" must be a number or {"height": h, "width": w}');
  } else if (c.do_center_crop === true) {
    throw bad('"do_center_crop" is true but "crop_size" is missing');
  }

  const output = crop ?? resizeTo;
  if (!output) throw bad('the output size is not fixed: it needs "crop_size" or a fixed {"height", "width"} resize');

  let rescale: number | null = null;
  if (c.do_rescale !== false) {
    rescale = c.rescale_factor === undefined ? 1 / 255 : typeof c.rescale_factor === 'number' ? c.rescale_factor : null;
    if (rescale === null || !(rescale > 0)) throw bad('"rescale_factor" must be a positive number');
  }

  let mean: [number, number, number] | null = null;
  let std: [number, number, number] | null = null;
  if (c.do_normalize !== false) {
    mean = c.image_mean === undefined ? CLIP_DEFAULTS.mean : triple(c.image_mean);
    std = c.image_std === undefined ? CLIP_DEFAULTS.std : triple(c.image_std);
    if (!mean) throw bad('"image_mean" must be three numbers');
    if (!std || std.some((s) => s <= 0)) throw bad('"image_std" must be three positive numbers');
  }

  return { shortestEdge, resizeTo, crop, rescale, mean, std, output };
}
