// The models Glance knows by name. An entry says where a model comes from and what Glance needs to know about it
// that its files do not say. For CLIP that is the trained logit scale: config.json's `logit_scale_init_value`
// (2.6592, i.e. e^2.6592 = 14.3) is the value before training; OpenAI's models end training at the clamp, 100.

export interface ClipCatalogEntry {
  id: string;
  kind: 'clip';
  name: string;
  /** Hugging Face repository of the ONNX export. */
  repo: string;
  licence: string;
  /** exp(logit_scale) of the trained model: the temperature of zero-shot softmax. */
  logitScale: number;
  goodAt: string;
}

export type CatalogEntry = ClipCatalogEntry;

export const DEFAULT_CLIP_ID = 'clip-vit-base-patch32';

export const CATALOG: readonly CatalogEntry[] = [
  {
    id: DEFAULT_CLIP_ID,
    kind: 'clip',
    name: 'CLIP ViT-B/32 (OpenAI)',
    repo: 'Xenova/clip-vit-base-patch32',
    licence: 'MIT',
    logitScale: 100,
    goodAt: 'fast photo tagging and text search; about 150 MB quantized, 600 MB fp32',
  },
  {
    id: 'clip-vit-base-patch16',
    kind: 'clip',
    name: 'CLIP ViT-B/16 (OpenAI)',
    repo: 'Xenova/clip-vit-base-patch16',
    licence: 'MIT',
    logitScale: 100,
    goodAt: 'finer detail than B/32 at about 4x the image cost',
  },
];

/** The OpenAI CLIP value, used for a folder that is not a catalog model (the user can override it). */
export const DEFAULT_LOGIT_SCALE = 100;

export function catalogEntry(id: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id === id);
}
