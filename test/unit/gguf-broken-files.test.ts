// The pre-flight checks against GGUF files broken on purpose, one class at a time: each of these crashed the engine
// or reached llama.cpp as a bare "Failed to initialize multimodal context" (issue 10). The files are made by the
// project's GGUF writer from complete tiny projectors of each catalog type, with one key or tensor taken away or one
// header field that lies.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkChatModel,
  checkProjector,
  type GgufCheckCode,
  GgufCheckError,
} from '../../native-models/llava/gguf-check.ts';
import { GgufFormatError, readGgufHeader } from '../../native-models/llava/gguf-reader.ts';
import {
  type GgufKv,
  type GgufSpec,
  kv,
  withKey,
  withoutKey,
  withoutTensor,
  writeGguf,
} from '../fixtures/gguf-writer.ts';
import { type TinyProjectorType, tinyProjectorSpec } from '../fixtures/tiny-llava.ts';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'glance-gguf-broken-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(spec: GgufSpec): Promise<string> {
  const file = path.join(dir, `f${n++}.gguf`);
  await writeGguf(file, spec);
  return file;
}

/** A string or array key whose written length is not its real one. */
const lying = (e: GgufKv, declaredLength: bigint): GgufKv => ({ ...e, declaredLength }) as GgufKv;

async function refusal(p: Promise<unknown>, code: GgufCheckCode): Promise<GgufCheckError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GgufCheckError);
  expect((err as GgufCheckError).code).toBe(code);
  return err as GgufCheckError;
}

/** A small text model: enough for checkChatModel, not for llama.cpp to chat. */
function textModel(): GgufSpec {
  return {
    kv: [
      kv.string('general.architecture', 'llama'),
      kv.u32('llama.context_length', 512),
      kv.u32('llama.embedding_length', 32),
      kv.u32('llama.block_count', 1),
      kv.u32('llama.attention.head_count', 4),
    ],
    tensors: [{ name: 'token_embd.weight', shape: [16, 32], type: 'f32', data: new Float32Array(512) }],
  };
}

const LABEL: Record<TinyProjectorType, string> = {
  mlp: 'LLaVA-1\\.5',
  idefics3: 'SmolVLM/Idefics3',
  'qwen2.5vl_merger': 'Qwen2\\.5-VL',
  gemma3: 'Gemma 3',
};

// What llama.cpp reads from each type and cannot do without, written out here rather than taken from the table the
// checker uses, so that a table entry lost by mistake fails a test. Blocks 0 and 1 (the tiny projectors have two).
const block = (extra: string[]) =>
  [0, 1].flatMap((b) =>
    [
      'attn_q.weight',
      'attn_k.weight',
      'attn_v.weight',
      'attn_out.weight',
      'ffn_up.weight',
      'ffn_down.weight',
      ...extra,
    ].map((t) => `v.blk.${b}.${t}`),
  );
const REQUIRED_TENSORS: Record<TinyProjectorType, string[]> = {
  mlp: [
    'mm.0.weight',
    'mm.0.bias',
    'mm.2.weight',
    'mm.2.bias',
    'v.patch_embd.weight',
    'v.position_embd.weight',
    ...block([]),
  ],
  idefics3: ['v.patch_embd.weight', 'v.position_embd.weight', 'mm.model.fc.weight', ...block([])],
  'qwen2.5vl_merger': [
    'v.patch_embd.weight',
    'v.patch_embd.weight.1',
    'mm.0.weight',
    'mm.0.bias',
    'mm.2.weight',
    'mm.2.bias',
    ...block(['attn_q.bias', 'attn_k.bias', 'attn_v.bias']),
  ],
  gemma3: [
    'v.patch_embd.weight',
    'v.position_embd.weight',
    'mm.input_projection.weight',
    'mm.soft_emb_norm.weight',
    ...block([]),
  ],
};

