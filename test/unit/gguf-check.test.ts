// Pre-flight checks of GGUF files (native-models/llava/gguf-check.ts) on the tiny LLaVA pair and on broken copies of
// it; llama.node segfaults on every one of these broken files, so each must be caught here first.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromF16Array } from '../../native-models/clip/float16.ts';
import {
  checkChatModel,
  checkPair,
  checkProjector,
  formatBytes,
  type GgufCheckCode,
  GgufCheckError,
} from '../../native-models/llava/gguf-check.ts';
import { readGgufHeader } from '../../native-models/llava/gguf-reader.ts';
import { kv, withKey, writeGguf } from '../fixtures/gguf-writer.ts';
import {
  type TinyLlava,
  tinyProjectorSpec,
  VICUNA_TEMPLATE,
  writeTinyLlava,
  writeTruncated,
} from '../fixtures/tiny-llava.ts';

let dir: string;
let tiny: TinyLlava;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'glance-gguf-check-'));
  tiny = await writeTinyLlava(path.join(dir, 'tiny'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>, code: GgufCheckCode): Promise<GgufCheckError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GgufCheckError);
  expect((err as GgufCheckError).code).toBe(code);
  return err as GgufCheckError;
}

describe('the tiny LLaVA fixture', () => {
  it('is a few MB: a LLaMA text model with the LLaMA-2 vocabulary and a LLaVA-1.5 mlp projector', async () => {
    expect((await stat(tiny.model)).size).toBeLessThan(8_000_000);
    expect((await stat(tiny.mmproj)).size).toBeLessThan(200_000);
    expect(tiny.vocabSize).toBe(32000);
    expect(tiny.imageTokens).toBe(16);
    const model = await readGgufFileInfo(tiny.model, { logWarnings: false });
    const tokens = model.metadata.tokenizer?.ggml?.tokens as string[] | undefined;
    expect(tokens?.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    const embd = model.tensorInfo?.find((t) => t.name === 'token_embd.weight');
    expect(embd?.dimensions.map(Number)).toEqual([32, 32000]); // ne order: numpy [32000, 32] reversed
    for (const t of model.tensorInfo ?? []) expect(Number(t.offset) % 32).toBe(0);
  });

  it('is the same file for the same seed and another for another seed', async () => {
    const again = await writeTinyLlava(path.join(dir, 'again'));
    const other = await writeTinyLlava(path.join(dir, 'other'), { seed: 2 });
    expect((await readFile(again.model)).equals(await readFile(tiny.model))).toBe(true);
    expect((await readFile(other.model)).equals(await readFile(tiny.model))).toBe(false);
  });

  it('writes a chat template and a context length when asked', async () => {
    const t = await writeTinyLlava(path.join(dir, 'template'), { chatTemplate: VICUNA_TEMPLATE, contextLength: 512 });
    const facts = await checkChatModel(t.model);
    expect(facts.chatTemplate).toBe(VICUNA_TEMPLATE);
    expect(facts.contextLength).toBe(512);
  });
});

describe('the GGUF writer', () => {
  it('writes values of each type and F16 tensors that read back', async () => {
    const file = path.join(dir, 'kinds.gguf');
    const data = Float32Array.from([0, 1, -2, 0.5, 65504, 1e-3]);
    await writeGguf(file, {
      kv: [
        kv.string('general.architecture', 'test'),
        kv.u32('test.u32', 7),
        kv.i32('test.i32', -7),
        kv.f32('test.f32', 0.25),
        kv.bool('test.bool', true),
        kv.u64('test.u64', 2n ** 40n),
        kv.strings('test.strings', ['a', 'é', '']),
        kv.f32s('test.f32s', [1.5, -2]),
      ],
      tensors: [
        { name: 'a', shape: [2, 3], type: 'f16', data },
        { name: 'b', shape: [5], type: 'f32', data: new Float32Array(5).fill(3) },
      ],
    });
    const info = await readGgufFileInfo(file, { logWarnings: false });
    const t = info.metadata as unknown as { test: Record<string, unknown> };
    expect(t.test).toMatchObject({ u32: 7, i32: -7, f32: 0.25, bool: true, strings: ['a', 'é', ''], f32s: [1.5, -2] });
    expect(Number(t.test.u64)).toBe(2 ** 40);
    const [a, b] = info.tensorInfo ?? [];
    expect(a?.dimensions.map(Number)).toEqual([3, 2]);
    expect(a?.ggmlType).toBe(1);
    expect(Number(b?.offset)).toBe(32); // 12 bytes of F16, padded to 32
    const bytes = await readFile(file);
    const start = Number(a?.fileOffset);
    const halves = new Uint16Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + 12));
    const back = fromF16Array(halves);
    for (const [i, v] of data.entries()) expect(back[i]).toBeCloseTo(v, 3);
  });

  it('refuses a tensor whose data does not fill its shape', async () => {
    await expect(
      writeGguf(path.join(dir, 'bad.gguf'), {
        kv: [],
        tensors: [{ name: 'x', shape: [2, 2], type: 'f32', data: new Float32Array(3) }],
      }),
    ).rejects.toThrow(/needs 4 values, got 3/);
  });
});

