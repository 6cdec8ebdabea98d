// The caption job on real parts: a real SQLite library indexed with the tiny CLIP model, captions written by the
// real llama.cpp binding with a tiny LLaVA pair of random weights (gibberish captions; the mechanics are what is
// checked), through the chat service's queue. Completions, the job's reads of its source and its saves are logged
// in one list, so every check is about the order things happened in, never about time. The job's own rules (fatal
// errors, a run of identical failures, the rate) are checked after, with a source and captioner made by hand.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CaptionJob,
  type CaptionJobDeps,
  type CaptionProgress,
  chatCaptioner,
  SAME_FAILURE_LIMIT,
} from '../../electron/engine/captions/caption-job.ts';
import { CAPTION_PROMPTS, captionPromptForCatalog, cleanCaption } from '../../electron/engine/captions/prompts.ts';
import { ChatService } from '../../electron/engine/chat/chat-service.ts';
import { type Db, openDatabase } from '../../electron/engine/db/database.ts';
import { Library } from '../../electron/engine/library/library.ts';
import { loadLlamaNodeChat } from '../../native-models/llava/llama-node.ts';
import type { VisionChat, VisionChatLoadOptions } from '../../native-models/llava/vision-chat.ts';
import { colourVocabulary } from '../fixtures/colour-vocabulary.ts';
import * as img from '../fixtures/images.ts';
import { type ChatCounters, loggedChat } from '../fixtures/logged-chat.ts';
import { writeTinyClip } from '../fixtures/tiny-clip.ts';
import { writeTinyLlava } from '../fixtures/tiny-llava.ts';

const PHOTOS = 6;
/** A caption prompt with a small budget: the tiny model never ends an answer by itself. */
const PROMPT = { prompt: CAPTION_PROMPTS.smolvlm.prompt, maxTokens: 6 };
const CAPTION_TAG = `start ${PROMPT.prompt}`;

let tmp: string;
let lib: Library;
let db: Db;
let chat: ChatService;
let model: VisionChatLoadOptions;
let files: string[];
let ids: number[];
/** Everything in order: "start <prompt's first line>", "end …", "next <photo>", "save <photo>", "release". */
let events: string[];
let loads = 0;
const counters: ChatCounters = { generating: 0, releasedWhileGenerating: 0 };
/** Called at the start of every completion with its first line (the test's hooks). */
let onStart: ((tag: string) => void) | null = null;

async function load(o: VisionChatLoadOptions): Promise<VisionChat> {
  loads++;
  return loggedChat(await loadLlamaNodeChat(o), {
    log: (e) => events.push(e),
    counters,
    releaseEvent: 'release',
    onStart: (tag) => onStart?.(tag),
  });
}

const name = (id: number) => path.basename(files[ids.indexOf(id)]!);

/** A job over the library for this model id, logging its reads and saves. */
function job(modelId: string, extra: Partial<CaptionJobDeps> & { redoBefore?: number } = {}) {
  const progress: CaptionProgress[] = [];
  const source = lib.photosToCaption({
    model: modelId,
    ...(extra.redoBefore !== undefined ? { redoBefore: extra.redoBefore } : {}),
  });
  const j = new CaptionJob({
    model: modelId,
    photos: {
      total: source.total,
      next: () => {
        const p = source.next();
        events.push(`next ${p ? path.basename(p.path) : 'none'}`);
        return p;
      },
    },
    caption: chatCaptioner(chat, model, PROMPT),
    save: (id, text) => {
      events.push(`save ${name(id)}`);
      lib.setModelCaption(id, modelId, text);
    },
    onProgress: (p) => progress.push(p),
    ...extra,
  });
  return { job: j, progress };
}

/** Captions written by this model id, by photo file name. */
function captionsBy(modelId: string): Record<string, string> {
  const rows = db
    .prepare<[string], { photo_id: number; text: string }>('SELECT photo_id, text FROM captions WHERE model = ?')
    .all(modelId);
  return Object.fromEntries(rows.map((r) => [name(r.photo_id), r.text]));
}

