// npm run bench:api -- [--embd 512] [--tokens 128] [--runs 3] [--requests 200] [--clip DIR]
//
// The local API's cost, all in one run:
//   - generation rate through the API (an OpenAI-style streamed chat completion over HTTP from the engine process,
//     rate measured at the client from the SSE chunks) against the binding's own rate on the same model, prompt,
//     image, seed and temperature, in this process (rate measured from its token callbacks): target >= 0.95;
//   - requests/s for /v1/embeddings of one short string (sequential requests on a kept-alive connection) against
//     the CLIP text encoder alone in this process, encoding the same string.
// The chat model is a random LLaVA-shaped GGUF from the test fixtures (its words are noise, its cost per token is
// real for its size); CLIP is the random-weight ViT-B/32 of `npm run bench:make-model` when --clip (default
// GLANCE_BENCH_MODEL, else /tmp/clip-random) holds it, else the tiny test CLIP. One JSON line of results comes last.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ApiConfig } from '../../electron/engine/api/config.ts';
import { EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import { ClipModel } from '../../native-models/clip/model.ts';
import { loadLlamaNodeChat } from '../../native-models/llava/llama-node.ts';
import { writeSolid } from '../fixtures/images.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';
import { writeTinyLlava } from '../fixtures/tiny-llava.ts';
import { cliOptions, median, table } from './stats.ts';

const opts = cliOptions(process.argv.slice(2));
const nEmbd = Number(opts.embd ?? 512);
const maxTokens = Number(opts.tokens ?? 128);
const runs = Number(opts.runs ?? 3);
const requests = Number(opts.requests ?? 200);
const QUESTION = 'What is in this picture? Describe it in detail.';
const SHORT = 'a dog on a beach';

/** Tokens after the first over the time since the first, as the receiver sees them. */
function streamRate(stamps: number[]): number {
  if (stamps.length < 2) return 0;
  return (stamps.length - 1) / ((stamps.at(-1)! - stamps[0]!) / 1000);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-bench-api-'));
const home = path.join(tmp, 'home');
let engine: EngineSupervisor | null = null;
try {
  const photo = await writeSolid(path.join(tmp, 'photo.jpg'), [200, 120, 40], 640, 480);
  const photoUrl = `data:image/jpeg;base64,${(await readFile(photo)).toString('base64')}`;
  const llava = await writeTinyLlava(path.join(tmp, 'llava'), { nEmbd });
  const wanted = opts.clip ?? process.env.GLANCE_BENCH_MODEL ?? '/tmp/clip-random';
  const clipDir = existsSync(path.join(wanted, 'tokenizer.json'))
    ? wanted
    : (await writeTinyClip(path.join(tmp, 'clip'))).dir;
  const clipLabel = clipDir === wanted ? `random ViT-B/32 (${wanted})` : 'tiny test CLIP (no --clip model found)';
  const load = { model: llava.model, mmproj: llava.mmproj, contextSize: 4096 };
  const sampling = { maxTokens, seed: 42, temperature: 0.8 };

  // --- the binding alone ---
  const direct: number[] = [];
  {
    const chat = await loadLlamaNodeChat(load);
    const { storeImage } = await import('../../electron/engine/chat/attachments.ts');
    const image = (await storeImage(photo, path.join(tmp, 'attachments'))).file;
    for (let run = 0; run < runs + 1; run++) {
      const stamps: number[] = [];
      await chat.complete([{ role: 'user', text: QUESTION, images: [image] }], {
        ...sampling,
        onToken: () => stamps.push(performance.now()),
      });
      if (run > 0) direct.push(streamRate(stamps)); // the first warms the caches up
    }
    await chat.release();
  }

  // --- the same through the API, from the engine process ---
  const port = await freePort();
  const config: ApiConfig = {
    port,
    chat: { label: 'bench', ...load },
    clipDir,
  };
  engine = new EngineSupervisor({ home, env: { GLANCE_API: JSON.stringify(config) } });
  await engine.start();
  const status = await engine.call('apiStatus');
  if (!status.running) throw new Error(`the API did not start: ${status.error}`);
  const headers = { Authorization: `Bearer ${status.token}`, 'Content-Type': 'application/json' };
  const viaApi: number[] = [];
  for (let run = 0; run < runs + 1; run++) {
    const stamps: number[] = [];
    const res = await fetch(`${status.url}/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: 'bench',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: QUESTION },
              { type: 'image_url', image_url: { url: photoUrl } },
            ],
          },
        ],
        max_tokens: sampling.maxTokens,
        seed: sampling.seed,
        temperature: sampling.temperature,
        stream: true,
      }),
    });
    if (!res.ok || !res.body) throw new Error(`the API answered ${res.status}: ${await res.text()}`);
    const decoder = new TextDecoder();
    let buffered = '';
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
        if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
        const chunk = JSON.parse(event.slice(6)) as { choices: { delta: { content?: string } }[] };
        if (chunk.choices[0]?.delta.content) stamps.push(performance.now());
      }
    }
    if (run > 0) viaApi.push(streamRate(stamps));
  }

  // --- embeddings of one short string: the API against the text encoder alone ---
  const embedOnce = async () => {
    const res = await fetch(`${status.url}/embeddings`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ input: SHORT, encoding_format: 'float' }),
    });
    if (!res.ok) throw new Error(`the API answered ${res.status}: ${await res.text()}`);
    await res.json();
  };
  for (let i = 0; i < 10; i++) await embedOnce(); // loads the model, warms up
  let t0 = performance.now();
  for (let i = 0; i < requests; i++) await embedOnce();
  const apiPerSecond = requests / ((performance.now() - t0) / 1000);
  // the HTTP floor: the same client and server answering a request that does no model work
  t0 = performance.now();
  for (let i = 0; i < requests; i++) {
    const res = await fetch(`${status.url}/models`, { headers });
    await res.json();
  }
  const floorMs = (performance.now() - t0) / requests;
  await engine.stop();
  engine = null;
  const clip = await ClipModel.load(clipDir);
  for (let i = 0; i < 10; i++) await clip.encodeTexts([SHORT]);
  t0 = performance.now();
  for (let i = 0; i < requests; i++) await clip.encodeTexts([SHORT]);
  const alonePerSecond = requests / ((performance.now() - t0) / 1000);

  const rateDirect = median(direct);
  const rateApi = median(viaApi);
  console.log(
    `${os.cpus().length} cores, node ${process.version}; chat: random LLaVA-shaped, ${nEmbd} wide, ${maxTokens} tokens, ${runs} runs`,
  );
  console.log(
    table(
      ['measure', 'API', 'alone', 'API / alone'],
      [
        ['generation, tokens/s (median)', rateApi, rateDirect, (rateApi / rateDirect).toFixed(3)],
        [
          `/v1/embeddings of one string, requests/s (${clipLabel})`,
          apiPerSecond,
          alonePerSecond,
          (apiPerSecond / alonePerSecond).toFixed(3),
        ],
        ['HTTP floor: GET /v1/models, ms a request (fetch, kept alive)', floorMs, '-', '-'],
      ],
    ),
  );
  console.log(
    JSON.stringify({
      bench: 'api',
      cores: os.cpus().length,
      nEmbd,
      maxTokens,
      runs,
      generation: {
        apiTokensPerSecond: rateApi,
        bindingTokensPerSecond: rateDirect,
        ratio: rateApi / rateDirect,
        api: viaApi,
        binding: direct,
      },
      embeddings: {
        clip: clipLabel,
        requests,
        apiPerSecond,
        alonePerSecond,
        ratio: apiPerSecond / alonePerSecond,
        httpFloorMs: floorMs,
      },
    }),
  );
} finally {
  await engine?.stop();
  await rm(tmp, { recursive: true, force: true });
}
