// A text model whose header claims billions of layers: the pre-flight check refuses it at once (llama.cpp would
// look for a block of tensors per layer), instead of walking every claimed layer to size the KV cache.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkChatModel, checkProjector, GgufCheckError } from '../../native-models/llava/gguf-check.ts';
import { type GgufKv, kv, withKey, writeGguf } from '../fixtures/gguf-writer.ts';
import { tinyProjectorSpec } from '../fixtures/tiny-llava.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'glance-gguf-layers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function textModel(name: string, blockCount: GgufKv, headsKv?: GgufKv): Promise<string> {
  const file = path.join(dir, name);
  await writeGguf(file, {
    kv: [
      kv.string('general.architecture', 'llama'),
      kv.u32('llama.context_length', 512),
      kv.u32('llama.embedding_length', 32),
      blockCount,
      kv.u32('llama.attention.head_count', 4),
      ...(headsKv ? [headsKv] : []),
    ],
    tensors: [
      { name: 'token_embd.weight', shape: [16, 32], type: 'f32', data: new Float32Array(512) },
      { name: 'blk.0.attn_q.weight', shape: [32, 32], type: 'f32', data: new Float32Array(1024) },
    ],
  });
  return file;
}

it('refuses a block count of billions at once', async () => {
  const file = await textModel('layers.gguf', kv.u32('llama.block_count', 0xffff_ffff));
  const started = performance.now();
  const err = await checkChatModel(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(performance.now() - started).toBeLessThan(1000);
  expect(err).toBeInstanceOf(GgufCheckError);
  expect((err as GgufCheckError).code).toBe('not-a-text-model');
  expect((err as GgufCheckError).message).toContain('llama.block_count');
});

it('still reads a real block count, with per-layer KV heads', async () => {
  const one = await checkChatModel(await textModel('one.gguf', kv.u32('llama.block_count', 1)));
  expect(one.nLayers).toBe(1);
  expect(one.kvBytesPerToken).toBe(2 * 4 * (8 + 8));
  const arr = await checkChatModel(
    await textModel('arr.gguf', kv.u32('llama.block_count', 2), kv.i32s('llama.attention.head_count_kv', [2, 1])),
  );
  expect(arr.kvBytesPerToken).toBe(2 * (2 + 1) * (8 + 8));
});

it('checks a projector without per-block tensors (Gemma 3n) without walking its claimed blocks', async () => {
  const spec = withKey(
    withKey(tinyProjectorSpec('gemma3'), kv.string('clip.projector_type', 'gemma3nv')),
    kv.u32('clip.vision.block_count', 0xffff_ffff),
  );
  const file = path.join(dir, 'gemma3nv.gguf');
  await writeGguf(file, spec);
  const started = performance.now();
  await checkProjector(file).catch(() => {});
  expect(performance.now() - started).toBeLessThan(1000);
});