const captionStarts = () => events.filter((e) => e === CAPTION_TAG).length;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-caption-job-'));
  const clipDir = (await writeTinyClip(path.join(tmp, 'models', 'tiny-clip'))).dir;
  const colours: [number, number, number][] = [
    [230, 20, 20],
    [20, 200, 30],
    [10, 20, 220],
    [240, 230, 20],
    [250, 250, 250],
    [20, 20, 20],
  ];
  files = [];
  for (const [i, rgb] of colours.entries()) {
    files.push(await img.writeSolid(path.join(tmp, 'photos', `photo-${i + 1}.jpg`), rgb, 64, 48));
  }
  lib = Library.open({ home: path.join(tmp, 'home'), modelDir: clipDir, vocabulary: colourVocabulary(), batchSize: 4 });
  const indexed = await lib.indexFolders([path.join(tmp, 'photos')]);
  expect(indexed.indexed).toBe(PHOTOS);
  // in the library's order (by id), the order a job takes them in
  files.sort((a, b) => lib.photoDetail(a).row.id - lib.photoDetail(b).row.id);
  ids = files.map((f) => lib.photoDetail(f).row.id);
  // the job's captions are read back beside the library (WAL allows a second connection)
  db = openDatabase(path.join(tmp, 'home', 'glance.db'));
  const tiny = await writeTinyLlava(path.join(tmp, 'llava'));
  model = { model: tiny.model, mmproj: tiny.mmproj, contextSize: 1024 };
  chat = new ChatService({
    db,
    attachmentsDir: path.join(tmp, 'attachments'),
    scratchDir: path.join(tmp, 'scratch'),
    load,
  });
});

afterAll(async () => {
  await chat?.close();
  lib?.close();
  db?.close();
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  events = [];
  onStart = null;
});

