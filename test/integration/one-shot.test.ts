// One-shot questions about one image (captions, short answers) on the real llama.cpp binding with tiny LLaVA pairs
// of random weights: grammar-constrained short answers, the shared queue with its background lane, two models kept
// loaded, and what a broken picture or a failed completion leaves behind. Every completion and release is logged in
// order through a wrapper around the real loader, so the checks are about order, never about time.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { captionImage } from '../../electron/engine/captions/caption-job.ts';
import { CAPTION_PROMPTS } from '../../electron/engine/captions/prompts.ts';
import { ChatService } from '../../electron/engine/chat/chat-service.ts';
import { askShort, normalizeShort, shortQuestion } from '../../electron/engine/chat/short-answer.ts';
import { type Db, openDatabase } from '../../electron/engine/db/database.ts';
import { loadLlamaNodeChat } from '../../native-models/llava/llama-node.ts';
import type { VisionChat, VisionChatLoadOptions } from '../../native-models/llava/vision-chat.ts';
import * as img from '../fixtures/images.ts';
import { type ChatCounters, loggedChat } from '../fixtures/logged-chat.ts';
import { writeTinyLlava } from '../fixtures/tiny-llava.ts';

let tmp: string;
let db: Db;
let chat: ChatService;
let scratch: string;
let red: string;
let split: string;
const models: Record<'a' | 'b' | 'c', VisionChatLoadOptions> = {} as never;
/** Completions and releases in the order they happened: "start <first line of the prompt>", "end …", "release a". */
let events: string[];
let loads: string[];
/** Completions running now, over all loaded models. */
const counters: ChatCounters = { generating: 0, releasedWhileGenerating: 0 };
/** Resolvers waiting for a completion to start, by the first line of its prompt. */
const startWaiters = new Map<string, () => void>();

/** Completions that wait for the test before they begin, by the first line of their prompt. */
const holds = new Map<string, Promise<void>>();

/** The completion of this prompt waits, once it is its turn, until the returned function is called. */
function holdAt(tag: string): () => void {
  let release!: () => void;
  holds.set(
    tag,
    new Promise<void>((resolve) => {
      release = resolve;
    }),
  );
  return release;
}

/** Waits for a condition (a request reaching the queue after its picture is stored), checking every few ms. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 6000 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
}

/** Resolves when the completion of this prompt starts: ask before the request that makes it. */
function whenStarted(tag: string): Promise<void> {
  return new Promise((resolve) => startWaiters.set(tag, resolve));
}

const nameOf = (o: VisionChatLoadOptions) => path.basename(path.dirname(o.model));

