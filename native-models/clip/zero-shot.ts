// Zero-shot classification: each label becomes one text embedding (the normalized mean over its prompt templates,
// CLIP's "prompt ensembling"), and an image's probabilities are softmax(logitScale * cosine), the way Hugging Face's
// CLIP example computes `logits_per_image.softmax(dim=1)`.
import type { ClipModel } from './model.ts';
import { dot, meanDirection, softmax } from './vector.ts';

/** A few of the templates OpenAI found to work well together for photos. `{}` is replaced by the label. */
export const PHOTO_TEMPLATES = [
  'a photo of a {}.',
  'a bad photo of the {}.',
  'a photo of the large {}.',
  'a photo of the small {}.',
  'a close-up photo of a {}.',
  'a bright photo of a {}.',
  'a dark photo of the {}.',
] as const;

/** The prompts for one label: the label itself when there are no templates. */
export function expandPrompts(label: string, templates: readonly string[] = []): string[] {
  if (templates.length === 0) return [label];
  return templates.map((t) => (t.includes('{}') ? t.replaceAll('{}', label) : `${t} ${label}`));
}

/** One unit vector per label, averaged over its templates. All prompts go to the text model in shared batches. */
export async function labelEmbeddings(
  model: Pick<ClipModel, 'encodeTexts'>,
  labels: readonly string[],
  templates: readonly string[] = [],
): Promise<Float32Array[]> {
  const prompts = labels.map((l) => expandPrompts(l, templates));
  const flat = await model.encodeTexts(prompts.flat());
  let at = 0;
  return prompts.map((p) => {
    const group = flat.slice(at, at + p.length);
    at += p.length;
    return meanDirection(group);
  });
}

/** Probabilities over the labels for one image embedding (unit vectors in, probabilities summing to 1 out). */
export function zeroShotProbabilities(
  image: Float32Array,
  labels: readonly Float32Array[],
  logitScale: number,
): number[] {
  return softmax(labels.map((l) => logitScale * dot(image, l)));
}