describe('captioning a library', () => {
  it('captions every photo, one at a time, reporting progress as it goes', async () => {
    const { job: j, progress } = job('tiny-all');
    const first = j.start();
    expect(first).toMatchObject({ state: 'running', done: 0, total: PHOTOS, failed: 0, model: 'tiny-all' });
    const end = await j.finished;
    expect(end).toMatchObject({ state: 'done', done: PHOTOS, total: PHOTOS, failed: 0, current: null });
    expect(end.photosPerSecond).toBeGreaterThan(0);
    expect(end.etaSeconds).toBe(0);
    const captions = captionsBy('tiny-all');
    expect(Object.keys(captions).sort()).toEqual(files.map((f) => path.basename(f)).sort());
    for (const text of Object.values(captions)) expect(text.trim()).not.toBe('');
    expect(lib.caption(ids[0]!)).toMatchObject({ model: 'tiny-all', edited: false });
    // one photo at a time: the next photo is asked for only after the last caption was saved
    const steps = events.filter((e) => !e.startsWith('release'));
    const expected = files.flatMap((f) => {
      const n = path.basename(f);
      return [`next ${n}`, CAPTION_TAG, `end ${PROMPT.prompt}`, `save ${n}`];
    });
    expect(steps).toEqual([...expected, 'next none']);
    // progress: every photo is shown while it is captioned, and `done` only ever grows to the total
    const current = progress.filter((p) => p.current).map((p) => path.basename(p.current!.path));
    expect([...new Set(current)]).toEqual(files.map((f) => path.basename(f)));
    const done = progress.map((p) => p.done);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual(end);
    expect(progress.filter((p) => p.done > 0 && p.state === 'running').every((p) => p.photosPerSecond > 0)).toBe(true);
    expect(progress.filter((p) => p.done > 0 && p.done < PHOTOS).every((p) => (p.etaSeconds ?? 0) > 0)).toBe(true);
  });

  it('a broken picture fails that photo alone, with its error kept; the others are captioned without a reload', async () => {
    const broken = files[2]!;
    const { job: j } = job('tiny-broken');
    // the file is damaged after it was indexed: the job finds out when it reads it
    await writeFile(broken, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70]));
    const loadsBefore = loads;
    try {
      j.start();
      const end = await j.finished;
      expect(end).toMatchObject({ state: 'done', done: PHOTOS, failed: 1 });
      expect(end.failures).toHaveLength(1);
      expect(end.failures[0]).toMatchObject({ photoId: ids[2], path: broken });
      expect(end.failures[0]!.message).toContain(path.basename(broken));
      expect(Object.keys(captionsBy('tiny-broken')).sort()).toEqual(
        files
          .filter((f) => f !== broken)
          .map((f) => path.basename(f))
          .sort(),
      );
      expect(loads).toBe(loadsBefore); // the picture was refused before llama.cpp saw it: no context lost
      expect(captionStarts()).toBe(PHOTOS - 1);
    } finally {
      await img.writeSolid(broken, [10, 20, 220], 64, 48); // whole again for the tests after
    }
  });

  it('pauses after the photo being captioned, serves a chat meanwhile, and resumes where it stopped', async () => {
    let paused!: () => void;
    const idle = new Promise<void>((resolve) => {
      paused = resolve;
    });
    let asked = false;
    const { job: j } = job('tiny-pause', {
      onProgress: (p) => {
        if (p.state === 'running' && p.done === 2 && !p.current && !asked) {
          asked = true;
          j.pause();
        }
        if (p.state === 'paused' && !p.current) paused();
      },
    });
    j.start();
    await idle;
    expect(j.progress()).toMatchObject({ state: 'paused', done: 2, current: null });
    expect(captionStarts()).toBe(2);
    // the model is free while the job is paused
    const c = chat.create();
    const m = await chat.send(c.id, { text: 'While paused', images: [files[0]!] }, model, { maxTokens: 3 });
    expect(m.role).toBe('assistant');
    expect(captionStarts()).toBe(2); // nothing of the job ran meanwhile
    expect(j.resume().state).toBe('running');
    const end = await j.finished;
    expect(end).toMatchObject({ state: 'done', done: PHOTOS, failed: 0 });
    expect(Object.keys(captionsBy('tiny-pause'))).toHaveLength(PHOTOS);
    expect(captionStarts()).toBe(PHOTOS);
  });

  it('a cancelled job keeps what it finished; a new job captions the rest, no photo twice, none skipped', async () => {
    const saved: string[] = [];
    const save = (id: number, text: string) => {
      saved.push(name(id));
      lib.setModelCaption(id, 'tiny-resume', text);
    };
    let starts = 0;
    const first = job('tiny-resume', { save });
    // cancelled as the third photo's caption starts: it is stopped and not saved
    onStart = (tag) => {
      if (tag === PROMPT.prompt && ++starts === 3) first.job.cancel();
    };
    first.job.start();
    const stopped = await first.job.finished;
    expect(stopped).toMatchObject({ state: 'cancelled', done: 2, failed: 0, current: null });
    expect(saved).toEqual(files.slice(0, 2).map((f) => path.basename(f)));
    expect(first.progress.at(-1)?.state).toBe('cancelled');
    onStart = null;
    // as after a kill: a new job over the same library and model
    const second = job('tiny-resume', { save });
    expect(second.job.start()).toMatchObject({ total: PHOTOS - 2, done: 0 });
    expect(await second.job.finished).toMatchObject({ state: 'done', done: PHOTOS - 2 });
    expect(saved).toEqual(files.map((f) => path.basename(f)));
    expect(Object.keys(captionsBy('tiny-resume'))).toHaveLength(PHOTOS);
    expect(counters.releasedWhileGenerating).toBe(0);
  });

  it('an interactive chat during the job waits for the photo being captioned, not for the job', async () => {
    const { job: j } = job('tiny-busy');
    let sent: Promise<unknown> | null = null;
    onStart = (tag) => {
      if (tag === PROMPT.prompt && !sent) {
        // the first photo is being captioned: a person asks about a picture
        const c = chat.create();
        sent = chat.send(c.id, { text: 'Interactive', images: [files[1]!] }, model, { maxTokens: 3 });
      }
    };
    j.start();
    await j.finished;
    await sent;
    const order = events.filter((e) => e.startsWith('start') || e.startsWith('end'));
    const chatStart = order.indexOf('start Interactive');
    const chatEnd = order.indexOf('end Interactive');
    const captionStartsAt = order.flatMap((e, i) => (e === CAPTION_TAG ? [i] : []));
    expect(captionStartsAt).toHaveLength(PHOTOS);
    // counted, not timed: it ran right after the first photo, before the second began (so well before the third)
    expect(order.slice(0, 4)).toEqual([CAPTION_TAG, `end ${PROMPT.prompt}`, 'start Interactive', 'end Interactive']);
    expect(chatEnd).toBeLessThan(captionStartsAt[2]!);
    expect(chatStart).toBeGreaterThan(captionStartsAt[0]!);
  });

  it("a redo rewrites the model's captions but never touches a person's", async () => {
    const before = captionsBy('tiny-all');
    lib.setPersonCaption(ids[0]!, 'My red square');
    const since = Date.now() + 1;
    const { job: j } = job('tiny-all', { redoBefore: since });
    expect(j.start().total).toBe(PHOTOS - 1);
    expect(await j.finished).toMatchObject({ state: 'done', done: PHOTOS - 1 });
    expect(events).not.toContain(`save ${path.basename(files[0]!)}`);
    expect(lib.caption(ids[0]!)).toMatchObject({ text: 'My red square', edited: true });
    const after = db
      .prepare<[string], { photo_id: number; created_at: number }>(
        'SELECT photo_id, created_at FROM captions WHERE model = ?',
      )
      .all('tiny-all');
    for (const r of after.filter((r) => r.photo_id !== ids[0])) expect(r.created_at).toBeGreaterThanOrEqual(since);
    expect(Object.keys(before)).toHaveLength(PHOTOS);
  });
});

