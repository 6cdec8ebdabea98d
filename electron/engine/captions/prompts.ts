// What a caption job asks each catalog model, and how its answer becomes a caption. One sentence: a caption is read
// in a photo's details and searched by its words, and every token is paid for on every photo (on CPU a caption
// takes seconds), so the budget is what one descriptive sentence needs in the family's tokenizer, no more.
import { checkPair } from '../../../native-models/llava/gguf-check.ts';
import { familyOf, type ModelFamily } from '../../../native-models/llava/sampling.ts';

export interface CaptionPrompt {
  /** The user turn's text, after the image. */
  prompt: string;
  /** The answer's token budget. */
  maxTokens: number;
}

/**
 * Per family. SmolVLM (the fast default for captions) is small enough that a longer instruction only dilutes it: the
 * plain request works best. LLaVA-1.5 was trained on COCO captions with exactly "Provide a one-sentence caption for
 * the provided image.", which gives it its short caption style. Qwen2.5-VL and Gemma 3 follow instructions well and
 * would otherwise open with "The image shows…": they are asked to start with the subject.
 */
export const CAPTION_PROMPTS: Readonly<Record<ModelFamily, CaptionPrompt>> = {
  smolvlm: { prompt: 'Describe this photo in one sentence.', maxTokens: 48 },
  'llava-1.5': { prompt: 'Provide a one-sentence caption for the provided image.', maxTokens: 48 },
  'qwen2.5-vl': {
    prompt: 'Describe this photo in one sentence. Start with the subject, not with "The image".',
    maxTokens: 60,
  },
  'gemma-3': {
    prompt: 'Describe this photo in one sentence. Start with the subject, not with "The image".',
    maxTokens: 60,
  },
  other: { prompt: 'Describe this photo in one sentence.', maxTokens: 60 },
};

/** The families of the catalog's chat models, by catalog id (native-models/catalog.ts). */
const CATALOG_FAMILY: Readonly<Record<string, ModelFamily>> = {
  'llava-1.5-7b': 'llava-1.5',
  'smolvlm-500m': 'smolvlm',
  'qwen2.5-vl-3b': 'qwen2.5-vl',
  'gemma-3-4b': 'gemma-3',
};

/** The caption prompt of a catalog model; an unknown id gets the general one. */
export function captionPromptForCatalog(catalogId: string): CaptionPrompt {
  return CAPTION_PROMPTS[CATALOG_FAMILY[catalogId] ?? 'other'];
}

/** The caption prompt of a model given as files: its family read from the files' headers (nothing is loaded). */
export async function captionPromptForFiles(model: string, mmproj: string): Promise<CaptionPrompt> {
  const pair = await checkPair(model, mmproj);
  return CAPTION_PROMPTS[familyOf(pair.model, pair.projector)];
}

/** Longest caption kept, in characters. */
export const MAX_CAPTION = 300;

/**
 * A model's answer as a caption: its first non-empty line, trimmed, spaces collapsed, cut after the first sentence
 * (a model that goes on adds detail nobody asked for) and to MAX_CAPTION characters at a word. Empty when the model
 * wrote nothing: the job counts that photo as failed instead of storing an empty caption.
 */
export function cleanCaption(text: string): string {
  const line =
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l) ?? '';
  let t = line.replace(/\s+/g, ' ').trim();
  // the first sentence: it ends at a stop followed by a space and a capital, so "3.5 m" stays whole (an abbreviation
  // before a name, "St. Ives", cuts early: rare in a caption, and what is left is still a caption)
  const end = /[.!?](?=\s+["'“(]?[A-Z])/.exec(t);
  if (end) t = t.slice(0, end.index + 1);
  if (t.length > MAX_CAPTION) {
    const cut = t.slice(0, MAX_CAPTION - 1);
    const space = cut.lastIndexOf(' ');
    t = `${(space > MAX_CAPTION / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
  }
  return t;
}
