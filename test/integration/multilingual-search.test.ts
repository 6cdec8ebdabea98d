// Search in the user's own language against the index they already have: the multilingual text encoder's pipeline
// (tokenizer.json, the transformer in ONNX Runtime, mean pooling, the Dense layer read from safetensors, L2
// normalisation) against an independent TypeScript reference of sentence-transformers' pipeline on the same random
// weights; then the library choosing it (`lang` auto/en/multi) and ranking photos indexed with CLIP by it, and the
// refusals a person can act on.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Library } from '../../electron/engine/library/library.ts';
import { queryLanguage } from '../../electron/engine/library/query-language.ts';
import { MultilingualTextEncoder } from '../../native-models/multilingual/text-encoder.ts';
import { colourVocabulary } from '../fixtures/colour-vocabulary.ts';
import * as img from '../fixtures/images.ts';
import { installTinyClip } from '../fixtures/installed-model.ts';
import { repoRoot } from '../fixtures/repo.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';
import {
  ENTRY,
  installTinyMultilingual,
  referenceEmbeddings,
  type TinyMultilingual,
} from '../fixtures/tiny-multilingual.ts';

/** Queries in twelve scripts and languages, as people type them. */
const PROMPTS = [
  'dog on the beach',
  'Hund am Strand',
  'chien sur la plage à Noël',
  'perro en la playa',
  'con chó trên bãi biển',
  'собака на пляже',
  'σκύλος στην παραλία',
  'كلب على الشاطئ',
  'כלב על החוף',
  'समुद्र तट पर कुत्ता',
  'สุนัขบนชายหาด',
  '海滩上的狗',
  '浜辺の犬と猫',
  '해변의 개',
  'Kinder spielen im Schnee, 2019!',
];

const exec = promisify(execFile);
let tmp: string;
let home: string;
let model: TinyMultilingual;
let lib: Library;
const CLIP_DIM = 16;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-multilingual-'));
  home = path.join(tmp, 'home');
  // the library's CLIP model in the catalog's folder name: the one the multilingual encoder pairs with
  // (installed as a download leaves it, so that the command line takes it too)
  await installTinyClip(home);
  const clipDir = path.join(home, 'models', ENTRY.pairsWith);
  const photos = path.join(tmp, 'photos');
  await img.writeSolid(path.join(photos, 'red.png'), [255, 0, 0], 40, 30);
  await img.writeSolid(path.join(photos, 'blue.png'), [10, 20, 230], 40, 30);
  await img.writeSolid(path.join(photos, 'green.png'), [20, 200, 30], 40, 30);
  await img.writeSolid(path.join(photos, 'yellow.png'), [240, 230, 20], 40, 30);
  lib = Library.open({ home, modelDir: clipDir, vocabulary: colourVocabulary(), batchSize: 4 });
  expect(await lib.indexFolders([photos])).toMatchObject({ indexed: 4 });
});

afterAll(async () => {
  lib?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('the multilingual text encoder', () => {
  let encoder: MultilingualTextEncoder;
  beforeAll(async () => {
    model = await installTinyMultilingual(home, { texts: PROMPTS, out: CLIP_DIM });
    encoder = await MultilingualTextEncoder.load(model.dir, ENTRY);
  });
  afterAll(async () => {
    await encoder?.release();
  });

  it('equals the reference sentence-transformers pipeline within 1e-5, alone and in a padded batch', async () => {
    const reference = referenceEmbeddings(model, PROMPTS);
    const batched = await encoder.encode(PROMPTS); // one batch: padded to the longest prompt
    const alone = await Promise.all(PROMPTS.map(async (p) => (await encoder.encode([p]))[0]!));
    let worst = 0;
    for (const [i, r] of reference.entries()) {
      for (const got of [batched[i]!, alone[i]!]) {
        expect(got.length).toBe(CLIP_DIM);
        for (let d = 0; d < CLIP_DIM; d++) worst = Math.max(worst, Math.abs(got[d]! - r[d]!));
      }
    }
    expect(worst).toBeLessThan(1e-5);
    // and they are not all the same vector: the text matters
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, d) => s + x * b[d]!, 0);
    expect(dot(batched[1]!, batched[5]!)).toBeLessThan(0.9999);
  });

  it('takes a Dense layer with a bias too, and cuts long text at 128 tokens as the reference does', async () => {
    const withBias = await installTinyMultilingual(home, {
      texts: PROMPTS,
      out: CLIP_DIM,
      bias: true,
      seed: 9,
      dir: path.join(tmp, 'with-bias'),
    });
    const e = await MultilingualTextEncoder.load(withBias.dir, ENTRY);
    try {
      const long = Array.from({ length: 90 }, (_, i) => PROMPTS[i % PROMPTS.length]).join(' ');
      const [got] = await e.encode([long]);
      const [want] = referenceEmbeddings(withBias, [long]);
      for (let d = 0; d < CLIP_DIM; d++) expect(Math.abs(got![d]! - want![d]!)).toBeLessThan(1e-5);
    } finally {
      await e.release();
    }
  });

  it('refuses a folder that is not the model, saying which file and what to do', async () => {
    const broken = path.join(tmp, 'broken');
    await installTinyMultilingual(home, { texts: PROMPTS, out: CLIP_DIM, dir: broken });
    await rm(path.join(broken, ENTRY.denseFile));
    await expect(MultilingualTextEncoder.load(broken, ENTRY)).rejects.toThrow(
      /2_Dense\/model\.safetensors is missing: download the multilingual text model again/,
    );
    await installTinyMultilingual(home, { texts: PROMPTS, out: CLIP_DIM, dir: broken });
    await writeFile(path.join(broken, '1_Pooling', 'config.json'), JSON.stringify({ pooling_mode_cls_token: true }));
    await expect(MultilingualTextEncoder.load(broken, ENTRY)).rejects.toThrow(/pooling_mode_cls_token pooling/);
    await installTinyMultilingual(home, { texts: PROMPTS, out: CLIP_DIM, dir: broken });
    await writeFile(path.join(broken, ENTRY.onnxFile), 'not a model');
    await expect(MultilingualTextEncoder.load(broken, ENTRY)).rejects.toThrow(/could not be loaded by ONNX Runtime/);
  });
});