describe('the job on its own', () => {
  const photos = (n: number) => {
    let i = 0;
    return { total: n, next: () => (i < n ? { id: ++i, path: `/p/${i}.jpg` } : null) };
  };

  it('a model that cannot load fails the job once instead of failing every photo', async () => {
    const j = new CaptionJob({
      model: 'm',
      photos: photos(5),
      caption: async () => {
        throw Object.assign(new Error('the model could not be loaded: no such file'), { code: 'load-failed' });
      },
      save: () => {},
    });
    j.start();
    expect(await j.finished).toMatchObject({
      state: 'failed',
      done: 0,
      failed: 0,
      error: 'the model could not be loaded: no such file',
    });
  });

  it(`${SAME_FAILURE_LIMIT} failures in a row with one message stop the job; different ones do not`, async () => {
    const same = new CaptionJob({
      model: 'm',
      photos: photos(50),
      caption: async () => 'a caption',
      save: () => {
        throw new Error('the database is closed');
      },
    });
    same.start();
    expect(await same.finished).toMatchObject({
      state: 'failed',
      done: SAME_FAILURE_LIMIT,
      failed: SAME_FAILURE_LIMIT,
    });
    const different = new CaptionJob({
      model: 'm',
      photos: photos(50),
      caption: async (p) => {
        throw new Error(`${p.path} cannot be read`);
      },
      save: () => {},
    });
    different.start();
    const end = await different.finished;
    expect(end).toMatchObject({ state: 'done', done: 50, failed: 50 });
    expect(end.failures).toHaveLength(50);
  });

  it('a model that writes nothing fails that photo; the caption saved is the cleaned first sentence', async () => {
    const saved: [number, string][] = [];
    const j = new CaptionJob({
      model: 'm',
      photos: photos(2),
      caption: async (p) => (p.id === 1 ? '  \n ' : ' A dog on a beach. It is sunny.\nMore.'),
      save: (id, t) => saved.push([id, t]),
    });
    j.start();
    expect(await j.finished).toMatchObject({ state: 'done', done: 2, failed: 1 });
    expect(j.progress().failures[0]!.message).toMatch(/no caption/);
    expect(saved).toEqual([[2, 'A dog on a beach.']]);
  });

  it('measures the rate over the photos captioned, paused time excluded, and the time left from it', async () => {
    let clock = 0;
    let asked = false;
    let paused!: () => void;
    const idle = new Promise<void>((resolve) => {
      paused = resolve;
    });
    const j = new CaptionJob({
      model: 'm',
      photos: photos(10),
      now: () => clock,
      caption: async () => {
        clock += 2000; // two seconds a photo
        return 'caption';
      },
      save: () => {},
      onProgress: (p) => {
        if (p.done === 2 && p.current === null && p.state === 'running' && !asked) {
          asked = true;
          j.pause();
        }
        if (p.state === 'paused' && p.current === null) paused();
      },
    });
    j.start();
    await idle;
    expect(j.progress()).toMatchObject({ state: 'paused', done: 2, photosPerSecond: 0.5, etaSeconds: 16 });
    clock += 60_000; // a minute of pause does not change the rate
    j.resume();
    const end = await j.finished;
    expect(end).toMatchObject({ state: 'done', done: 10, photosPerSecond: 0.5, etaSeconds: 0 });
  });

  it('cancel while paused ends the job; pause, resume and cancel after the end change nothing', async () => {
    const j = new CaptionJob({ model: 'm', photos: photos(3), caption: async () => 'c', save: () => {} });
    j.start();
    j.pause();
    j.cancel();
    expect((await j.finished).state).toBe('cancelled');
    expect(j.resume().state).toBe('cancelled');
    const k = new CaptionJob({ model: 'm', photos: photos(1), caption: async () => 'c', save: () => {} });
    k.start();
    await k.finished;
    expect(k.pause().state).toBe('done');
    expect(k.cancel().state).toBe('done');
  });
});

describe('caption prompts', () => {
  it('gives each catalog model its prompt, SmolVLM a short budget', () => {
    expect(captionPromptForCatalog('smolvlm-500m')).toEqual({
      prompt: 'Describe this photo in one sentence.',
      maxTokens: 48,
    });
    expect(captionPromptForCatalog('llava-1.5-7b').prompt).toBe(
      'Provide a one-sentence caption for the provided image.',
    );
    expect(captionPromptForCatalog('qwen2.5-vl-3b').prompt).toMatch(/one sentence/);
    expect(captionPromptForCatalog('gemma-3-4b').prompt).toMatch(/one sentence/);
    expect(captionPromptForCatalog('something-else')).toEqual(CAPTION_PROMPTS.other);
  });

  it('cleans an answer into a caption: first line, first sentence, bounded', () => {
    expect(cleanCaption('  A red  car parked by 3.5 m of wall. Behind it, a tree.')).toBe(
      'A red car parked by 3.5 m of wall.',
    );
    expect(cleanCaption('\n\nTwo dogs playing\nin the snow')).toBe('Two dogs playing');
    expect(cleanCaption('   ')).toBe('');
    const long = cleanCaption(`A ${'very '.repeat(100)}long caption`);
    expect(long.length).toBeLessThanOrEqual(300);
    expect(long.endsWith('…')).toBe(true);
  });
});
