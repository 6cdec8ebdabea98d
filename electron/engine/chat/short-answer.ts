// Short answers, as VQA models give them: "yes", "no", "3", "a red bicycle". The kind of answer is read from the
// question's first words, and the vision model is held to it by llama.cpp's grammar-constrained sampling (a GBNF
// grammar masks every token that would leave the allowed answers), not by parsing free text afterwards: a
// yes/no question cannot come back as "The image shows a dog, so yes".
//
// The grammars below are constants on purpose, each run against llama.cpp by test/integration/one-shot.test.ts. A
// grammar llama.cpp cannot parse is not a clean error: the completion fails, and releasing that context afterwards
// aborts the whole process (a double free in llama.node 1.7.15, on any context that has answered before), so no
// grammar from outside (the window, the CLI) ever reaches the binding.
import type { ImageInput } from '../../../native-models/clip/preprocess.ts';
import type { VisionChatLoadOptions } from '../../../native-models/llava/vision-chat.ts';
import type { OneShotRequest, OneShotResult } from './chat-service.ts';

export type ShortKind = 'yes-no' | 'number' | 'phrase';

export interface ShortQuestion {
  kind: ShortKind;
  /** The question with the instruction for its kind of answer, as the user turn's text. */
  prompt: string;
  /** The GBNF grammar the answer must match; null for a phrase (free text cut to its first line). */
  grammar: string | null;
  maxTokens: number;
}

/**
 * Yes or no, either case (a model's most likely first token is often "Yes"; forcing lower case would bend its
 * choice), after an optional space: SentencePiece vocabularies spell the first word with its leading space.
 */
export const YES_NO_GRAMMAR = 'root ::= " "? ("yes" | "Yes" | "no" | "No")';

/** A count in digits, without leading zeros: "how many" has no fractions. */
export const COUNT_GRAMMAR = 'root ::= " "? ("0" | [1-9] [0-9]{0,5})';

/** An amount ("how much": a price, a weight), in digits, with up to two decimals. */
export const AMOUNT_GRAMMAR = 'root ::= " "? ("0" | [1-9] [0-9]{0,8}) ("." [0-9]{1,2})?';

/** Questions answered yes or no start with an auxiliary verb (English): "Is there…", "Does it…", "Isn't it…". */
const AUXILIARY =
  /^(?:(?:is|are|was|were|am|do|does|did|can|could|will|would|should|has|have|had|may|might|must|shall)(?:n't|n’t)?|won't|won’t)\b/i;
/** Questions answered with a number. */
const COUNTING = /^count\b|\b(?:you|to)\s+count\b|\bhow\s+(?:many|much)\b|\bwhat\s+number\b|\bthe\s+number\s+of\b/i;
/** Words a person may put before the question itself. */
const LEAD_IN = /^(?:(?:please|so|and|ok|okay|hey|tell me|quick question)\b[\s,:;-]*)+/i;

/**
 * The kind of answer a question wants, its prompt, grammar and token budget. The instructions are the ones LLaVA-1.5
 * was trained with for VQA ("Answer the question using a single word or phrase."), narrowed for yes/no and numbers.
 */
export function shortQuestion(question: string): ShortQuestion {
  const q = question.trim().replace(/\s+/g, ' ');
  if (!q) throw new RangeError('a short answer needs a question');
  const head = q.replace(LEAD_IN, '');
  if (COUNTING.test(head)) {
    return {
      kind: 'number',
      prompt: `${q}\nAnswer the question with a number.`,
      grammar: /\bhow\s+much\b/i.test(head) ? AMOUNT_GRAMMAR : COUNT_GRAMMAR,
      maxTokens: 8,
    };
  }
  // "Is it red or blue?" starts like a yes/no question but asks to choose: a phrase answers it.
  if (AUXILIARY.test(head) && !/\bor\b/i.test(head)) {
    return {
      kind: 'yes-no',
      prompt: `${q}\nAnswer the question with yes or no.`,
      grammar: YES_NO_GRAMMAR,
      maxTokens: 3,
    };
  }
  return {
    kind: 'phrase',
    prompt: `${q}\nAnswer the question using a single word or phrase.`,
    grammar: null,
    maxTokens: 16,
  };
}

const NUMBER_WORDS: Record<string, number> = {
  zero: 0,
  none: 0,
  no: 0,
  one: 1,
  single: 1,
  two: 2,
  pair: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  dozen: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
  twenty: 20,
};

/** Longest phrase kept: a short answer that runs on is cut here. */
export const MAX_PHRASE = 100;

/**
 * The answer as shown: its first non-empty line, trimmed, spaces collapsed, without quotes around it or a trailing
 * period; yes/no in lower case; a number as digits (thousands separators and leading zeros dropped, "three" read as
 * 3). Text that is not of the expected kind (a model answering without its grammar) comes back cleaned, not emptied:
 * the person sees what the model said.
 */
export function normalizeShort(kind: ShortKind, text: string): string {
  const line =
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l) ?? '';
  const clean = line
    .replace(/\s+/g, ' ')
    .replace(/^["'“‘`]+|["'”’`]+$/g, '')
    .replace(/[.!。]+$/, '')
    .trim();
  if (kind === 'yes-no') {
    const lower = clean.toLowerCase();
    return /^(yes|no)\b/.exec(lower)?.[1] ?? lower;
  }
  if (kind === 'number') {
    const digits = /\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?/.exec(clean)?.[0];
    if (digits) {
      const plain = digits.replace(/,/g, '');
      const [whole, frac] = plain.split('.');
      const w = whole!.replace(/^0+(?=\d)/, '');
      return frac !== undefined && /[1-9]/.test(frac) ? `${w}.${frac.replace(/0+$/, '')}` : w;
    }
    const word = clean
      .toLowerCase()
      .split(/[^a-z]+/)
      .find((x) => x in NUMBER_WORDS);
    return word !== undefined ? String(NUMBER_WORDS[word]) : clean;
  }
  return clean.length > MAX_PHRASE ? `${clean.slice(0, MAX_PHRASE - 1).trimEnd()}…` : clean;
}

/**
 * A short answer to a question about one image: an interactive one-shot in the chat service's queue (it goes before
 * a caption job's next photo), under the grammar of its kind, greedy (VQA answers are read greedily: the same image
 * and question give the same answer), cleaned by normalizeShort.
 */
export async function askShort(
  chat: { oneShot(r: OneShotRequest): Promise<OneShotResult> },
  args: { image: ImageInput; question: string; model: VisionChatLoadOptions; signal?: AbortSignal; label?: string },
): Promise<{ answer: string; kind: ShortKind }> {
  const q = shortQuestion(args.question);
  const r = await chat.oneShot({
    image: args.image,
    prompt: q.prompt,
    model: args.model,
    options: { maxTokens: q.maxTokens, temperature: 0, ...(q.grammar ? { grammar: q.grammar } : {}) },
    ...(args.signal ? { signal: args.signal } : {}),
    ...(args.label ? { label: args.label } : {}),
  });
  return { answer: normalizeShort(q.kind, r.text), kind: q.kind };
}