describe('searching the library in other languages', () => {
  it("ranks the photos already indexed by the query's multilingual embedding", async () => {
    const query = 'Hund am Strand';
    expect(await lib.textEncoderFor(query, 'multi')).toBe('multilingual');
    const hits = await lib.search({ text: query, lang: 'multi', limit: 4 });
    const [q] = referenceEmbeddings(model, [query]);
    const stored = await lib.embed(hits.map((h) => ({ photoId: h.id })));
    const expected = stored.map((v) => v.reduce((s, x, d) => s + x * q![d]!, 0));
    // the library's scores are the cosine with the reference embedding, best first
    for (const [i, h] of hits.entries()) expect(h.score!).toBeCloseTo(expected[i]!, 4);
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score!).toBeGreaterThanOrEqual(hits[i]!.score!);
  });

  it('auto sends English to CLIP and other languages to the multilingual model', async () => {
    for (const q of ['dog on the beach', 'a photo of something red']) expect(await lib.textEncoderFor(q)).toBe('clip');
    for (const q of ['Hund am Strand', 'собака на пляже', '海滩上的狗', 'chien sur la plage']) {
      expect(await lib.textEncoderFor(q), q).toBe('multilingual');
    }
    expect(await lib.textEncoderFor('Hund am Strand', 'en')).toBe('clip');
    // English through CLIP: the tiny CLIP's "red" is the red photo
    const [top] = await lib.search({ text: 'a photo of something red.', limit: 1 });
    expect(path.basename(top!.path)).toBe('red.png');
  });

  it('detects the language of mixed queries as measured', async () => {
    const english = ['kids playing in the snow', 'sunset over the mountains', 'people at a concert', 'my cat sleeping'];
    const other = [
      'Kinder spielen im Schnee',
      'coucher de soleil sur la montagne',
      'cachorro na praia',
      'pies na plaży',
    ];
    for (const q of english) expect(await queryLanguage(q), q).toBe('en');
    for (const q of other) expect(await queryLanguage(q), q).toBe('other');
    expect(await queryLanguage('2019')).toBe('en'); // no letters: nothing to translate
  });

  it('without the model, multi is refused with what to do and auto stays with CLIP', async () => {
    const bare = await mkdtemp(path.join(tmp, 'bare-'));
    const clipDir = (await writeTinyClip(path.join(bare, 'models', ENTRY.pairsWith), { dim: CLIP_DIM })).dir;
    const other = Library.open({ home: bare, modelDir: clipDir, vocabulary: colourVocabulary() });
    try {
      await expect(other.search({ text: 'Hund am Strand', lang: 'multi' })).rejects.toThrow(
        `the multilingual text model is not installed: glance models download ${ENTRY.id}`,
      );
      expect(await other.textEncoderFor('Hund am Strand')).toBe('clip');
    } finally {
      other.close();
    }
    // a library indexed with another CLIP model: the multilingual space is not its space
    const b16 = Library.open({
      home,
      modelDir: (await writeTinyClip(path.join(tmp, 'clip-vit-base-patch16'), { dim: CLIP_DIM })).dir,
      vocabulary: colourVocabulary(),
    });
    try {
      await expect(b16.search({ text: 'Hund am Strand', lang: 'multi' })).rejects.toThrow(
        /indexed with clip-vit-base-patch16; the multilingual text model searches photos indexed with clip-vit-base-patch32/,
      );
    } finally {
      b16.close();
    }
  });

  it('glance search --lang multi reads the query with the multilingual model; a bad --lang is refused', async () => {
    lib.close();
    const glance = (args: string[]) =>
      exec(process.execPath, [path.join(repoRoot, 'bin', 'glance.js'), ...args, '--home', home], {
        env: { ...process.env },
      }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    const r = (await glance(['search', 'Hund am Strand', '--lang', 'multi', '--limit', '4'])) as {
      stdout: string;
      stderr: string;
    };
    expect(r.stderr).toContain('(read by the multilingual text model)');
    expect(r.stdout.trim().split('\n')).toHaveLength(4);
    const bad = (await glance(['search', 'Hund', '--lang', 'de'])) as { code: number; stderr: string };
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--lang takes auto, en or multi');
  });
});
