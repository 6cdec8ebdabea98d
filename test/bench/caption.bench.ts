// npm run bench:caption -- [--photos 3] [--tokens N] [--models tiny,smolvlm] [--layers N] [--asks 20]
//                           [--wait-model tiny|smolvlm] [--threads N] [--cache DIR]
//
// Captioning figures, all in one run:
//   - photos captioned per second, with the tiny test model (tiny-llava.ts) and with a random-weight model of
//     SmolVLM-500M-Instruct's shapes (smolvlm-shaped.ts: ~925 MB in F16, made once into --cache, default
//     $TMPDIR/glance-bench-cache, in a few seconds). The photos go through the app's own caption job
//     (captions/caption-job.ts, with its family's prompt and token budget from captions/prompts.ts): one background
//     ChatService.oneShot per photo (decode, turn upright, store as the binding reads it, shrink for the projector,
//     answer), each awaited before the next;
//   - prompt tokens per photo (CompletionStats: evaluated + taken from the cache) and image positions per photo
//     (the same prompt with the picture, less the prompt without it);
//   - the time an interactive ask waits while a caption job runs: `--asks` questions about another photo, each sent
//     at a seeded random moment of a running job, against the same question when nothing else runs; the wait is
//     the difference. Target: p99 at most one photo's caption time (a job hands the queue one photo at a time).
//     `--wait-model smolvlm` measures it with the SmolVLM-shaped model (minutes per photo on a CPU).
//
// The photos are camera-sized (4032x3024 JPEGs, made once into the cache). The SmolVLM-shaped model scales every
// picture to a longest edge of 2048 (up or down) and cuts it into 512-px tiles and a global view (13 tiles of 64
// positions for a 4:3 photo), so its cost per photo is the real model's whatever the picture. Its words are noise
// and it never ends an answer by itself: every caption is as long as its budget (`--tokens`, default the family's
// from prompts.ts), the most a real one would be. `--layers N` shrinks it (N text blocks, min(N, 12) vision blocks)
// for a quick check of the bench itself; its image positions and prompt tokens stay the full model's.
//
// One JSON line of results comes last.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CaptionJob, type CaptionSource } from '../../electron/engine/captions/caption-job.ts';
import { type CaptionPrompt, captionPromptForFiles } from '../../electron/engine/captions/prompts.ts';
import { ChatService } from '../../electron/engine/chat/chat-service.ts';
import { openDatabase } from '../../electron/engine/db/database.ts';
import { loadLlamaNodeChat } from '../../native-models/llava/llama-node.ts';
import type { VisionChat, VisionChatLoadOptions } from '../../native-models/llava/vision-chat.ts';
import { writePhotoLikeJpegs } from '../fixtures/images.ts';
import { seededRandom } from '../fixtures/random.ts';
import { SMOLVLM_500M, smolvlmShapedCached } from '../fixtures/smolvlm-shaped.ts';
import { writeTinyLlava } from '../fixtures/tiny-llava.ts';
import { cliOptions, median, table } from './stats.ts';

const opts = cliOptions(process.argv.slice(2));
const photoCount = Number(opts.photos ?? 3);
const asks = Number(opts.asks ?? 20);
const models = (opts.models ?? 'tiny,smolvlm').split(',');
const waitModel = opts['wait-model'] ?? 'tiny';
const layers = opts.layers ? Number(opts.layers) : null;
const threads = opts.threads ? Number(opts.threads) : undefined;
const cache = opts.cache ?? path.join(os.tmpdir(), 'glance-bench-cache');
for (const m of [...models, waitModel]) {
  if (m !== 'tiny' && m !== 'smolvlm') throw new Error(`unknown model ${m}: use tiny or smolvlm`);
}

const ASK = 'Is there a dog in this picture? Answer yes or no.';
const ASK_TOKENS = 4;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-bench-caption-'));
console.log(`making or reusing ${photoCount + 1} photo-like 4032x3024 JPEGs in ${path.join(cache, 'photos')} ...`);
const files = await writePhotoLikeJpegs(path.join(cache, 'photos'), photoCount + 1);
const photos = files.slice(0, photoCount);
const askPhoto = files[photoCount]!;

