import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../native-models/errors.ts';
import { WordPieceTokenizer } from '../../native-models/multilingual/tokenizer.ts';
import {
  basicTokenize,
  referenceEncode,
  referenceTokens,
  vocabMap,
  wordPiece,
} from '../fixtures/bert-tokenizer-reference.ts';
import { bertTokenizerJson, multilingualVocab } from '../fixtures/wordpiece-vocab.ts';

const PAD = 0;
const UNK = 100;
const CLS = 101;
const SEP = 102;
const MASK = 103;

/** Prompts by script; every one is compared with the reference, alone and in one batch. */
const PROMPTS: Record<string, string[]> = {
  english: ['a dog running on the beach at sunset', 'A photo of a cat, sleeping on a red sofa!', 'two dogs'],
  french: ['chien sur la plage', "Un château près de la forêt, l'été", 'Noël à Paris'],
  german: ['Hund am Strand', 'Straßenbahn über die Brücke in München', 'Größe: 3×4 m'],
  spanish: ['perro en la playa', '¿Dónde está el niño?', 'señora con sombrero'],
  // precomposed, and one word with a combining acute (NFD): BERT cased does not normalise Unicode
  vietnamese: ['con chó trên bãi biển', 'Phở bò ở Hà Nội', 'cafe\u0301 sữa đá'],
  cyrillic: ['собака на пляже', 'Красная площадь зимой', 'кошка — спит'],
  greek: ['σκύλος στην παραλία', 'Ακρόπολη, Αθήνα', 'γάτα;'],
  arabic: ['كلب على الشاطئ', 'قطة نائمة؟', 'مرحبا، العالم'],
  hebrew: ['כלב על החוף', 'חתול שחור', 'בית־ספר ישן'],
  hindi: ['समुद्र तट पर कुत्ता', 'ताजमहल। सुंदर', 'बिल्ली सो रही है'],
  thai: ['สุนัขบนชายหาด', 'แมวนอนอยู่บนโซฟาสีแดง', 'ภูเขา และ ทะเล'],
  chinese: ['海滩上的狗', '北京的天安门广场，晚上。', '一只猫在沙发上睡觉'],
  japanese: ['浜辺を走る犬', '東京タワーと富士山の写真です。', 'かわいい猫ちゃん', '𩸽の塩焼き'],
  korean: ['해변의 개', '서울의 밤거리 사진', '고양이가 소파에서 잔다'],
  emoji: ['a dog 🐶 on the beach 🏖️', '👩‍🚀 in space ❤️', '🎉🎉🎉 party'],
  punctuation: [
    'Hello!!! (test) — “quoted” «guillemets» ... $5 + 3 = 8 #tag @user ~tilde^ `code` |pipe| {x}',
    "don't stop-believing...",
    'line one\nline two\tTabbed\r\n  spaced\u00a0out\u3000ideographic',
    'null\u0000byte\u0007bell\ufffdreplacement\u200bzero-width',
  ],
  mixed: ['Hund 🐶 dog собака 犬 개 كلب', 'photo: 東京 at night / ночь', 'a photo of [MASK] on a beach'],
};
const ALL = Object.values(PROMPTS).flat();
const LONG = Array.from({ length: 40 }, (_, i) => `a dog number ${i} runs on the beach,`).join(' ');

const vocab = multilingualVocab([...ALL, LONG]);
const ids = vocabMap(vocab);
let dir: string;
let file: string;
let tok: WordPieceTokenizer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'glance-wordpiece-'));
  file = path.join(dir, 'tokenizer.json');
  await writeFile(file, JSON.stringify(bertTokenizerJson(vocab)));
  tok = await WordPieceTokenizer.load(file);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const row = (b: { ids: BigInt64Array; length: number }, r: number) =>
  Array.from(b.ids.slice(r * b.length, (r + 1) * b.length), Number);
const maskRow = (b: { mask: BigInt64Array; length: number }, r: number) =>
  Array.from(b.mask.slice(r * b.length, (r + 1) * b.length), Number);

