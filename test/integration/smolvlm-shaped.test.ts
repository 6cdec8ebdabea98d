// The SmolVLM-shaped pair that `npm run bench:caption` measures, in a small configuration of the same structure
// (idefics3 projector, SigLIP tensors, byte-level BPE vocabulary with SmolVLM's special tokens, SmolLM2's layout):
// the project's pre-flight checks accept it, the real llama.cpp binding loads it and answers about a picture, cut
// into tiles as SmolVLM's are. So the structure of the ~900 MB bench model is tested here without writing it.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPair } from '../../native-models/llava/gguf-check.ts';
import { readGgufHeader } from '../../native-models/llava/gguf-reader.ts';
import { loadLlamaNodeChat } from '../../native-models/llava/llama-node.ts';
import type { VisionChat } from '../../native-models/llava/vision-chat.ts';
import * as img from '../fixtures/images.ts';
import { SMOLVLM_500M, SMOLVLM_TINY, type SmolvlmShaped, writeSmolvlmShaped } from '../fixtures/smolvlm-shaped.ts';

let tmp: string;
let pair: SmolvlmShaped;
let chat: VisionChat | null = null;
let photo: string;
let wide: string;

/** Context positions of one image cut into cols x rows tiles (see the last test). */
const imagePositions = (cols: number, rows: number, perTile: number) =>
  (cols * rows + 1) * perTile + cols * rows * 2 + (rows - 1) + 4;

const sha = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-smolvlm-shaped-'));
  pair = await writeSmolvlmShaped(path.join(tmp, 'pair'), { shape: SMOLVLM_TINY, seed: 3 });
  // 3:2 and 4:1: scaled to a longest edge of 128 and rounded up to tiles of 64, 2 x 2 and 2 x 1 tiles
  photo = await img.writeSplit(path.join(tmp, 'photo.jpg'), [200, 30, 30], [20, 120, 220], 300, 200);
  wide = await img.writeSolid(path.join(tmp, 'wide.png'), [10, 200, 10], 400, 100);
});

afterAll(async () => {
  await chat?.release();
  await rm(tmp, { recursive: true, force: true });
});

describe('the SmolVLM-shaped pair', () => {
  it('is what the pre-flight checks take for a SmolVLM pair, with the shapes asked for', async () => {
    const { model, projector } = await checkPair(pair.model, pair.mmproj);
    expect(model.architecture).toBe('llama');
    expect(model.nEmbd).toBe(SMOLVLM_TINY.nEmbd);
    expect(model.nLayers).toBe(SMOLVLM_TINY.nLayer);
    expect(model.nHeadKv).toBe(SMOLVLM_TINY.nHeadKv);
    expect(model.nVocab).toBe(SMOLVLM_TINY.nVocab);
    expect(model.chatTemplate).toContain('<end_of_utterance>');
    expect(projector.projectorType).toBe('idefics3');
    expect(projector.outputSize).toBe(SMOLVLM_TINY.nEmbd);
    expect(projector.preprocImageSize).toBe(SMOLVLM_TINY.preprocImageSize);
    expect(pair.tokensPerTile).toBe(4); // (64 / 16 / 2)^2
  });

  it('carries the tokens libmtmd looks up for idefics3, and the projector tensors llama.cpp reads', async () => {
    const h = await readGgufHeader(pair.model);
    const tokens = h.kv.get('tokenizer.ggml.tokens')?.value as string[];
    for (const t of ['ĊĊ', 'Ċ', '<fake_token_around_image>', '<global-img>', '<row_2_col_2>', '<end_of_utterance>']) {
      expect(tokens).toContain(t);
    }
    expect(tokens[pair.eosId]).toBe('<end_of_utterance>');
    expect(h.kv.get('tokenizer.ggml.model')?.value).toBe('gpt2');
    // SmolVLM's converted text model has an output layer of its own (not tied to the embeddings)
    const output = h.tensors.find((t) => t.name === 'output.weight');
    expect(output?.dims.map(Number)).toEqual([SMOLVLM_TINY.nEmbd, SMOLVLM_TINY.nVocab]);
    const p = await readGgufHeader(pair.mmproj);
    const names = new Set(p.tensors.map((t) => t.name));
    for (const n of ['v.patch_embd.weight', 'v.position_embd.weight', 'v.post_ln.weight', 'mm.model.fc.weight']) {
      expect(names).toContain(n);
    }
    const fc = p.tensors.find((t) => t.name === 'mm.model.fc.weight')!;
    // ggml order: [E * scale^2, n_embd]
    expect(fc.dims.map(Number)).toEqual([SMOLVLM_TINY.vEmbd * SMOLVLM_TINY.scaleFactor ** 2, SMOLVLM_TINY.nEmbd]);
    // the full-size defaults are SmolVLM-500M's: 64 positions per 512-px tile, the projector mapping 768*16 -> 960
    expect(((SMOLVLM_500M.imageSize / SMOLVLM_500M.patchSize / SMOLVLM_500M.scaleFactor) ** 2) as number).toBe(64);
    expect(SMOLVLM_500M.vEmbd * SMOLVLM_500M.scaleFactor ** 2).toBe(12_288);
  });

  it('is written the same from the same seed, and differently from another', async () => {
    const again = await writeSmolvlmShaped(path.join(tmp, 'again'), { shape: SMOLVLM_TINY, seed: 3 });
    const other = await writeSmolvlmShaped(path.join(tmp, 'other'), { shape: SMOLVLM_TINY, seed: 4 });
    expect(await sha(again.model)).toBe(await sha(pair.model));
    expect(await sha(again.mmproj)).toBe(await sha(pair.mmproj));
    expect(await sha(other.model)).not.toBe(await sha(pair.model));
  });

  it('loads in llama.cpp and answers about a picture, cut into tiles and a global view', async () => {
    chat = await loadLlamaNodeChat({ model: pair.model, mmproj: pair.mmproj, contextSize: 1024 });
    expect(chat.info.chatTemplate).toBe("the model's own");
    expect(chat.info.sampling?.family).toBe('smolvlm');
    const prompt = 'Describe this photo in one sentence.';
    const text = await chat.complete([{ role: 'user', text: prompt }], { maxTokens: 1 });
    const textOnly = text.stats.promptTokens + text.stats.cachedTokens;

    const r = await chat.complete([{ role: 'user', text: prompt, images: [photo] }], { maxTokens: 16, seed: 1 });
    // the model never ends by itself and writes printable text only (the fixture's trick)
    expect(r.stats.generatedTokens).toBe(16);
    expect(r.text).toMatch(/^[\x20-\x7e]+$/);
    const withImage = r.stats.promptTokens + r.stats.cachedTokens;
    // 2 x 2 tiles and the global view, 4 positions each, and libmtmd's idefics3 markers: <fake_token_around_image>
    // <row_R_col_C> before each tile, a newline between rows (none after the last), "\n\n" <fake_token_around_image>
    // <global-img> before the global view and <fake_token_around_image> after it
    expect(withImage - textOnly).toBe(imagePositions(2, 2, pair.tokensPerTile));

    // a 4:1 picture: 2 x 1 tiles and the global view
    const w = await chat.complete([{ role: 'user', text: prompt, images: [wide] }], { maxTokens: 4, seed: 1 });
    expect(w.stats.promptTokens + w.stats.cachedTokens - textOnly).toBe(imagePositions(2, 1, pair.tokensPerTile));
  });
});