describe('the bounded GGUF reader', () => {
  it('reads what node-llama-cpp reads from the tiny pair, and skips the vocabulary', async () => {
    for (const file of [tiny.model, tiny.mmproj]) {
      const ours = await readGgufHeader(file);
      const theirs = await readGgufFileInfo(file, { logWarnings: false });
      expect(ours.version).toBe(theirs.version);
      expect(ours.tensors.map((t) => [t.name, t.dims, t.ggmlType, t.offset])).toEqual(
        (theirs.tensorInfo ?? []).map((t) => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.offset)]),
      );
      expect(ours.dataEnd).toBe((await stat(file)).size);
    }
    const model = await readGgufHeader(tiny.model);
    expect(model.kv.get('general.name')?.value).toBe('tiny-llava');
    expect(model.kv.get('llama.embedding_length')?.value).toBe(32);
    // 32,000 tokens: checked and skipped, only the length kept
    expect(model.kv.get('tokenizer.ggml.tokens')).toMatchObject({ length: 32000, value: undefined });
    const mmproj = await readGgufHeader(tiny.mmproj);
    expect(mmproj.kv.get('clip.vision.image_mean')?.value).toHaveLength(3);
  });
});

describe('checkPair', () => {
  it('passes the tiny pair with its facts', async () => {
    const { model, projector } = await checkPair(tiny.model, tiny.mmproj);
    expect(model).toMatchObject({
      architecture: 'llama',
      nEmbd: 32,
      contextLength: 2048,
      chatTemplate: null,
      name: 'tiny-llava',
      nLayers: 2,
      nHead: 4,
      nHeadKv: 2,
      headDimK: 8,
      headDimV: 8,
      nVocab: 32000,
      kvBytesPerToken: 2 * 2 * 2 * (8 + 8), // 2 bytes x 2 layers x 2 kv heads x (k + v)
      fileType: 1,
      splitCount: 1,
    });
    expect(model.fileSize).toBe((await stat(tiny.model)).size);
    expect(model.tensorBytes).toBeGreaterThan(4_000_000);
    expect(model.tensorBytes).toBeLessThan(model.fileSize);
    expect(projector).toMatchObject({
      projectorType: 'mlp',
      outputSize: 32,
      outputSizeFrom: 'tensor',
      imageSize: 32,
      patchSize: 8,
      imageTokens: 16,
      name: 'tiny-llava-mmproj',
    });
    expect(projector.fileSize).toBe((await stat(tiny.mmproj)).size);
    expect(projector.imageMean?.[0]).toBeCloseTo(0.4815, 4);
    expect(projector.imageStd?.[2]).toBeCloseTo(0.2758, 4);
  });

  it('takes the output size from mm.2, not from clip.vision.projection_dim (CLIP width in real LLaVA files)', async () => {
    const info = await readGgufFileInfo(tiny.mmproj, { logWarnings: false });
    expect(
      (info.metadata as unknown as { clip: { vision: { projection_dim: number } } }).clip.vision.projection_dim,
    ).not.toBe(32);
    expect((await checkProjector(tiny.mmproj)).outputSize).toBe(32);
  });

  it('names a projector made for another model', async () => {
    const other = await writeTinyLlava(path.join(dir, 'wide'), { mmprojOutput: 48 });
    const err = await rejection(checkPair(tiny.model, other.mmproj), 'projector-mismatch');
    expect(err.message).toMatch(/belongs to another model: it outputs 48-wide embeddings, .* expects 32/);
    expect(err.details).toMatchObject({ expected: 32, found: 48 });
    expect(err.file).toBe(other.mmproj);
    // On its own it is a fine projector.
    expect((await checkProjector(other.mmproj)).outputSize).toBe(48);
  });

  it('says when the two files are swapped', async () => {
    const err = await rejection(checkPair(tiny.mmproj, tiny.model), 'not-a-text-model');
    expect(err.message).toMatch(/swapped/);
  });

  it('tells a missing model from a missing projector', async () => {
    await rejection(checkPair(path.join(dir, 'none.gguf'), tiny.mmproj), 'file-missing');
    const err = await rejection(checkPair(tiny.model, path.join(dir, 'none-mmproj.gguf')), 'mmproj-missing');
    expect(err.message).toMatch(/does not exist/);
  });
});