// --- the models ---
const pairs: Record<string, { load: VisionChatLoadOptions; label: string; mb: number }> = {};
if (models.includes('tiny') || waitModel === 'tiny') {
  const tiny = await writeTinyLlava(path.join(tmp, 'tiny'));
  pairs.tiny = {
    load: { model: tiny.model, mmproj: tiny.mmproj, contextSize: 2048, ...(threads ? { threads } : {}) },
    label: 'tiny LLaVA (test model)',
    mb: ((await stat(tiny.model)).size + (await stat(tiny.mmproj)).size) / 1e6,
  };
}
if (models.includes('smolvlm') || waitModel === 'smolvlm') {
  const shape = layers ? { nLayer: layers, vLayer: Math.min(layers, SMOLVLM_500M.vLayer) } : {};
  const t0 = performance.now();
  const pair = await smolvlmShapedCached(cache, { shape });
  console.log(
    `SmolVLM-shaped pair ${pair.cached ? 'reused' : `written in ${((performance.now() - t0) / 1000).toFixed(1)} s`}: ` +
      `${path.dirname(pair.model)} (${((pair.bytes.model + pair.bytes.mmproj) / 1e6).toFixed(0)} MB)`,
  );
  pairs.smolvlm = {
    load: { model: pair.model, mmproj: pair.mmproj, contextSize: 4096, ...(threads ? { threads } : {}) },
    label: `SmolVLM-500M-shaped${layers ? ` (${pair.shape.nLayer} + ${pair.shape.vLayer} blocks)` : ''}`,
    mb: (pair.bytes.model + pair.bytes.mmproj) / 1e6,
  };
}

// --- the service a caption job uses; its loads are kept to ask the binding directly between phases ---
const loadedBy = new Map<string, { chat: VisionChat; seconds: number }>();
const db = openDatabase(path.join(tmp, 'glance.db'));
const service = new ChatService({
  db,
  attachmentsDir: path.join(tmp, 'attachments'),
  scratchDir: path.join(tmp, 'scratch'),
  load: async (o) => {
    const t0 = performance.now();
    const chat = await loadLlamaNodeChat(o);
    loadedBy.set(o.model, { chat, seconds: (performance.now() - t0) / 1000 });
    return chat;
  },
});

interface Caption {
  wallMs: number;
  modelMs: number;
  promptTokens: number;
  evaluatedTokens: number;
  generatedTokens: number;
}

/** The model's caption prompt (electron/engine/captions/prompts.ts, by the family its files say), `--tokens` long. */
async function promptFor(load: VisionChatLoadOptions): Promise<CaptionPrompt> {
  const p = await captionPromptForFiles(load.model, load.mmproj);
  return { prompt: p.prompt, maxTokens: opts.tokens ? Number(opts.tokens) : p.maxTokens };
}

/**
 * A caption job over `source` as the engine makes one (caption-job.ts), captioning as its chatCaptioner does (a
 * background one-shot per photo, greedy), with each answer's stats kept; the captions are saved nowhere.
 */
function captionJob(
  load: VisionChatLoadOptions,
  prompt: CaptionPrompt,
  source: CaptionSource,
  each: Caption[],
): CaptionJob {
  return new CaptionJob({
    model: 'bench',
    photos: source,
    caption: async (photo, signal) => {
      const t0 = performance.now();
      const r = await service.oneShot({
        image: photo.path,
        prompt: prompt.prompt,
        model: load,
        options: { maxTokens: prompt.maxTokens, temperature: 0 },
        background: true,
        signal,
      });
      each.push({
        wallMs: performance.now() - t0,
        modelMs: r.stats.totalMs,
        promptTokens: r.stats.promptTokens + r.stats.cachedTokens,
        evaluatedTokens: r.stats.promptTokens,
        generatedTokens: r.stats.generatedTokens,
      });
      return r.text;
    },
    save: () => {},
  });
}

/** The photos in order, then none (`cycle`: round and round until the job is cancelled). */
function photoSource(cycle: boolean): CaptionSource {
  let i = 0;
  return {
    total: cycle ? Number.MAX_SAFE_INTEGER : photos.length,
    next: () => {
      if (!cycle && i >= photos.length) return null;
      const id = i++;
      return { id, path: photos[id % photos.length]! };
    },
  };
}

const results: Record<string, unknown> = {};
const rows: (string | number)[][] = [];
const captionMs: Record<string, number[]> = {};

