import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, cleanText } from '../../native-models/clip/tokenizer.ts';
import { clipTokenizerPath } from '../fixtures/clip-tokenizer-json.ts';
import { vendorPath } from '../fixtures/repo.ts';

const reference: { text: string; ids: number[] }[] = readFileSync(vendorPath('tokenizer-reference.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));

let tok: ClipTokenizer;
beforeAll(async () => {
  tok = await ClipTokenizer.load(await clipTokenizerPath());
});

describe('CLIP tokenizer conformance with OpenAI reference ids', () => {
  it('has the reference set of 300 prompts, some longer than the context', () => {
    expect(reference).toHaveLength(300);
    expect(reference.some((r) => r.ids.length > 77)).toBe(true);
  });

  it('produces identical untruncated ids for every reference prompt', () => {
    const mismatches = reference.filter((r) => JSON.stringify(tok.encodeFull(r.text)) !== JSON.stringify(r.ids));
    expect(mismatches.map((m) => m.text)).toEqual([]);
  });

  it('truncates to 77 keeping the end token, as the reference truncate=True does', () => {
    for (const r of reference) {
      const ids = tok.encode(r.text);
      if (r.ids.length <= 77) {
        expect(ids).toEqual(r.ids);
      } else {
        expect(ids).toHaveLength(77);
        expect(ids.slice(0, 76)).toEqual(r.ids.slice(0, 76));
        expect(ids[76]).toBe(49407);
      }
    }
  });
});

describe('text clean-up before BPE', () => {
  it('unescapes HTML entities twice, collapses whitespace and trims', () => {
    expect(cleanText('  fish &amp;amp; chips\t\n &lt;3 ')).toBe('fish & chips <3');
  });

  it('differs from raw tokenizer.json on an entity prompt in the reference set', () => {
    const withEntity = reference.find((r) => /&\w+;/.test(r.text));
    expect(withEntity).toBeDefined();
    expect(tok.encodeFull(withEntity!.text)).toEqual(withEntity!.ids);
  });
});

describe('batches', () => {
  it('pads to the longest prompt in the batch, not to 77, with a mask of the real tokens', () => {
    const b = tok.encodeBatch(['a cat', 'a photo of a small red cat']);
    const short = tok.encode('a cat');
    const long = tok.encode('a photo of a small red cat');
    expect(b.length).toBe(long.length);
    expect(b.rows).toBe(2);
    expect(Array.from(b.ids.slice(0, b.length), Number)).toEqual([
      ...short,
      ...Array(long.length - short.length).fill(tok.padId),
    ]);
    expect(Array.from(b.mask.slice(0, b.length), Number)).toEqual([
      ...short.map(() => 1),
      ...Array(long.length - short.length).fill(0),
    ]);
    expect(Array.from(b.mask.slice(b.length), Number).every((m) => m === 1)).toBe(true);
  });

  it('caps a batch of long prompts at the context length', () => {
    const long = reference.find((r) => r.ids.length > 77)!.text;
    expect(tok.encodeBatch([long, 'x']).length).toBe(77);
  });
});
