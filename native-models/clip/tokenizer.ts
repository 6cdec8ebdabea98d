// CLIP's BPE tokenizer from the model's own tokenizer.json (@huggingface/tokenizers), preceded by the clean-up that
// OpenAI's reference tokenizer does and tokenizer.json does not: HTML entities unescaped twice, whitespace runs
// collapsed, ends trimmed. (The reference also runs ftfy, which only repairs mojibake; prompts typed by people do
// not need it.) The ids must match the reference, because they are what the model saw in training.
import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { decodeHTML } from 'entities';
import { ModelError } from '../errors.ts';

export const CLIP_CONTEXT_LENGTH = 77;

export function cleanText(text: string): string {
  return decodeHTML(decodeHTML(text)).replace(/\s+/g, ' ').trim();
}

export interface TokenBatch {
  /** [rows, length] row-major, padded with `padId` to the longest row of this batch (not to the context length). */
  ids: BigInt64Array;
  mask: BigInt64Array;
  rows: number;
  length: number;
}

export class ClipTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly bosId: number,
    readonly eosId: number,
    readonly padId: number,
    readonly contextLength: number,
  ) {}

  static async load(file: string, contextLength = CLIP_CONTEXT_LENGTH): Promise<ClipTokenizer> {
    const json = await readTokenizerJson(file);
    const added = Array.isArray(json.added_tokens) ? (json.added_tokens as { id: number; content: string }[]) : [];
    const idOf = (content: string) => added.find((t) => t.content === content)?.id;
    const bos = idOf('<|startoftext|>');
    const eos = idOf('<|endoftext|>');
    if (bos === undefined || eos === undefined) {
      throw new ModelError(
        'model-config-invalid',
        `${file} is not a CLIP tokenizer: <|startoftext|> and <|endoftext|> are not among its added tokens`,
      );
    }
    const padding = json.padding as { pad_id?: number } | null | undefined;
    const tokenizer = tokenizerFrom(json, file);
    return new ClipTokenizer(tokenizer, bos, eos, padding?.pad_id ?? eos, contextLength);
  }

  /** Ids with start and end tokens, untruncated. */
  encodeFull(text: string): number[] {
    const ids = this.tokenizer.encode(cleanText(text)).ids;
    // tokenizer.json's post-processor adds the specials; make sure, since a hand-written tokenizer.json may not.
    if (ids[0] !== this.bosId) ids.unshift(this.bosId);
    if (ids[ids.length - 1] !== this.eosId) ids.push(this.eosId);
    return ids;
  }

  /** Ids cut to the context length the way the reference does: the last kept position becomes the end token. */
  encode(text: string): number[] {
    const ids = this.encodeFull(text);
    if (ids.length <= this.contextLength) return ids;
    const cut = ids.slice(0, this.contextLength);
    cut[cut.length - 1] = this.eosId;
    return cut;
  }

  encodeBatch(texts: string[]): TokenBatch {
    return padRows(
      texts.map((t) => this.encode(t)),
      this.padId,
    );
  }
}

/** A tokenizer.json's content; a missing file or one that is not JSON is a ModelError naming it. */
export async function readTokenizerJson(file: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ModelError(
      missing ? 'model-file-missing' : 'model-config-invalid',
      missing ? `tokenizer.json is missing: ${file}` : `tokenizer.json is not valid JSON: ${file}`,
      { cause: err },
    );
  }
}

/** The library's tokenizer for a tokenizer.json's content; one it cannot build is a ModelError naming the file. */
export function tokenizerFrom(json: object, file: string): Tokenizer {
  try {
    return new Tokenizer(json, {});
  } catch (err) {
    throw new ModelError('model-config-invalid', `${file} could not be loaded as a tokenizer: ${String(err)}`, {
      cause: err,
    });
  }
}

/** Rows of token ids as one batch: padded with `padId` to the longest row (at least 1), attention mask 1 on tokens. */
export function padRows(rowsIds: number[][], padId: number): TokenBatch {
  const length = rowsIds.reduce((most, r) => Math.max(most, r.length), 1);
  const ids = new BigInt64Array(rowsIds.length * length).fill(BigInt(padId));
  const mask = new BigInt64Array(rowsIds.length * length);
  rowsIds.forEach((row, r) => {
    row.forEach((id, i) => {
      ids[r * length + i] = BigInt(id);
      mask[r * length + i] = 1n;
    });
  });
  return { ids, mask, rows: rowsIds.length, length };
}
