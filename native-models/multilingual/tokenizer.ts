// The BERT WordPiece tokenizer of sentence-transformers' multilingual CLIP text encoder (a cased multilingual
// DistilBERT), read from the model's own tokenizer.json with @huggingface/tokenizers. It must give the ids that
// sentence-transformers gives (Hugging Face's fast tokenizer, in Rust): BertNormalizer (clean-up, spaces around CJK
// ideographs; cased, so no lowercasing and no accent stripping), BertPreTokenizer (whitespace, then punctuation as
// single tokens), greedy longest-match-first WordPiece with "##" continuations, then [CLS] … [SEP], truncated to
// max_seq_length (128) with truncation=longest_first and padded to the longest row of the batch.
//
// One correction to the JS library (0.2.0): its BertNormalizer walks the text by UTF-16 code unit, so it never sees
// the CJK ideographs outside the Basic Multilingual Plane (Extensions B to F and the Compatibility Ideographs
// Supplement, U+20000 to U+2FA1F: 𠮷, 𩸽, …, found in names and in Cantonese and Japanese text) and does not put
// spaces around them. Google's BERT (tokenization.py, `_is_chinese_char`) and Hugging Face's Rust BertNormalizer
// walk by code point and do. So "𩸽の塩焼き" was one word "𩸽の" for the library ("𩸽" then "##の") where BERT reads
// two words ("𩸽", "の"). `isolateAstralIdeographs` puts those spaces in before the library runs; the spaces it adds
// are the ones BertNormalizer would add, and whitespace only separates words, so nothing else changes.
import type { Tokenizer } from '@huggingface/tokenizers';
import { padRows, readTokenizerJson, type TokenBatch, tokenizerFrom } from '../clip/tokenizer.ts';
import { ModelError } from '../errors.ts';

/** sentence-transformers' max_seq_length for clip-ViT-B-32-multilingual-v1 (and DistilBERT's usual limit). */
export const MULTILINGUAL_MAX_LENGTH = 128;

export type { TokenBatch };

/**
 * CJK ideographs outside the BMP, in the ranges of Google BERT's `_is_chinese_char`: Extension B, C, D, E+F
 * (0x2B820-0x2CEAF) and the Compatibility Ideographs Supplement. (Hugging Face's Rust code writes 0x2B920 for the
 * start of E, a typo against its own comment and against BERT; the 256 code points between are rare ideographs
 * that no BERT vocabulary holds. The JS library uses BERT's 0x2B820 for the BMP-check it does, and so do we.)
 */
const ASTRAL_IDEOGRAPH =
  /[\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;

export function isolateAstralIdeographs(text: string): string {
  return text.replace(ASTRAL_IDEOGRAPH, ' $& ');
}

interface TokenizerJson {
  added_tokens?: unknown;
  model?: { type?: unknown; vocab?: unknown; unk_token?: unknown };
}

export class WordPieceTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly clsId: number,
    readonly sepId: number,
    readonly padId: number,
  ) {}

  static async load(file: string): Promise<WordPieceTokenizer> {
    const json = (await readTokenizerJson(file)) as TokenizerJson;
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new ModelError('model-config-invalid', `${file} is not a tokenizer.json: it holds no object`);
    }
    const model = json.model;
    if (!model || typeof model !== 'object' || model.type !== 'WordPiece') {
      const found = model && typeof model === 'object' && typeof model.type === 'string' ? model.type : 'none';
      throw new ModelError(
        'model-config-invalid',
        `${file} is not a BERT WordPiece tokenizer (its model type is ${found}): the multilingual text encoder needs ` +
          'the tokenizer.json that comes with sentence-transformers/clip-ViT-B-32-multilingual-v1',
      );
    }
    const vocab = model.vocab;
    if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab)) {
      throw new ModelError('model-config-invalid', `${file} is not a usable WordPiece tokenizer: it has no vocabulary`);
    }
    const added = Array.isArray(json.added_tokens) ? (json.added_tokens as { id?: unknown; content?: unknown }[]) : [];
    const idOf = (content: string): number | undefined => {
      const fromAdded = added.find((t) => t.content === content)?.id;
      if (typeof fromAdded === 'number') return fromAdded;
      const fromVocab = (vocab as Record<string, unknown>)[content];
      return typeof fromVocab === 'number' ? fromVocab : undefined;
    };
    const cls = idOf('[CLS]');
    const sep = idOf('[SEP]');
    const pad = idOf('[PAD]');
    const unkToken = typeof model.unk_token === 'string' ? model.unk_token : '[UNK]';
    const missing = [
      ['[CLS]', cls],
      ['[SEP]', sep],
      ['[PAD]', pad],
      [unkToken, idOf(unkToken)],
    ]
      .filter(([, id]) => id === undefined)
      .map(([name]) => name);
    if (missing.length > 0 || cls === undefined || sep === undefined || pad === undefined) {
      throw new ModelError(
        'model-config-invalid',
        `${file} is not a BERT tokenizer: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in its vocabulary`,
      );
    }
    const tokenizer = tokenizerFrom(json, file);
    return new WordPieceTokenizer(tokenizer, cls, sep, pad);
  }

  /** WordPiece ids of the text, without [CLS]/[SEP] and untruncated. */
  encodeTokens(text: string): number[] {
    return this.tokenizer.encode(isolateAstralIdeographs(text), { add_special_tokens: false }).ids;
  }

  /**
   * [CLS] ids [SEP], cut as Hugging Face's truncation=longest_first cuts a single sequence to `maxLength`: the
   * tokens after the first `maxLength - 2` are dropped (even in the middle of a word) and [SEP] stays last.
   */
  encode(text: string, maxLength = MULTILINGUAL_MAX_LENGTH): number[] {
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new RangeError(`maxLength must be an integer of at least 2 ([CLS] and [SEP]), not ${maxLength}`);
    }
    return [this.clsId, ...this.encodeTokens(text).slice(0, maxLength - 2), this.sepId];
  }

  /** As sentence-transformers' tokenize: padding to the longest row of the batch, attention mask 1 on real tokens. */
  encodeBatch(texts: string[], maxLength = MULTILINGUAL_MAX_LENGTH): TokenBatch {
    return padRows(
      texts.map((t) => this.encode(t, maxLength)),
      this.padId,
    );
  }
}