describe('the reference tokenizer itself', () => {
  const tiny = vocabMap([
    '[PAD]',
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    'un',
    '##aff',
    '##able',
    'Hund',
    'am',
    'Str',
    '##and',
    '##a',
    'Strand',
    '!',
    '浜',
    '辺',
    'の',
    '犬',
    'a',
  ]);

  it('matches greedily, longest first, with ## continuations', () => {
    expect(referenceTokens('unaffable', tiny)).toEqual(['un', '##aff', '##able']);
    expect(referenceTokens('Hund am Strand!', tiny)).toEqual(['Hund', 'am', 'Strand', '!']);
    expect(referenceTokens('Stranda', tiny)).toEqual(['Strand', '##a']);
    expect(referenceTokens('Strandx', tiny)).toEqual(['[UNK]']);
    expect(referenceTokens('hund', tiny)).toEqual(['[UNK]']); // cased: no lowercasing
  });

  it('splits CJK ideographs but not kana, punctuation into single tokens, and drops control characters', () => {
    expect(basicTokenize('浜辺の犬').map((w) => w.join(''))).toEqual(['浜', '辺', 'の', '犬']);
    expect(basicTokenize('かわいい猫ちゃん').map((w) => w.join(''))).toEqual(['かわいい', '猫', 'ちゃん']);
    expect(basicTokenize('ひらがなカタカナ한국어').map((w) => w.join(''))).toEqual(['ひらがなカタカナ한국어']);
    expect(basicTokenize('a,b...c¿d؟').map((w) => w.join(''))).toEqual([
      'a',
      ',',
      'b',
      '.',
      '.',
      '.',
      'c',
      '¿',
      'd',
      '؟',
    ]);
    expect(basicTokenize('$5+3=8^`|~').map((w) => w.join(''))).toEqual([
      '$',
      '5',
      '+',
      '3',
      '=',
      '8',
      '^',
      '`',
      '|',
      '~',
    ]);
    expect(basicTokenize('a\u0000b\u200bc\ufffdd\te\u00a0f').map((w) => w.join(''))).toEqual(['abcd', 'e', 'f']);
    expect(basicTokenize('𩸽の').map((w) => w.join(''))).toEqual(['𩸽', 'の']);
  });

  it('gives [UNK] to a word of more than 100 characters', () => {
    expect(wordPiece(Array.from('a'.repeat(101)), vocabMap(['a', '##a']))).toEqual(['[UNK]']);
    expect(wordPiece(Array.from('a'.repeat(100)), vocabMap(['a', '##a']))).toHaveLength(100);
  });
});

