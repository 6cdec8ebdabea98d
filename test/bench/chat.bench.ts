// npm run bench:chat -- [--embd 32,768] [--tokens 96] [--runs 3]
//
// Vision chat figures on CPU, all in one run: time to first token and generation rate for turn 1 (an image and a
// question) turn 2 (a follow-up) and turn 3 (a new image), prompt tokens processed per turn, and the rate through the engine process
// (fork + birpc, measured at the caller from token events) against the binding's own rate on the same model, same
// prompts, same seed. The models are random LLaVA-1.5-shaped GGUFs from the test fixtures: their words are noise,
// their cost per token is real for their size.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { storeImage } from '../../electron/engine/chat/attachments.ts';
import { EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import { loadLlamaNodeChat } from '../../native-models/llava/llama-node.ts';
import type { ChatTurn } from '../../native-models/llava/vision-chat.ts';
import { writeSolid } from '../fixtures/images.ts';
import { writeTinyLlava } from '../fixtures/tiny-llava.ts';
import { cliOptions, median, table } from './stats.ts';

const opts = cliOptions(process.argv.slice(2));
const sizes = (opts.embd ?? '32,512').split(',').map(Number);
const maxTokens = Number(opts.tokens ?? 96);
const runs = Number(opts.runs ?? 3);
const Q1 = 'What is in this picture? Describe it in detail.';
const Q2 = 'What colour is it?';
/** Turn 3 brings a new image: llama.node re-encodes the earlier ones too (its prefix cache stops at the first image). */
const Q3 = 'And this one?';

interface Turn {
  ttftMs: number;
  rate: number;
  promptTokens: number;
  cachedTokens: number;
  tokens: number;
}

/** Rate from the token stream as the receiver sees it: tokens after the first over the time since the first. */
function streamRate(stamps: number[]): number {
  if (stamps.length < 2) return 0;
  return (stamps.length - 1) / ((stamps.at(-1)! - stamps[0]!) / 1000);
}

const tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-bench-chat-'));
const rows: (string | number)[][] = [];
try {
  const photo = await writeSolid(path.join(tmp, 'photo.jpg'), [200, 120, 40], 640, 480);
  const image = (await storeImage(photo, path.join(tmp, 'attachments'))).file;
  const photo2 = await writeSolid(path.join(tmp, 'photo2.png'), [20, 40, 220], 300, 300);
  const image2 = (await storeImage(photo2, path.join(tmp, 'attachments'))).file;
  for (const nEmbd of sizes) {
    const tiny = await writeTinyLlava(path.join(tmp, `m${nEmbd}`), { nEmbd });
    const model = { model: tiny.model, mmproj: tiny.mmproj, contextSize: 2048 };
    const options = { maxTokens, seed: 42, temperature: 0.8 };

    const direct: Turn[][] = [];
    const viaEngine: Turn[][] = [];
    for (let run = 0; run < runs; run++) {
      // the binding alone, in this process
      const chat = await loadLlamaNodeChat(model);
      const turns: Turn[] = [];
      const history: ChatTurn[] = [{ role: 'user', text: Q1, images: [image] }];
      for (const q of [Q1, Q2, Q3]) {
        if (q === Q2) history.push({ role: 'user', text: Q2 });
        if (q === Q3) history.push({ role: 'user', text: Q3, images: [image2] });
        const stamps: number[] = [];
        const t0 = performance.now();
        const r = await chat.complete(history, { ...options, onToken: () => stamps.push(performance.now()) });
        history.push({ role: 'assistant', text: r.text });
        turns.push({
          ttftMs: stamps[0]! - t0,
          rate: streamRate(stamps),
          promptTokens: r.stats.promptTokens,
          cachedTokens: r.stats.cachedTokens,
          tokens: stamps.length,
        });
      }
      await chat.release();
      direct.push(turns);

      // the same through the engine process
      let stamps: number[] = [];
      const engine = new EngineSupervisor({
        home: path.join(tmp, `home-${nEmbd}-${run}`),
        events: {
          chatToken: (e) => {
            for (let i = 0; i < e.count; i++) stamps.push(performance.now());
          },
        },
      });
      await engine.start();
      const c = await engine.call('chatCreate', {});
      await engine.call('chatSend', { conversationId: c.id, text: 'warm up', model, options: { maxTokens: 1 } }); // loads the model
      const c2 = await engine.call('chatCreate', {});
      const eTurns: Turn[] = [];
      for (const [i, q] of [Q1, Q2, Q3].entries()) {
        stamps = [];
        const t0 = performance.now();
        const m = await engine.call('chatSend', {
          conversationId: c2.id,
          text: q,
          ...(i === 0 ? { images: [image] } : i === 2 ? { images: [image2] } : {}),
          model,
          options,
        });
        eTurns.push({
          ttftMs: stamps[0]! - t0,
          rate: streamRate(stamps),
          promptTokens: m.stats!.promptTokens,
          cachedTokens: m.stats!.cachedTokens,
          tokens: stamps.length,
        });
      }
      await engine.stop();
      viaEngine.push(eTurns);
    }
    for (const turn of [0, 1, 2]) {
      const d = (k: keyof Turn) => median(direct.map((r) => r[turn]![k]));
      const e = (k: keyof Turn) => median(viaEngine.map((r) => r[turn]![k]));
      rows.push([
        `n_embd ${nEmbd}, turn ${turn + 1}`,
        `${d('promptTokens')} (+${d('cachedTokens')} cached)`,
        `${e('promptTokens')} (+${e('cachedTokens')} cached)`,
        d('ttftMs'),
        e('ttftMs'),
        d('rate'),
        e('rate'),
        (e('rate') / d('rate')).toFixed(3),
      ]);
    }
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
console.log(
  `${runs} runs per figure (medians), ${maxTokens} tokens per answer, ${os.cpus().length} cores, CPU backend, node ${process.version}`,
);
console.log(
  table(
    [
      'model, turn',
      'prompt tokens (binding)',
      'prompt tokens (engine)',
      'TTFT ms (binding)',
      'TTFT ms (engine)',
      'tokens/s (binding)',
      'tokens/s (engine)',
      'engine/binding',
    ],
    rows,
  ),
);