const COMMON_KEYS = [
  'clip.vision.embedding_length',
  'clip.vision.attention.head_count',
  'clip.vision.feed_forward_length',
  'clip.vision.block_count',
  'clip.vision.projection_dim',
  'clip.vision.attention.layer_norm_epsilon',
  'clip.vision.image_size',
  'clip.vision.patch_size',
  'clip.vision.image_mean',
  'clip.vision.image_std',
];
const REQUIRED_KEYS: Record<TinyProjectorType, string[]> = {
  mlp: COMMON_KEYS,
  idefics3: [...COMMON_KEYS, 'clip.vision.projector.scale_factor'],
  'qwen2.5vl_merger': [...COMMON_KEYS, 'clip.vision.n_wa_pattern'],
  gemma3: COMMON_KEYS,
};

const TYPES = Object.keys(REQUIRED_TENSORS) as TinyProjectorType[];

describe('complete projectors of each catalog type', () => {
  it.each(TYPES)('%s passes, with the output width llama.cpp reads', async (type) => {
    const facts = await checkProjector(await write(tinyProjectorSpec(type, { nEmbd: 40 })));
    expect(facts).toMatchObject({ projectorType: type, outputSize: 40, outputSizeFrom: 'tensor' });
  });

  it('an mlp projector with an mm.3 tensor is checked as the mlp_norm llama.cpp makes of it', async () => {
    const spec = tinyProjectorSpec('mlp');
    const mm3: GgufSpec = {
      ...spec,
      tensors: [...spec.tensors, { name: 'mm.3.weight', shape: [4, 4], type: 'f32', data: new Float32Array(16) }],
    };
    const err = await refusal(checkProjector(await write(mm3)), 'not-a-projector');
    expect(err.message).toMatch(/lacks mm\.1\.weight: it is incomplete or not a LLaVA \(Yi-VL mlp_norm\) projector/);
  });
});

describe('a projector missing a tensor llama.cpp needs (a segfault or an init failure before)', () => {
  for (const type of TYPES) {
    it.each(REQUIRED_TENSORS[type])(`${type} without %s`, async (name) => {
      const err = await refusal(
        checkProjector(await write(withoutTensor(tinyProjectorSpec(type), name))),
        'not-a-projector',
      );
      expect(err.message).toMatch(
        new RegExp(
          `: the projector lacks ${name.replaceAll('.', '\\.')}: it is incomplete or not a ${LABEL[type]} projector; download it again$`,
        ),
      );
      expect(err.details).toMatchObject({ missing: name, projectorType: type });
    });
  }
});

describe('a projector missing a key llama.cpp reads (an init failure or an abort before)', () => {
  for (const type of TYPES) {
    it.each(REQUIRED_KEYS[type])(`${type} without %s`, async (key) => {
      const err = await refusal(
        checkProjector(await write(withoutKey(tinyProjectorSpec(type), key))),
        'not-a-projector',
      );
      expect(err.message).toMatch(
        new RegExp(
          `: the projector lacks ${key.replaceAll('.', '\\.')}: it is incomplete or not a ${LABEL[type]} projector`,
        ),
      );
      expect(err.details.missing).toBe(key);
    });
  }

  it('without clip.projector_type, the one key that says which projector it is', async () => {
    const err = await refusal(
      checkProjector(await write(withoutKey(tinyProjectorSpec('mlp'), 'clip.projector_type'))),
      'not-a-projector',
    );
    expect(err.message).toMatch(/does not say what kind it is \(no clip\.projector_type\)/);
  });

  it('takes clip.vision.projector_type where clip.projector_type is absent, as llama.cpp does', async () => {
    const spec = withoutKey(tinyProjectorSpec('gemma3'), 'clip.projector_type');
    const facts = await checkProjector(await write(withKey(spec, kv.string('clip.vision.projector_type', 'gemma3'))));
    expect(facts.projectorType).toBe('gemma3');
  });

  it('with a key of another type than llama.cpp reads (it asserts the type: an abort)', async () => {
    const asString = withKey(tinyProjectorSpec('mlp'), kv.string('clip.vision.image_size', '336'));
    const err = await refusal(checkProjector(await write(asString)), 'not-a-projector');
    expect(err.message).toMatch(/clip\.vision\.image_size is a string where llama\.cpp reads a u32/);
    const shortMean = withKey(tinyProjectorSpec('mlp'), kv.f32s('clip.vision.image_mean', [0.5, 0.5]));
    const err2 = await refusal(checkProjector(await write(shortMean)), 'not-a-projector');
    expect(err2.message).toMatch(/image_mean is a array of 2 f32 where llama\.cpp reads a array of 3 f32/);
  });

  it('with no attention heads (a division by zero in llama.cpp)', async () => {
    const spec = withKey(tinyProjectorSpec('mlp'), kv.u32('clip.vision.attention.head_count', 0));
    const err = await refusal(checkProjector(await write(spec)), 'not-a-projector');
    expect(err.message).toMatch(/head_count is 0, which llama\.cpp cannot use/);
  });

  it('an audio projector type is refused as not vision', async () => {
    const spec = withKey(tinyProjectorSpec('mlp'), kv.string('clip.projector_type', 'ultravox'));
    const err = await refusal(checkProjector(await write(spec)), 'not-a-projector');
    expect(err.message).toMatch(/audio projector \(ultravox\), not a vision one/);
  });
});