/** The real loader, wrapped to log what each model is asked to do. */
async function load(o: VisionChatLoadOptions): Promise<VisionChat> {
  const name = nameOf(o);
  loads.push(name);
  return loggedChat(await loadLlamaNodeChat(o), {
    log: (e) => events.push(e),
    counters,
    releaseEvent: `release ${name}`,
    onStart: (tag) => {
      startWaiters.get(tag)?.();
      startWaiters.delete(tag);
      const hold = holds.get(tag);
      holds.delete(tag);
      return hold;
    },
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-one-shot-'));
  for (const [name, seed] of [
    ['a', 1],
    ['b', 2],
    ['c', 3],
  ] as const) {
    const t = await writeTinyLlava(path.join(tmp, name), { seed });
    models[name] = { model: t.model, mmproj: t.mmproj, contextSize: 512 };
  }
  red = await img.writeSolid(path.join(tmp, 'red.jpg'), [200, 30, 30], 120, 80);
  split = await img.writeSplit(path.join(tmp, 'split.png'), [0, 0, 255], [255, 255, 0], 64, 64);
  db = openDatabase(path.join(tmp, 'glance.db'));
  scratch = path.join(tmp, 'scratch');
  chat = new ChatService({ db, attachmentsDir: path.join(tmp, 'attachments'), scratchDir: scratch, load });
});

afterAll(async () => {
  await chat?.close();
  db?.close();
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  events = [];
  loads = [];
});

describe('short answers under a grammar', () => {
  it('a yes/no question answers exactly yes or no, whatever the question, picture or seed', async () => {
    const raw: string[] = [];
    for (const q of ['Is it red?', 'Are there people?', 'Does it show a beach?', 'Was it taken at night?']) {
      const s = shortQuestion(q);
      expect(s.kind).toBe('yes-no');
      for (const image of [red, split]) {
        for (const seed of [1, 2, 3, 4]) {
          const r = await chat.oneShot({
            image,
            prompt: s.prompt,
            model: models.a,
            // temperature 1: the random model's whole distribution is in play, not only its greedy choice
            options: { grammar: s.grammar!, maxTokens: s.maxTokens, seed, temperature: 1 },
          });
          raw.push(r.text);
        }
      }
    }
    // the grammar did it, not the clean-up: the model's own text is a yes or a no (with at most its leading space)
    for (const t of raw) expect(t).toMatch(/^ ?(yes|Yes|no|No)$/);
    const answers = new Set(raw.map((t) => normalizeShort('yes-no', t)));
    // both answers come up: the grammar leaves the choice to the model, it does not force one word
    expect([...answers].sort()).toEqual(['no', 'yes']);
  });

  it('without the grammar the same model writes no yes or no: the answers above are the grammar at work', async () => {
    const s = shortQuestion('Is it red?');
    const r = await chat.oneShot({ image: red, prompt: s.prompt, model: models.a, options: { maxTokens: 6, seed: 1 } });
    expect(r.text).not.toMatch(/^ ?(yes|no)$/i);
  });

  it('a count answers in digits', async () => {
    for (const q of ['How many cars are there?', 'Count the people.', 'How much does it cost?']) {
      const s = shortQuestion(q);
      for (const seed of [1, 2, 3]) {
        const r = await chat.oneShot({
          image: split,
          prompt: s.prompt,
          model: models.a,
          options: { grammar: s.grammar!, maxTokens: s.maxTokens, seed, temperature: 1 },
        });
        // a count is whole; an amount may have decimals; never a word or a leading zero
        expect(r.text).toMatch(/how much/i.test(q) ? /^ ?(0|[1-9]\d*)(\.\d{0,2})?$/ : /^ ?(0|[1-9]\d*)$/);
        expect(normalizeShort('number', r.text)).toMatch(/^\d+(\.\d+)?$/);
      }
    }
  });
});

describe('askShort and captionImage', () => {
  it('answer each kind of question in its shape, the same way each time', async () => {
    const yes = await askShort(chat, { image: red, question: 'Is it a receipt?', model: models.a });
    expect(yes.kind).toBe('yes-no');
    expect(['yes', 'no']).toContain(yes.answer);
    const count = await askShort(chat, { image: red, question: 'How many people are there?', model: models.a });
    expect(count).toMatchObject({ kind: 'number', answer: expect.stringMatching(/^\d+$/) });
    const phrase = await askShort(chat, { image: red, question: 'What colour is it?', model: models.a });
    expect(phrase.kind).toBe('phrase');
    expect(phrase.answer).not.toBe('');
    expect(phrase.answer).not.toContain('\n');
    // greedy: asked again, the same answer
    expect(await askShort(chat, { image: red, question: 'What colour is it?', model: models.a })).toEqual(phrase);
  });

  it('caption one image, cleaned to one line', async () => {
    const text = await captionImage(chat, { image: split, model: models.a, prompt: CAPTION_PROMPTS.smolvlm });
    expect(text).not.toBe('');
    expect(text).not.toContain('\n');
    expect(text.length).toBeLessThanOrEqual(300);
  });
});

describe('one-shot requests', () => {
  it('keep nothing: no conversation, no attachment, no normalised image left behind', async () => {
    const before = chat.list().length;
    const r = await chat.oneShot({ image: red, prompt: 'Describe this photo in one sentence.', model: models.a });
    expect(r.stats.generatedTokens).toBeGreaterThan(0);
    expect(r.stats.promptTokens + r.stats.cachedTokens).toBeGreaterThan(16); // the image's 16 positions and the text
    expect(chat.list()).toHaveLength(before);
    expect(db.prepare('SELECT count(*) AS n FROM attachments').get()).toEqual({ n: 0 });
    expect(existsSync(scratch) ? await readdir(scratch) : []).toEqual([]);
  });

  it('take image bytes as well as a path', async () => {
    const bytes = new Uint8Array(await (await import('node:fs/promises')).readFile(split));
    const r = await chat.oneShot({ image: bytes, prompt: 'What is this?', model: models.a, options: { maxTokens: 4 } });
    expect(r.stats.generatedTokens).toBeGreaterThan(0);
  });

  it('a broken picture fails that request alone, before the model sees it; the next one is answered', async () => {
    const broken = await img.writeTruncatedJpeg(path.join(tmp, 'broken.jpg'));
    await chat.oneShot({ image: red, prompt: 'Warm up.', model: models.a, options: { maxTokens: 2 } });
    events = [];
    loads = [];
    const err = await chat
      .oneShot({ image: broken, prompt: 'What is this?', model: models.a, options: { maxTokens: 2 } })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('broken.jpg');
    const ok = await chat.oneShot({ image: red, prompt: 'And this?', model: models.a, options: { maxTokens: 2 } });
    expect(ok.stats.generatedTokens).toBeGreaterThan(0);
    expect(events).toEqual(['start And this?', 'end And this?']); // the broken one never reached llama.cpp
    expect(loads).toEqual([]); // nor cost a reload
    expect(existsSync(scratch) ? await readdir(scratch) : []).toEqual([]);
  });

  it('a failed completion releases its context like a failed chat turn; the next request loads a fresh one', async () => {
    const small = { ...models.a, contextSize: 64 };
    const words = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    const err = await chat
      .oneShot({ image: red, prompt: `Too long ${words}`, model: small, options: { maxTokens: 4 } })
      .catch((e: Error) => e);
    expect((err as Error).message).toMatch(/no longer fits the model's context/);
    expect(events.at(-1)).toBe('release a'); // released after the failure, not during it
    const ok = await chat.oneShot({ image: red, prompt: 'Short.', model: small, options: { maxTokens: 3 } });
    expect(ok.stats.generatedTokens).toBeGreaterThan(0);
    expect(loads).toEqual(['a', 'a']);
    expect(counters.releasedWhileGenerating).toBe(0);
  });

  it('a signal stops the answer being written; the model stays loaded and answers the next', async () => {
    const long = { ...models.a, contextSize: 32_768 };
    await chat.oneShot({ image: red, prompt: 'Load.', model: long, options: { maxTokens: 1 } });
    loads = [];
    const abort = new AbortController();
    const first = whenStarted('On and on.');
    const run = chat
      .oneShot({ image: red, prompt: 'On and on.', model: long, options: { maxTokens: 30_000 }, signal: abort.signal })
      .catch((e: Error) => e);
    await first;
    abort.abort(new Error('cancelled by the test'));
    expect(((await run) as Error).message).toBe('cancelled by the test');
    const next = await chat.oneShot({ image: red, prompt: 'Next.', model: long, options: { maxTokens: 2 } });
    expect(next.stats.generatedTokens).toBeGreaterThan(0);
    expect(loads).toEqual([]);
    // a request cancelled while it waits never runs
    const gone = new AbortController();
    gone.abort(new Error('never mind'));
    const refused = await chat
      .oneShot({ image: red, prompt: 'Never.', model: long, signal: gone.signal })
      .catch((e: Error) => e);
    expect((refused as Error).message).toBe('never mind');
    expect(events).not.toContain('start Never.');
  });
});

describe('two models loaded, one queue', () => {
  it('keeps two models loaded: alternating requests do not reload; a third releases the least recently used', async () => {
    await chat.close(); // start from nothing loaded
    events = [];
    const ask = (m: 'a' | 'b' | 'c', prompt: string) =>
      chat.oneShot({ image: red, prompt, model: models[m], options: { maxTokens: 2 } });
    await ask('a', 'A1');
    await ask('b', 'B1');
    await ask('a', 'A2');
    await ask('b', 'B2');
    expect(loads).toEqual(['a', 'b']);
    await ask('c', 'C1'); // a was used least recently
    expect(loads).toEqual(['a', 'b', 'c']);
    expect(events.filter((e) => e.startsWith('release'))).toEqual(['release a']);
    expect(events.indexOf('release a')).toBeGreaterThan(events.indexOf('end B2'));
    expect(events.indexOf('release a')).toBeLessThan(events.indexOf('start C1'));
    await ask('b', 'B3'); // still loaded
    expect(loads).toEqual(['a', 'b', 'c']);
    // new settings for loaded files make that instance stale: it goes, the other stays
    await chat.oneShot({ image: red, prompt: 'B4', model: { ...models.b, threads: 1 }, options: { maxTokens: 2 } });
    expect(loads).toEqual(['a', 'b', 'c', 'b']);
    expect(events.filter((e) => e.startsWith('release'))).toEqual(['release a', 'release b']);
    await ask('c', 'C2');
    expect(loads).toHaveLength(4);
    expect(counters.releasedWhileGenerating).toBe(0);
  });

  it('interactive requests go before waiting background work: a chat waits only for the one running', async () => {
    const long = { ...models.a, contextSize: 32_768 };
    await chat.oneShot({ image: red, prompt: 'Load.', model: long, options: { maxTokens: 1 } });
    events = [];
    const background = (i: number, maxTokens: number) =>
      chat.oneShot({ image: red, prompt: `bg${i}`, model: long, options: { maxTokens }, background: true });
    // a background request starts; once it generates, another waits behind it
    const first = whenStarted('bg1');
    const bg1 = background(1, 200);
    await first;
    const bg2 = background(2, 2);
    // then a chat turn with a picture (it decodes before it is queued) and a short answer about a picture
    const c = chat.create();
    const sent = chat.send(c.id, { text: 'chat turn', images: [split] }, long, { maxTokens: 2 });
    const asked = chat.oneShot({ image: split, prompt: 'short answer', model: long, options: { maxTokens: 2 } });
    await Promise.all([bg1, bg2, sent, asked]);
    // both interactive requests (in whichever order their pictures decoded) ran before the waiting background one
    expect(events.slice(0, 2)).toEqual(['start bg1', 'end bg1']);
    expect(
      events
        .slice(2, 6)
        .filter((e) => e.startsWith('start'))
        .sort(),
    ).toEqual(['start chat turn', 'start short answer']);
    expect(events.slice(6)).toEqual(['start bg2', 'end bg2']);
  });

  it('a background request waits for an interactive one still decoding its picture when the model frees', async () => {
    const long = { ...models.a, contextSize: 32_768 };
    await chat.oneShot({ image: red, prompt: 'Load.', model: long, options: { maxTokens: 1 } });
    // a picture that takes a while to decode and store (random pixels, 6 megapixels, PNG)
    const w = 3000;
    const h = 2000;
    const noise = new Uint8Array(w * h * 3);
    const next = img.seededRandom(7);
    for (let i = 0; i < noise.length; i++) noise[i] = next() & 0xff;
    const big = await img.writeFromRaw(path.join(tmp, 'big.png'), noise, w, h);
    events = [];
    const release = holdAt('bg1');
    const started = whenStarted('bg1');
    const bg1 = chat.oneShot({ image: red, prompt: 'bg1', model: long, options: { maxTokens: 1 }, background: true });
    await started;
    const bg2 = chat.oneShot({ image: red, prompt: 'bg2', model: long, options: { maxTokens: 1 }, background: true });
    await until(() => chat.queued().background > 0);
    expect(chat.queued()).toEqual({ interactive: 0, background: 1 });
    // the person sends a picture; the running answer ends while that picture is still being decoded
    const c = chat.create();
    const sent = chat.send(c.id, { text: 'big picture', images: [big] }, long, { maxTokens: 1 });
    release();
    await Promise.all([bg1, bg2, sent]);
    expect(events.filter((e) => e.startsWith('start'))).toEqual(['start bg1', 'start big picture', 'start bg2']);
  });

  it('background work is never refused as busy: a full queue refuses interactive requests only', async () => {
    const strict = new ChatService({
      db,
      attachmentsDir: path.join(tmp, 'attachments'),
      scratchDir: scratch,
      load,
      maxWaiting: 0,
    });
    try {
      // a long answer runs (stopped below), so the queue is full while the others arrive
      const long = { ...models.a, contextSize: 32_768 };
      const stop = new AbortController();
      const first = whenStarted('running');
      const running = strict
        .oneShot({ image: red, prompt: 'running', model: long, options: { maxTokens: 30_000 }, signal: stop.signal })
        .catch((e: Error) => e);
      await first;
      const refused = await strict
        .oneShot({ image: red, prompt: 'refused', model: long, options: { maxTokens: 2 } })
        .catch((e: Error & { code?: string }) => e);
      expect((refused as { code?: string }).code).toBe('busy');
      const background = strict.oneShot({
        image: red,
        prompt: 'background',
        model: long,
        options: { maxTokens: 2 },
        background: true,
      });
      // queued behind the running answer, in a queue that refuses interactive requests
      await until(() => strict.queued().background > 0);
      expect(strict.queued()).toEqual({ interactive: 0, background: 1 });
      stop.abort(new Error('enough'));
      expect(((await running) as Error).message).toBe('enough');
      expect((await background).stats.generatedTokens).toBeGreaterThan(0);
      expect(events).not.toContain('start refused');
    } finally {
      await strict.close();
    }
  });
});