describe('checkChatModel', () => {
  it('catches a truncated model with both sizes', async () => {
    const cut = await writeTruncated(tiny.model, path.join(dir, 'cut', 'model.gguf'), 0.5);
    const err = await rejection(checkChatModel(cut), 'truncated');
    const size = (await stat(tiny.model)).size;
    expect(err.message).toContain(`expected ${formatBytes(size)}, found ${formatBytes(Math.floor(size / 2))}`);
    expect(err.message).toMatch(/download it again/);
    expect(err.details).toEqual({ expectedBytes: size, foundBytes: Math.floor(size / 2) });
  });

  it('catches a model cut inside its header', async () => {
    const cut = await writeTruncated(tiny.model, path.join(dir, 'cut', 'header.gguf'), 0.05);
    const err = await rejection(checkChatModel(cut), 'truncated');
    expect(err.message).toMatch(/ends inside its header/);
  });

  it('catches a model missing only its last bytes', async () => {
    const bytes = await readFile(tiny.model);
    const file = path.join(dir, 'cut', 'tail.gguf');
    await writeFile(file, bytes.subarray(0, bytes.length - 40));
    const err = await rejection(checkChatModel(file), 'truncated');
    expect(err.message).toMatch(/expected [\d,]+ bytes, found [\d,]+ bytes/);
  });

  it('catches a zero-byte file', async () => {
    const file = path.join(dir, 'zero.gguf');
    await writeFile(file, '');
    const err = await rejection(checkChatModel(file), 'truncated');
    expect(err.message).toMatch(/empty \(0 bytes\)/);
    await rejection(checkProjector(file), 'truncated');
  });

  it('catches a file that is not a GGUF', async () => {
    const file = path.join(dir, 'model.gguf.txt');
    await writeFile(file, 'this is a text file, not a model\n');
    const err = await rejection(checkChatModel(file), 'not-gguf');
    expect(err.message).toMatch(/not a GGUF file/);
    await rejection(checkProjector(file), 'not-gguf');
    const html = path.join(dir, 'download.gguf');
    await writeFile(html, '<!doctype html><title>404</title>');
    await rejection(checkChatModel(html), 'not-gguf');
  });

  it('catches a folder given for a file', async () => {
    const folder = path.join(dir, 'folder.gguf');
    await mkdir(folder, { recursive: true });
    await rejection(checkChatModel(folder), 'not-gguf');
  });

  it('catches a file that stops inside the magic', async () => {
    const file = path.join(dir, 'gg.gguf');
    await writeFile(file, 'GG');
    await rejection(checkChatModel(file), 'truncated');
  });

  it('catches a projector given as the model', async () => {
    const err = await rejection(checkChatModel(tiny.mmproj), 'not-a-text-model');
    expect(err.message).toMatch(/vision projector \(mmproj\), not the chat model/);
  });

  it('catches a vocabulary-only GGUF', async () => {
    const file = path.join(dir, 'vocab.gguf');
    await writeGguf(file, { kv: [kv.string('general.architecture', 'llama')], tensors: [] });
    const err = await rejection(checkChatModel(file), 'not-a-text-model');
    expect(err.message).toMatch(/holds no weights/);
  });

  it('catches an embedding encoder', async () => {
    const file = path.join(dir, 'bert.gguf');
    await writeGguf(file, {
      kv: [kv.string('general.architecture', 'bert'), kv.u32('bert.embedding_length', 8)],
      tensors: [{ name: 'token_embd.weight', shape: [4, 8], type: 'f32', data: new Float32Array(32) }],
    });
    await rejection(checkChatModel(file), 'not-a-text-model');
  });

  it('reports a missing file', async () => {
    const err = await rejection(checkChatModel(path.join(dir, 'missing', 'model.gguf')), 'file-missing');
    expect(err.message).toMatch(/does not exist/);
  });
});