describe('synthetic multilingual vocabulary', () => {
  it('has the layout of bert-base-multilingual-cased', () => {
    expect(vocab[0]).toBe('[PAD]');
    expect(vocab[1]).toBe('[unused1]');
    expect(vocab[99]).toBe('[unused99]');
    expect(vocab.slice(100, 104)).toEqual(['[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(new Set(vocab).size).toBe(vocab.length);
  });

  it('makes greedy longest-match matter: whole words, split words, and [UNK]', () => {
    const tokens = ALL.map((p) => referenceTokens(p, ids));
    const words = ALL.flatMap((p) => basicTokenize(p)).filter((w) => w.length > 1);
    const whole = words.filter((w) => ids.has(w.join('')));
    const split = tokens.flat().filter((t) => t.startsWith('##') && Array.from(t).length > 3);
    expect(whole.length).toBeGreaterThan(20);
    expect(split.length).toBeGreaterThan(20);
    expect(tokens.flat().filter((t) => t === '[UNK]').length).toBeGreaterThan(5);
    expect(vocab.length - 106).toBeGreaterThan(300);
  });
});

describe('WordPieceTokenizer against the reference', () => {
  it('covers at least 12 scripts and languages', () => {
    expect(Object.keys(PROMPTS).length).toBeGreaterThanOrEqual(12);
  });

  for (const [script, prompts] of Object.entries(PROMPTS)) {
    it(`gives the reference ids for ${script} prompts, one at a time`, () => {
      for (const prompt of prompts) {
        const b = tok.encodeBatch([prompt]);
        const expected = referenceEncode(prompt, ids, 128);
        expect({ prompt, ids: row(b, 0) }).toEqual({ prompt, ids: expected });
        expect(maskRow(b, 0)).toEqual(expected.map(() => 1));
        expect(b.rows).toBe(1);
        expect(b.length).toBe(expected.length);
      }
    });
  }

  it('gives the reference ids for all prompts as one batch, padded with [PAD] to the longest', () => {
    const texts = [...ALL, LONG];
    const b = tok.encodeBatch(texts);
    const expected = texts.map((t) => referenceEncode(t, ids, 128));
    expect(b.rows).toBe(texts.length);
    expect(b.length).toBe(Math.max(...expected.map((e) => e.length)));
    expect(b.ids).toHaveLength(b.rows * b.length);
    expected.forEach((e, r) => {
      const pad = Array(b.length - e.length).fill(PAD);
      expect({ text: texts[r], ids: row(b, r) }).toEqual({ text: texts[r], ids: [...e, ...pad] });
      expect(maskRow(b, r)).toEqual([...e.map(() => 1), ...pad]);
    });
  });

  it('uses the [PAD] id of the file', async () => {
    const swapped = [...vocab];
    swapped[0] = '[unused0]';
    swapped.push('[PAD]');
    const other = path.join(dir, 'pad-elsewhere.json');
    await writeFile(other, JSON.stringify(bertTokenizerJson(swapped)));
    const t = await WordPieceTokenizer.load(other);
    expect(t.padId).toBe(swapped.length - 1);
    const b = t.encodeBatch(['a', 'a dog on the beach']);
    expect(Number(b.ids[b.length - 1])).toBe(swapped.length - 1);
    expect(Number(b.mask[b.length - 1])).toBe(0);
  });

  it('gives [UNK] for a word with a character missing from the vocabulary', () => {
    const missing = [...new Set(ALL.flatMap((p) => basicTokenize(p).flat()))].filter((ch) => !ids.has(ch));
    expect(missing.length).toBeGreaterThan(0);
    for (const ch of missing) {
      expect({ ch, ids: tok.encode(ch) }).toEqual({ ch, ids: [CLS, UNK, SEP] });
      expect(tok.encode(`dog ${ch} dog`)).toEqual(referenceEncode(`dog ${ch} dog`, ids));
      expect(tok.encode(`dog ${ch} dog`)).toContain(UNK);
    }
  });

  it('gives [UNK] for a word of more than 100 characters, as max_input_chars_per_word says', () => {
    expect(tok.encode('a'.repeat(101))).toEqual([CLS, UNK, SEP]);
    expect(tok.encode('a'.repeat(100))).toEqual(referenceEncode('a'.repeat(100), ids));
    expect(tok.encode('a'.repeat(100))).not.toContain(UNK);
    const thai = 'แมวนอนอยู่บนโซฟาสีแดง'.repeat(6); // Thai has no spaces: one word of 126 characters
    expect(tok.encode(thai)).toEqual([CLS, UNK, SEP]);
    expect(referenceEncode(thai, ids)).toEqual([CLS, UNK, SEP]);
  });

  it('reads a literal special token as that token, as Hugging Face does', () => {
    expect(tok.encode('a photo of [MASK] on a beach')).toContain(MASK);
    expect(tok.encode('x[CLS]y')).toEqual(referenceEncode('x[CLS]y', ids));
    expect(tok.encode('[SEP]')).toEqual([CLS, SEP, SEP]);
  });

  it('keeps an unassigned code point in its word, as Hugging Face does (Cc, Cf, Co are dropped, Cn is not)', () => {
    expect(tok.encode('dog\u0378dog')).toEqual([CLS, UNK, SEP]);
    expect(referenceEncode('dog\u0378dog', ids)).toEqual([CLS, UNK, SEP]);
    expect(tok.encode('dog\u200bdog')).toEqual(referenceEncode('dogdog', ids));
  });

  it('handles empty and whitespace-only prompts as [CLS] [SEP]', () => {
    const b = tok.encodeBatch(['', '   \n\t', 'dog']);
    expect(row(b, 0)).toEqual([CLS, SEP, PAD]);
    expect(row(b, 1)).toEqual([CLS, SEP, PAD]);
    expect(maskRow(b, 0)).toEqual([1, 1, 0]);
    expect(tok.encodeBatch([]).rows).toBe(0);
  });
});

describe('CJK ideographs outside the BMP (a correction to @huggingface/tokenizers 0.2.0)', () => {
  const astral = ['𩸽の塩焼き', 'a𠮷b', '𠮷野家で', '我们𠀀们'];

  it('splits them into words of their own, as BERT and the Rust tokenizer do', () => {
    for (const text of astral)
      expect({ text, ids: tok.encode(text) }).toEqual({ text, ids: referenceEncode(text, ids) });
    expect(referenceTokens('a𠮷b', vocabMap(['a', 'b', '𠮷', '##b', '##𠮷']))).toEqual(['a', '𠮷', 'b']);
  });

  it('where the library alone does not (it walks UTF-16 code units); remove the correction when it does', () => {
    const lib = new Tokenizer(bertTokenizerJson(vocab), {});
    const plain = (text: string) => [CLS, ...lib.encode(text, { add_special_tokens: false }).ids, SEP];
    expect(plain('𩸽の塩焼き')).not.toEqual(referenceEncode('𩸽の塩焼き', ids));
    expect(plain('a𠮷b')).not.toEqual(referenceEncode('a𠮷b', ids));
    // and agrees with the reference everywhere else
    for (const text of ALL.filter((t) => !astral.includes(t))) expect(plain(text)).toEqual(referenceEncode(text, ids));
  });
});

describe('truncation to max_seq_length', () => {
  it('cuts a long prompt to exactly 128 tokens, [SEP] last, as truncation=longest_first does', () => {
    const full = referenceEncode(LONG, ids);
    expect(full.length).toBeGreaterThan(128);
    const cut = tok.encode(LONG);
    expect(cut).toHaveLength(128);
    expect(cut[127]).toBe(SEP);
    expect(cut.slice(0, 127)).toEqual(full.slice(0, 127));
    expect(cut).toEqual(referenceEncode(LONG, ids, 128));
    const b = tok.encodeBatch(['dog', LONG]);
    expect(b.length).toBe(128);
    expect(row(b, 1)).toEqual(cut);
  });

  it('honours a smaller maximum and leaves short prompts alone', () => {
    const b = tok.encodeBatch([LONG, 'Hund am Strand'], 16);
    expect(b.length).toBe(16);
    expect(row(b, 0)).toEqual(referenceEncode(LONG, ids, 16));
    expect(row(b, 0)[15]).toBe(SEP);
    const short = referenceEncode('Hund am Strand', ids);
    expect(row(b, 1)).toEqual([...short, ...Array(16 - short.length).fill(PAD)]);
    expect(tok.encode(LONG, 2)).toEqual([CLS, SEP]);
    expect(() => tok.encode(LONG, 1)).toThrow(RangeError);
  });
});

describe('refusing a tokenizer.json that is not a BERT WordPiece one', () => {
  const load = async (name: string, content: string) => {
    const f = path.join(dir, name);
    await writeFile(f, content);
    return WordPieceTokenizer.load(f).then(
      () => {
        throw new Error('loaded');
      },
      (err: unknown) => err as ModelError,
    );
  };

  it('refuses a BPE tokenizer, naming the file and what it needs', async () => {
    const bpe = {
      ...bertTokenizerJson(vocab),
      model: { type: 'BPE', vocab: { a: 0 }, merges: [] },
    };
    const err = await load('bpe.json', JSON.stringify(bpe));
    expect(err).toBeInstanceOf(ModelError);
    expect(err.code).toBe('model-config-invalid');
    expect(err.message).toContain('bpe.json');
    expect(err.message).toMatch(/not a BERT WordPiece tokenizer \(its model type is BPE\)/);
  });

  it('refuses a WordPiece tokenizer without [CLS] and [SEP]', async () => {
    const json = bertTokenizerJson(vocab) as { added_tokens: { content: string }[]; model: { vocab: object } };
    const vocabWithout = Object.fromEntries(
      Object.entries(json.model.vocab).filter(([t]) => t !== '[CLS]' && t !== '[SEP]'),
    );
    const broken = {
      ...json,
      added_tokens: json.added_tokens.filter((t) => t.content !== '[CLS]' && t.content !== '[SEP]'),
      model: { ...json.model, vocab: vocabWithout },
    };
    const err = await load('no-cls.json', JSON.stringify(broken));
    expect(err.code).toBe('model-config-invalid');
    expect(err.message).toContain('no-cls.json');
    expect(err.message).toContain('[CLS], [SEP] are not in its vocabulary');
  });

  it('refuses a file that is not JSON, and names a missing one', async () => {
    const err = await load('garbage.json', '{ not json');
    expect(err.code).toBe('model-config-invalid');
    expect(err.message).toContain('garbage.json');
    const gone = await WordPieceTokenizer.load(path.join(dir, 'nowhere.json')).catch((e: ModelError) => e);
    expect(gone).toBeInstanceOf(ModelError);
    expect((gone as ModelError).code).toBe('model-file-missing');
    expect((gone as ModelError).message).toContain('nowhere.json');
  });
});
