// The classify service: zero-shot labels for image files. Used in-process by the CLI today and by the engine
// process behind the window later; it returns data, never prints.
import path from 'node:path';
import { CLIP_CATALOG, DEFAULT_LOGIT_SCALE } from '../../native-models/catalog.ts';
import { type ClipLoadOptions, ClipModel } from '../../native-models/clip/model.ts';
import { encodeImages } from '../../native-models/clip/pipeline.ts';
import { labelEmbeddings, zeroShotProbabilities } from '../../native-models/clip/zero-shot.ts';

export interface ClassifyRequest extends Omit<ClipLoadOptions, 'towers'> {
  modelDir: string;
  files: string[];
  labels: string[];
  /** Prompt templates with `{}` for the label; empty: each label is its own prompt. */
  templates?: string[];
  batchSize?: number;
  /** Overrides the catalog's logit scale. */
  logitScale?: number;
}

export interface LabelScore {
  label: string;
  probability: number;
}

export type ClassifyResult =
  | { file: string; ok: true; scores: LabelScore[] }
  | { file: string; ok: false; error: { code: string; message: string } };

export interface ClassifySummary {
  model: { dir: string; variant: string; providers: Record<string, string>; logitScale: number; notes: string[] };
  results: ClassifyResult[];
}

/** The trained logit scale of the model in `dir`: from the catalog when the folder is a catalog model's. */
export function logitScaleFor(dir: string): number {
  const id = path.basename(path.resolve(dir));
  return CLIP_CATALOG.find((e) => e.id === id)?.logitScale ?? DEFAULT_LOGIT_SCALE;
}

export class ClassifyInputError extends Error {
  override readonly name = 'ClassifyInputError';
  readonly code = 'bad-request';
}

export async function classifyFiles(
  req: ClassifyRequest,
  onResult?: (r: ClassifyResult) => void,
): Promise<ClassifySummary> {
  const labels = req.labels.map((l) => l.trim()).filter((l) => l.length > 0);
  if (labels.length < 2) throw new ClassifyInputError('give at least two labels to choose between');
  if (new Set(labels).size !== labels.length) throw new ClassifyInputError('the same label is given twice');
  if (req.files.length === 0) throw new ClassifyInputError('give at least one image');
  const logitScale = req.logitScale ?? logitScaleFor(req.modelDir);
  if (!(logitScale > 0)) throw new ClassifyInputError('the logit scale must be a positive number');

  const model = await ClipModel.load(req.modelDir, {
    ...(req.variant ? { variant: req.variant } : {}),
    ...(req.provider ? { provider: req.provider } : {}),
    ...(req.threads ? { threads: req.threads } : {}),
  });
  try {
    const textEmbeddings = await labelEmbeddings(model, labels, req.templates ?? []);
    const results: ClassifyResult[] = [];
    for await (const batch of encodeImages(model, req.files, { batchSize: req.batchSize ?? 8 })) {
      for (const item of batch) {
        const r: ClassifyResult = item.embedding
          ? {
              file: item.input,
              ok: true,
              scores: zeroShotProbabilities(item.embedding, textEmbeddings, logitScale).map((probability, i) => ({
                label: labels[i]!,
                probability,
              })),
            }
          : { file: item.input, ok: false, error: item.error! };
        results.push(r);
        onResult?.(r);
      }
    }
    const providers = Object.fromEntries(Object.entries(await model.providers()));
    return {
      model: { dir: model.info.dir, variant: model.info.variant, providers, logitScale, notes: model.info.notes },
      results,
    };
  } finally {
    await model.release();
  }
}