describe('checkProjector', () => {
  it('catches a text model given as the projector', async () => {
    const err = await rejection(checkProjector(tiny.model), 'not-a-projector');
    expect(err.message).toMatch(/text model \(llama\), not a vision projector/);
  });

  it('catches a truncated projector', async () => {
    const cut = await writeTruncated(tiny.mmproj, path.join(dir, 'cut', 'mmproj.gguf'), 0.5);
    const err = await rejection(checkProjector(cut), 'truncated');
    expect(err.message).toMatch(/projector \(mmproj\) file is truncated/);
  });

  it('reports a missing projector as mmproj-missing', async () => {
    await rejection(checkProjector(path.join(dir, 'nothing.gguf')), 'mmproj-missing');
  });

  it('catches an audio-only projector and one without its output tensor', async () => {
    const audio = path.join(dir, 'audio.gguf');
    await writeGguf(audio, {
      kv: [kv.string('general.architecture', 'clip'), kv.bool('clip.has_audio_encoder', true)],
      tensors: [{ name: 'mm.a.mlp.2.weight', shape: [4, 4], type: 'f32', data: new Float32Array(16) }],
    });
    expect((await rejection(checkProjector(audio), 'not-a-projector')).message).toMatch(/audio projector/);

    const bytes = await readFile(tiny.mmproj);
    const info = await readGgufFileInfo(tiny.mmproj, { logWarnings: false });
    expect(info.tensorInfo?.some((t) => t.name === 'mm.2.weight')).toBe(true);
    // Same file with the tensor renamed (same length, so every offset stays valid).
    const renamed = path.join(dir, 'no-mm2.gguf');
    await writeFile(renamed, Buffer.from(bytes.toString('latin1').replace('mm.2.weight', 'mm.9.weight'), 'latin1'));
    expect((await rejection(checkProjector(renamed), 'not-a-projector')).message).toMatch(
      /lacks mm\.2\.weight: it is incomplete or not a LLaVA-1\.5 projector/,
    );
  });

  it('refuses a projector type llama.cpp does not know, by name', async () => {
    const file = path.join(dir, 'future.gguf');
    await writeGguf(file, withKey(tinyProjectorSpec('mlp'), kv.string('clip.projector_type', 'some_future_type')));
    const err = await rejection(checkProjector(file), 'not-a-projector');
    expect(err.message).toMatch(/projector type "some_future_type" is not one this version of llama\.cpp supports/);
    expect(err.details.projectorType).toBe('some_future_type');
  });

  it('falls back to clip.vision.projection_dim for a known type whose output width it does not read', async () => {
    const file = path.join(dir, 'qwen3.gguf');
    const spec = withKey(tinyProjectorSpec('qwen2.5vl_merger'), kv.string('clip.projector_type', 'qwen3vl_merger'));
    await writeGguf(file, withKey(spec, kv.u32('clip.vision.projection_dim', 2048)));
    const facts = await checkProjector(file);
    expect(facts).toMatchObject({ projectorType: 'qwen3vl_merger', outputSize: 2048, outputSizeFrom: 'key' });
    expect(facts.imageTokens).toBeNull();
    // A key-only output size is not trusted enough to refuse a pair.
    await expect(checkPair(tiny.model, file)).resolves.toBeDefined();
  });
});

describe('formatBytes', () => {
  it('writes sizes as people read them', () => {
    expect(formatBytes(4_100_000_000)).toBe('4.1 GB');
    expect(formatBytes(1_234_567)).toBe('1.23 MB');
    expect(formatBytes(60_928)).toBe('60.9 kB');
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(17)).toBe('17 bytes');
  });
});