describe('GGUF versions', () => {
  it.each([
    [99, /GGUF version 99, and llama\.cpp reads versions 2 and 3 only/],
    [1, /GGUF version 1, which llama\.cpp no longer reads \(it reads versions 2 and 3\)/],
    [0, /GGUF version 0, and llama\.cpp reads versions 2 and 3 only/],
    [3 << 24, /version field reads 50331648: a big-endian file/],
  ])('version %i is refused by name, for a model and for a projector', async (version, message) => {
    const model = await write({ ...textModel(), lie: { version } });
    const err = await refusal(checkChatModel(model), 'not-gguf');
    expect(err.message).toMatch(message);
    expect(err.details.version).toBe(version);
    const projector = await write({ ...tinyProjectorSpec('mlp'), lie: { version } });
    expect((await refusal(checkProjector(projector), 'not-gguf')).message).toMatch(message);
  });

  it('version 2, which llama.cpp reads, passes', async () => {
    await expect(checkChatModel(await write({ ...textModel(), lie: { version: 2 } }))).resolves.toMatchObject({
      nEmbd: 32,
    });
  });
});

describe('absurd counts and lengths are refused from the header, before anything is read for them', () => {
  // Each file is a few hundred bytes: a reader that allocated or looped per claimed entry would not return.
  it.each([
    ['tensors', { tensorCount: 2n ** 24n }, /claims 16,777,216 tensors, more than the \d[\d,]* bytes left/],
    ['tensors', { tensorCount: 2n ** 40n }, /claims 1,099,511,627,776 tensors/],
    ['tensors', { tensorCount: 2n ** 64n - 1n }, /claims 18,446,744,073,709,551,615 tensors/],
    ['key-values', { kvCount: 2n ** 40n }, /claims 1,099,511,627,776 key-values/],
  ])('%s: %o', async (_what, lie, message) => {
    const err = await refusal(checkChatModel(await write({ ...textModel(), lie })), 'not-gguf');
    expect(err.message).toMatch(/is damaged \(the header claims/);
    expect(err.message).toMatch(message);
  });

  it('an array whose length is beyond the file', async () => {
    const tokens = lying(kv.strings('tokenizer.ggml.tokens', ['a', 'b']), 2n ** 40n);
    const err = await refusal(checkChatModel(await write(withKey(textModel(), tokens))), 'not-gguf');
    expect(err.message).toMatch(/claims 1,099,511,627,776 elements in tokenizer\.ggml\.tokens/);
    const scores = lying(kv.f32s('tokenizer.ggml.scores', [1, 2]), 2n ** 62n);
    const err2 = await refusal(checkChatModel(await write(withKey(textModel(), scores))), 'not-gguf');
    expect(err2.message).toMatch(/elements in tokenizer\.ggml\.scores/);
  });

  it('a string whose length is beyond the file', async () => {
    const name = lying(kv.string('general.name', 'tiny'), 2n ** 60n);
    const err = await refusal(checkChatModel(await write(withKey(textModel(), name))), 'not-gguf');
    expect(err.message).toMatch(/claims 1,152,921,504,606,846,976 bytes in the value of general\.name/);
  });

  it('a plausible count that overruns the file is a file cut short', async () => {
    const err = await refusal(checkChatModel(await write({ ...textModel(), lie: { tensorCount: 1000 } })), 'truncated');
    expect(err.message).toMatch(/is truncated \(it ends inside its header, after [\d.]+ kB\)/);
    expect((err.cause as Error).message).toMatch(/the header claims 1,000 tensors/);
  });

  it('the reader says what it refused, without reading on', async () => {
    const file = await write({ ...tinyProjectorSpec('mlp'), lie: { tensorCount: 2n ** 40n } });
    const err = await readGgufHeader(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GgufFormatError);
    expect((err as GgufFormatError).problem).toBe('absurd-size');
  });
});

describe('what llama.cpp refuses in a header (each a crash of the engine before)', () => {
  const f = (name: string, shape: number[]) => ({
    name,
    shape,
    type: 'f32' as const,
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
  });
  it.each([
    ['a name of 64 bytes', [f('x'.repeat(64), [2])], /name is 64 bytes long \(at most 63\)/],
    ['five dimensions', [f('a', [1, 1, 1, 1, 2])], /tensor a has 5 dimensions \(at most 4\)/],
  ])('%s', async (_what, tensors, message) => {
    const err = await refusal(checkChatModel(await write({ ...textModel(), tensors })), 'not-gguf');
    expect(err.message).toMatch(message);
  });

  it('a duplicate tensor', async () => {
    const file = await write({ ...textModel(), tensors: [f('dup_one', [2]), f('dup_two', [2])] });
    await writeFile(
      file,
      Buffer.from((await readFile(file)).toString('latin1').replace('dup_two', 'dup_one'), 'latin1'),
    );
    expect((await refusal(checkChatModel(file), 'not-gguf')).message).toMatch(/tensor dup_one appears twice/);
  });

  it('tensor data that is not laid out back to back', async () => {
    const file = await write({ ...textModel(), tensors: [f('first', [8]), f('second', [8])] });
    const bytes = await readFile(file);
    // name, n_dims (1), ne[0], ggml type, then the offset: 32 (after 8 f32 of the first) becomes 64
    const at = bytes.indexOf('second') + 'second'.length + 4 + 8 + 4;
    expect(bytes.readBigUInt64LE(at)).toBe(32n);
    bytes.writeBigUInt64LE(64n, at);
    await writeFile(file, bytes);
    expect((await refusal(checkChatModel(file), 'not-gguf')).message).toMatch(
      /tensor second starts at data offset 64, where llama\.cpp expects 32/,
    );
  });

  it('an alignment that is not a power of two', async () => {
    const spec = withKey(textModel(), kv.u32('general.alignment', 24));
    expect((await refusal(checkChatModel(await write(spec)), 'not-gguf')).message).toMatch(/not a power of two/);
  });

  it('an unknown value type', async () => {
    const spec = withKey(textModel(), kv.u32('general.odd', 7));
    const file = await write(spec);
    const bytes = await readFile(file);
    const at = bytes.indexOf('general.odd') + 'general.odd'.length;
    bytes.writeUInt32LE(13, at); // the value type: 13 is past f64
    await writeFile(file, bytes);
    expect((await refusal(checkChatModel(file), 'not-gguf')).message).toMatch(/general\.odd has value type 13/);
  });
});