try {
  for (const name of models) {
    const { load, label, mb } = pairs[name]!;
    const prompt = await promptFor(load);
    console.log(
      `captioning ${photos.length} photos with the ${label} ("${prompt.prompt}", ${prompt.maxTokens} tokens) ...`,
    );
    // a text-only turn loads the model: loading is not a caption figure
    await service.send(service.create().id, { text: 'Hello' }, load, { maxTokens: 1 });
    const loaded = loadedBy.get(load.model)!;
    // the prompt without a picture, straight to the binding (the service is idle): image positions = the difference
    const text = await loaded.chat.complete([{ role: 'user', text: prompt.prompt }], { maxTokens: 1 });
    const textTokens = text.stats.promptTokens + text.stats.cachedTokens;
    const each: Caption[] = [];
    const t0 = performance.now();
    const job = captionJob(load, prompt, photoSource(false), each);
    job.start();
    const end = await job.finished;
    const seconds = (performance.now() - t0) / 1000;
    if (end.state !== 'done' || end.failed) {
      throw new Error(
        `the caption job ended ${end.state} with ${end.failed} failed: ${end.error ?? end.failures[0]?.message}`,
      );
    }
    captionMs[name] = each.map((c) => c.wallMs);
    const r = {
      model: label,
      prompt: prompt.prompt,
      fileMB: Math.round(mb * 10) / 10,
      loadSeconds: loaded.seconds,
      photos: each.length,
      photosPerSecond: each.length / seconds,
      captionMsP50: median(each.map((c) => c.wallMs)),
      captionMsMax: Math.max(...each.map((c) => c.wallMs)),
      modelMsP50: median(each.map((c) => c.modelMs)),
      promptTokensPerPhoto: median(each.map((c) => c.promptTokens)),
      evaluatedTokensPerPhoto: median(each.map((c) => c.evaluatedTokens)),
      imagePositionsPerPhoto: median(each.map((c) => c.promptTokens)) - textTokens,
      textPromptTokens: textTokens,
      generatedTokensPerPhoto: median(each.map((c) => c.generatedTokens)),
      backend: loaded.chat.info.backend,
      device: loaded.chat.info.device,
    };
    results[name] = r;
    rows.push([
      label,
      r.photosPerSecond.toFixed(4),
      r.captionMsP50.toFixed(0),
      r.modelMsP50.toFixed(0),
      `${r.promptTokensPerPhoto} (${r.evaluatedTokensPerPhoto} evaluated)`,
      String(r.imagePositionsPerPhoto),
      String(r.generatedTokensPerPhoto),
      r.loadSeconds.toFixed(1),
    ]);
  }

  // --- an interactive ask while a caption job runs ---
  {
    const { load, label } = pairs[waitModel]!;
    const prompt = await promptFor(load);
    console.log(`${asks} asks with the ${label}, idle and during a caption job ...`);
    const ask = async () => {
      const t0 = performance.now();
      await service.oneShot({ image: askPhoto, prompt: ASK, model: load, options: { maxTokens: ASK_TOKENS, seed: 1 } });
      return performance.now() - t0;
    };
    await ask(); // loads the model if the caption phase did not
    const idle: number[] = [];
    for (let i = 0; i < Math.max(5, Math.min(asks, 10)); i++) idle.push(await ask());
    const idleMs = median(idle);

    const jobCaptions: Caption[] = [];
    const job = captionJob(load, prompt, photoSource(true), jobCaptions);
    job.start();
    // asks at seeded random moments, up to one caption apart: they land anywhere in a running photo
    const rand = seededRandom(13);
    const typical = captionMs[waitModel] ? median(captionMs[waitModel]) : idleMs;
    const during: number[] = [];
    while (jobCaptions.length === 0) await sleep(5); // the job is under way
    for (let i = 0; i < asks; i++) {
      await sleep((rand() / 0x100000000) * typical);
      during.push(await ask());
    }
    job.cancel();
    const end = await job.finished;
    const waits = during.map((ms) => Math.max(0, ms - idleMs));
    const jobMs = jobCaptions.map((c) => c.wallMs);
    const photoMs = Math.max(...jobMs);
    results.wait = {
      model: label,
      asks: during.length,
      askIdleMsP50: idleMs,
      askDuringJobMsP50: median(during),
      waitMsP50: median(waits),
      waitMsP99: pct(waits, 99),
      captionMsP50: median(jobMs),
      captionMsMax: photoMs,
      photosCaptionedMeanwhile: end.done,
      withinOnePhoto: pct(waits, 99) <= photoMs,
    };
  }
} finally {
  await service.close();
  db.close();
  await rm(tmp, { recursive: true, force: true });
}

const w = results.wait as Record<string, number | string | boolean>;
console.log(
  `${photos.length} photos of 4032x3024 per model, ${opts.tokens ?? "the family's"} tokens per caption, ${os.cpus().length} cores` +
    `${threads ? `, ${threads} threads` : ''}, node ${process.version}`,
);
console.log(
  table(
    [
      'model',
      'photos/s',
      'caption ms (p50)',
      'model ms (p50)',
      'prompt tokens / photo',
      'image positions / photo',
      'tokens written',
      'load s',
    ],
    rows,
  ),
);
console.log(
  table(
    ['interactive ask during a caption job', 'value'],
    [
      ['model', String(w.model)],
      ['asks', String(w.asks)],
      ['ask alone, ms (p50)', Number(w.askIdleMsP50)],
      ['ask during the job, ms (p50)', Number(w.askDuringJobMsP50)],
      ['wait, ms (p50)', Number(w.waitMsP50)],
      ['wait, ms (p99)', Number(w.waitMsP99)],
      ['one photo, ms (p50 / max)', `${Number(w.captionMsP50).toFixed(0)} / ${Number(w.captionMsMax).toFixed(0)}`],
      ['p99 wait within one photo', w.withinOnePhoto ? 'yes' : 'NO'],
    ],
  ),
);
console.log(
  JSON.stringify({
    bench: 'caption',
    cores: os.cpus().length,
    threads: threads ?? null,
    maxTokens: opts.tokens ? Number(opts.tokens) : null,
    cacheDir: existsSync(cache) ? cache : null,
    ...results,
  }),
);
