// Vision chat end to end on CPU: the real engine process (child_process.fork), the real llama.cpp binding, a tiny
// LLaVA-1.5-shaped model made by the project's GGUF writer. The model's words are gibberish; what is checked is
// the mechanics: streaming, turns, the KV cache, images, stop, failures and crashes.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineError, type EngineStatus, EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import type { VisionChatLoadOptions } from '../../native-models/llava/vision-chat.ts';
import * as img from '../fixtures/images.ts';
import { type TinyLlava, VICUNA_TEMPLATE, writeTinyLlava, writeTruncated } from '../fixtures/tiny-llava.ts';

let tmp: string;
let tiny: TinyLlava;
let model: VisionChatLoadOptions;
let engine: EngineSupervisor;
let tokens: string[];
let statuses: EngineStatus[];
let photo: string;
let photo2: string;
/** A model with room for an answer of tens of thousands of tokens: it cannot end before a stop reaches it. */
let long: VisionChatLoadOptions;
let tokenWaiters: { conversationId: number; resolve: () => void }[] = [];

const options = { maxTokens: 12, seed: 7, temperature: 0 };
/** The tiny model never writes </s>: an answer this long runs until stopped (or its engine dies). */
const LONG = { maxTokens: 30_000, seed: 1 };

/** Resolves at the next token of this conversation's answer: call it before the request that makes it. */
function nextToken(conversationId: number): Promise<void> {
  return new Promise((resolve) => tokenWaiters.push({ conversationId, resolve }));
}

/** Rows of the engine's database, read beside it (WAL allows a reader). */
function query<T>(sql: string, ...args: unknown[]): T[] {
  const db = new Database(path.join(tmp, 'home', 'glance.db'), { readonly: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-chat-'));
  tiny = await writeTinyLlava(path.join(tmp, 'model'));
  model = { model: tiny.model, mmproj: tiny.mmproj, contextSize: 1024 };
  const roomy = await writeTinyLlava(path.join(tmp, 'long'), { contextLength: 32_768 });
  long = { model: roomy.model, mmproj: roomy.mmproj, contextSize: 32_768 };
  photo = await img.writeSolid(path.join(tmp, 'photo.jpg'), [200, 30, 30], 120, 80);
  photo2 = await img.writeSplit(path.join(tmp, 'second.png'), [0, 0, 255], [255, 255, 0], 64, 64);
  tokens = [];
  statuses = [];
  engine = new EngineSupervisor({
    home: path.join(tmp, 'home'),
    events: {
      chatToken: (e) => {
        tokens.push(e.token);
        const ready = tokenWaiters.filter((w) => w.conversationId === e.conversationId);
        tokenWaiters = tokenWaiters.filter((w) => w.conversationId !== e.conversationId);
        for (const w of ready) w.resolve();
      },
    },
    onStatus: (s) => statuses.push(s),
    backoffMs: 100,
  });
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await rm(tmp, { recursive: true, force: true });
});

afterEach(() => {
  tokens = [];
});

describe('asking about images', () => {
  it('answers a question about one image, streaming tokens as they come', async () => {
    const c = await engine.call('chatCreate', {});
    const m = await engine.call('chatSend', {
      conversationId: c.id,
      text: 'What is this?',
      images: [photo],
      model,
      options,
    });
    expect(m.role).toBe('assistant');
    expect(m.stats!.generatedTokens).toBeGreaterThan(0);
    expect(tokens.length).toBeGreaterThan(1);
    expect(JSON.stringify(tokens.join(''))).toBe(JSON.stringify(m.text));
    // the image's 16 positions (a 32 px image in 8 px patches) are part of the prompt
    expect(m.stats!.promptTokens).toBeGreaterThan(tiny.imageTokens);
    const saved = await engine.call('chatGet', { id: c.id });
    expect(saved.messages.map((x) => x.role)).toEqual(['user', 'assistant']);
    expect(saved.messages[0]!.images).toHaveLength(1);
    expect(saved.title).toBe('What is this?');
  });

  it('keeps talking: follow-up turns reuse the KV cache instead of encoding the image again', async () => {
    const c = await engine.call('chatCreate', { systemPrompt: 'You are terse.' });
    const t1 = await engine.call('chatSend', {
      conversationId: c.id,
      text: 'Describe it.',
      images: [photo],
      model,
      options,
    });
    const t2 = await engine.call('chatSend', { conversationId: c.id, text: 'And the colour?', model, options });
    const t3 = await engine.call('chatSend', { conversationId: c.id, text: 'Thanks. Anything else?', model, options });
    const conv = await engine.call('chatGet', { id: c.id });
    expect(conv.messages).toHaveLength(6);
    // turn 1 evaluates everything; turns 2 and 3 only what is new since the cached prefix
    expect(t2.stats!.cachedTokens).toBeGreaterThan(tiny.imageTokens);
    expect(t2.stats!.promptTokens).toBeLessThan(t1.stats!.promptTokens);
    expect(t3.stats!.promptTokens).toBeLessThan(t1.stats!.promptTokens + t2.stats!.promptTokens);
    expect(t3.stats!.cachedTokens).toBeGreaterThan(t2.stats!.cachedTokens);
  });

  it('takes two images in one turn', async () => {
    const c = await engine.call('chatCreate', {});
    const m = await engine.call('chatSend', {
      conversationId: c.id,
      text: 'Compare them.',
      images: [photo, photo2],
      model,
      options,
    });
    expect(m.stats!.promptTokens).toBeGreaterThan(2 * tiny.imageTokens);
    const conv = await engine.call('chatGet', { id: c.id });
    expect(conv.messages[0]!.images.map((i) => i.mime)).toEqual(['image/jpeg', 'image/png']);
  });

  it('stops mid-stream, keeps what was written, and continues after', async () => {
    const c = await engine.call('chatCreate', {});
    const first = nextToken(c.id);
    const run = engine.call('chatSend', {
      conversationId: c.id,
      text: 'Tell me a long story.',
      images: [photo],
      model: long,
      options: LONG,
    });
    await first;
    const stopped = await engine.call('chatStop', { conversationId: c.id });
    const m = await run;
    expect(stopped).toBe(true);
    expect(m.stats!.stopped).toBe(true);
    expect(m.stats!.generatedTokens).toBeGreaterThan(0);
    expect(m.stats!.generatedTokens).toBeLessThan(LONG.maxTokens);
    const next = await engine.call('chatSend', { conversationId: c.id, text: 'Go on.', model, options });
    expect(next.stats!.stopped).toBe(false);
  });

  it('regenerates the last answer and edits an earlier question', async () => {
    const c = await engine.call('chatCreate', {});
    const first = await engine.call('chatSend', {
      conversationId: c.id,
      text: 'One?',
      images: [photo],
      model,
      options,
    });
    const again = await engine.call('chatRegenerate', {
      conversationId: c.id,
      model,
      options: { ...options, seed: 99 },
    });
    expect(again.id).not.toBe(first.id);
    await engine.call('chatSend', { conversationId: c.id, text: 'Two?', model, options });
    const conv = await engine.call('chatGet', { id: c.id });
    expect(conv.messages).toHaveLength(4);
    await engine.call('chatEdit', {
      conversationId: c.id,
      messageId: conv.messages[0]!.id,
      text: 'Uno?',
      model,
      options,
    });
    const edited = await engine.call('chatGet', { id: c.id });
    expect(edited.messages.map((m) => m.text.slice(0, 4))).toEqual(['Uno?', expect.any(String)]);
    expect(edited.messages[0]!.images).toHaveLength(1);
  });

  it('accepts image bytes (a pasted image) as well as paths', async () => {
    const c = await engine.call('chatCreate', {});
    const bytes = new Uint8Array(await (await import('node:fs/promises')).readFile(photo2));
    const m = await engine.call('chatSend', { conversationId: c.id, text: 'Pasted.', images: [bytes], model, options });
    expect(m.stats!.promptTokens).toBeGreaterThan(tiny.imageTokens);
  });
});

describe('what goes wrong', () => {
  it('a corrupt image is refused before the model sees it; the conversation and the model carry on', async () => {
    const c = await engine.call('chatCreate', {});
    await engine.call('chatSend', { conversationId: c.id, text: 'Hello', model, options });
    const bad = await img.writeTruncatedJpeg(path.join(tmp, 'cut.jpg'));
    const err = await engine
      .call('chatSend', { conversationId: c.id, text: 'And this?', images: [bad], model, options })
      .catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err.code).toBe('image-truncated');
    expect((await engine.call('chatGet', { id: c.id })).messages).toHaveLength(2); // nothing half-saved
    const ok = await engine.call('chatSend', { conversationId: c.id, text: 'Fine?', images: [photo], model, options });
    expect(ok.role).toBe('assistant');
  });

  it('a conversation whose first turn fails keeps nothing: no conversation, no attachment', async () => {
    const own = await img.writeSolid(path.join(tmp, 'first-turn.png'), [1, 2, 3], 30, 30);
    const cut = await writeTruncated(tiny.model, path.join(tmp, 'cut-first.gguf'), 0.6);
    const before = query<{ file: string }>('SELECT file FROM attachments').map((r) => r.file);
    const listed = (await engine.call('chatList')).length;
    // refused at load (a damaged model), with a picture only this conversation uses
    const c = await engine.call('chatCreate', {});
    const err = await engine
      .call('chatSend', { conversationId: c.id, text: 'x', images: [own], model: { ...model, model: cut }, options })
      .catch((e) => e);
    expect(err.code).toBe('truncated');
    await expect(engine.call('chatGet', { id: c.id })).rejects.toMatchObject({ code: 'not-found' });
    // refused at its first image: the first, already stored, is collected too
    const c2 = await engine.call('chatCreate', {});
    const bad = await img.writeTruncatedJpeg(path.join(tmp, 'cut2.jpg'));
    const err2 = await engine
      .call('chatSend', { conversationId: c2.id, text: 'y', images: [own, bad], model, options })
      .catch((e) => e);
    expect(err2.code).toBe('image-truncated');
    await expect(engine.call('chatGet', { id: c2.id })).rejects.toMatchObject({ code: 'not-found' });
    expect((await engine.call('chatList')).length).toBe(listed);
    const after = query<{ file: string }>('SELECT file FROM attachments').map((r) => r.file);
    expect(after.sort()).toEqual(before.sort());
    const files = (await readdir(path.join(tmp, 'home', 'attachments'), { recursive: true })).filter((f) =>
      /\.(png|jpg)$/.test(f),
    );
    expect(files.length).toBe(after.length);
  });

  it('a truncated model is a clear error, not a crash', async () => {
    const cut = await writeTruncated(tiny.model, path.join(tmp, 'cut.gguf'), 0.6);
    const c = await engine.call('chatCreate', {});
    const err = await engine
      .call('chatSend', { conversationId: c.id, text: 'x', model: { ...model, model: cut }, options })
      .catch((e) => e);
    expect(err.code).toBe('truncated');
    expect(err.message).toMatch(/truncated .*expected .*found/);
    expect(engine.state().restarts).toBe(0);
  });

  it('a projector of another model is refused with what does not match', async () => {
    const other = await writeTinyLlava(path.join(tmp, 'other'), { mmprojOutput: 48 });
    const c = await engine.call('chatCreate', {});
    const err = await engine
      .call('chatSend', { conversationId: c.id, text: 'x', model: { ...model, mmproj: other.mmproj }, options })
      .catch((e) => e);
    expect(err.code).toBe('projector-mismatch');
    expect(err.message).toMatch(/48/);
  });

  it('swapped files (the projector given as the model) are refused', async () => {
    const c = await engine.call('chatCreate', {});
    const err = await engine
      .call('chatSend', { conversationId: c.id, text: 'x', model: { model: tiny.mmproj, mmproj: tiny.model }, options })
      .catch((e) => e);
    expect(err.code).toMatch(/not-a-text-model|not-a-projector/);
  });

  it('a killed engine fails the call in flight with a clear error, restarts, and serves the next call', async () => {
    const c = await engine.call('chatCreate', {});
    tokens = [];
    const first = nextToken(c.id);
    const run = engine.call('chatSend', {
      conversationId: c.id,
      text: 'Long answer please.',
      images: [photo],
      model: long,
      options: LONG,
    });
    await first;
    const pid = engine.pid!;
    process.kill(pid, 'SIGSEGV'); // what a native crash looks like from outside
    const err = await run.catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err.code).toBe('engine-crashed');
    expect(err.message).toMatch(/SIGSEGV.*restarted/);
    const m = await engine.call('chatSend', { conversationId: c.id, text: 'Still there?', model, options });
    expect(m.role).toBe('assistant');
    expect(engine.pid).not.toBe(pid);
    expect(statuses.some((s) => s.state === 'restarting')).toBe(true);
    expect(engine.state().restarts).toBe(1);
  });
});

describe('templates, the queue and the context', () => {
  it("uses a template carried in the GGUF, or the user's override, and refuses an unknown name", async () => {
    const withTemplate = await writeTinyLlava(path.join(tmp, 'templated'), { chatTemplate: VICUNA_TEMPLATE });
    const own = { model: withTemplate.model, mmproj: withTemplate.mmproj, contextSize: 1024 };
    const c = await engine.call('chatCreate', {});
    const m = await engine.call('chatSend', { conversationId: c.id, text: 'Hi', images: [photo], model: own, options });
    expect(m.stats!.promptTokens).toBeGreaterThan(tiny.imageTokens);
    expect((await engine.call('modelInfo'))?.chatTemplate).toBe("the model's own");
    await engine.call('chatSend', {
      conversationId: c.id,
      text: 'Hi',
      model: { ...model, chatTemplate: 'chatml' },
      options,
    });
    expect((await engine.call('modelInfo'))?.chatTemplate).toBe('chatml');
    const err = await engine
      .call('chatSend', {
        conversationId: c.id,
        text: 'x',
        model: { ...model, chatTemplate: 'no-such-template' },
        options,
      })
      .catch((e) => e);
    expect(err.code).toBe('unknown-template');
    expect(engine.state().restarts).toBe(1); // no abort: only the earlier, deliberate kill
  });

  it('queues concurrent requests on one context, and refuses when too many wait', async () => {
    const running = await engine.call('chatCreate', {});
    const first = nextToken(running.id);
    const long1 = engine.call('chatSend', {
      conversationId: running.id,
      text: 'Go on and on',
      model: long,
      options: LONG,
    });
    await first; // one request is running: the next four wait, and any beyond that are refused
    const convs = await Promise.all(Array.from({ length: 6 }, () => engine.call('chatCreate', {})));
    const calls = convs.map((c) =>
      engine.call('chatSend', { conversationId: c.id, text: 'Hello there', model: long, options }),
    );
    const refused = await Promise.all(calls.slice(4).map((p) => p.catch((e) => e)));
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(r).toMatchObject({ code: 'busy' });
    await engine.call('chatStop', { conversationId: running.id });
    expect((await long1).stats!.stopped).toBe(true);
    const answered = await Promise.all(calls.slice(0, 4));
    expect(answered.map((m) => m.role)).toEqual(['assistant', 'assistant', 'assistant', 'assistant']);
  });

  it('a conversation longer than the context is a clear error, and the next request gets a fresh context', async () => {
    const small = { ...model, contextSize: 64 };
    const pidBefore = engine.pid;
    // 20 words overflow the context a little; 60 used to abort llama.cpp (a prompt chunk above the batch the
    // context was clamped to: GGML_ASSERT n_tokens_all <= n_batch); 120 overflow it by far.
    for (const n of [20, 60, 120]) {
      const c = await engine.call('chatCreate', {});
      const long = Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
      const err = await engine
        .call('chatSend', { conversationId: c.id, text: long, images: [photo], model: small, options })
        .catch((e) => e);
      expect(err.code, `${n} words`).toBe('completion-failed');
      expect(err.message).toMatch(/no longer fits the model's context/);
    }
    expect(engine.pid).toBe(pidBefore); // refused, not crashed
    const c2 = await engine.call('chatCreate', {});
    const m = await engine.call('chatSend', {
      conversationId: c2.id,
      text: 'Short.',
      images: [photo],
      model: small,
      options,
    });
    expect(m.role).toBe('assistant');
  });
});

describe('nothing lost', () => {
  /** A conversation of one answered turn, and that answer as stored. */
  async function answered(text = 'First question?') {
    const c = await engine.call('chatCreate', {});
    const answer = await engine.call('chatSend', { conversationId: c.id, text, images: [photo], model, options });
    return { id: c.id, answer, conversation: await engine.call('chatGet', { id: c.id }) };
  }

  it('a regenerate or an edit whose completion fails leaves the conversation as it was', async () => {
    const words = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    const a = await answered(words);
    const tooSmall = { ...model, contextSize: 64 }; // the conversation no longer fits: the completion fails
    const regen = await engine
      .call('chatRegenerate', { conversationId: a.id, model: tooSmall, options })
      .catch((e) => e);
    expect(regen.code).toBe('completion-failed');
    expect(await engine.call('chatGet', { id: a.id })).toEqual(a.conversation);
    const edit = await engine
      .call('chatEdit', {
        conversationId: a.id,
        messageId: a.conversation.messages[0]!.id,
        text: `${words} more`,
        model: tooSmall,
        options,
      })
      .catch((e) => e);
    expect(edit.code).toBe('completion-failed');
    expect(await engine.call('chatGet', { id: a.id })).toEqual(a.conversation);
    // and when it succeeds, the new answer replaces the old one
    const again = await engine.call('chatRegenerate', {
      conversationId: a.id,
      model,
      options: { ...options, seed: 3 },
    });
    const now = await engine.call('chatGet', { id: a.id });
    expect(now.messages.map((m) => m.id)).toEqual([a.conversation.messages[0]!.id, again.id]);
  });

  it('a regenerate refused as busy keeps the old answer', async () => {
    const a = await answered();
    const running = await engine.call('chatCreate', {});
    const first = nextToken(running.id);
    const run = engine.call('chatSend', { conversationId: running.id, text: 'On and on', model: long, options: LONG });
    await first;
    const waiting = await Promise.all(Array.from({ length: 4 }, () => engine.call('chatCreate', {})));
    const queued = waiting.map((c) => engine.call('chatSend', { conversationId: c.id, text: 'Hi', model, options }));
    const refused = await engine.call('chatRegenerate', { conversationId: a.id, model, options }).catch((e) => e);
    expect(refused.code).toBe('busy');
    expect(await engine.call('chatGet', { id: a.id })).toEqual(a.conversation);
    await engine.call('chatStop', { conversationId: running.id });
    await run;
    await Promise.all(queued);
    expect(await engine.call('chatGet', { id: a.id })).toEqual(a.conversation);
  });

  it('deleting a conversation while it is being answered stops the answer, then deletes it', async () => {
    const c = await engine.call('chatCreate', {});
    const restarts = engine.state().restarts;
    const first = nextToken(c.id);
    const run = engine.call('chatSend', {
      conversationId: c.id,
      text: 'Ramble',
      images: [photo],
      model: long,
      options: LONG,
    });
    await first;
    await engine.call('chatDelete', { id: c.id });
    const m = await run;
    expect(m.stats!.stopped).toBe(true);
    await expect(engine.call('chatGet', { id: c.id })).rejects.toMatchObject({ code: 'not-found' });
    expect(query('SELECT id FROM messages WHERE conversation_id = ?', c.id)).toEqual([]);
    expect(engine.state().restarts).toBe(restarts); // no crash: the context was not released mid-answer
    const next = await engine.call('chatSend', {
      conversationId: (await engine.call('chatCreate', {})).id,
      text: 'Ok?',
      model,
      options,
    });
    expect(next.role).toBe('assistant');
  });

  it('a picture missing from disk refuses the turn, naming it and what to do', async () => {
    const own = await img.writeSolid(path.join(tmp, 'to-lose.png'), [9, 99, 199], 36, 36);
    const c = await engine.call('chatCreate', {});
    await engine.call('chatSend', { conversationId: c.id, text: 'Look at this', images: [own], model, options });
    const before = await engine.call('chatGet', { id: c.id });
    const file = (await engine.call('chatAttachment', { hash: before.messages[0]!.images[0]!.hash }))!;
    await rm(file);
    const err = await engine
      .call('chatSend', { conversationId: c.id, text: 'And now?', model, options })
      .catch((e) => e);
    expect(err.code).toBe('attachment-missing');
    expect(err.message).toContain(file);
    expect(err.message).toContain('"Look at this"');
    expect(err.message).toMatch(/attach the picture again/);
    const regen = await engine.call('chatRegenerate', { conversationId: c.id, model, options }).catch((e) => e);
    expect(regen.code).toBe('attachment-missing');
    expect(await engine.call('chatGet', { id: c.id })).toEqual(before);
    await engine.call('chatDelete', { id: c.id }); // a row whose file is gone is deleted all the same
    await expect(engine.call('chatGet', { id: c.id })).rejects.toMatchObject({ code: 'not-found' });
  });

  it('settings saved damaged: the engine uses the defaults, keeps a copy and says so', async () => {
    const db = new Database(path.join(tmp, 'home', 'glance.db'));
    try {
      db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)').run(
        'app_settings',
        '{\n  "threads": 4,\n  "gpuLayers": 12,,\n}',
      );
    } finally {
      db.close();
    }
    const s = await engine.call('settingsGet');
    expect(s).toMatchObject({ threads: null, gpuLayers: 'auto' });
    expect(s.notice).toMatch(
      /not valid JSON \(line 3\): Glance is using the defaults and kept a copy as app_settings\.bad/,
    );
    expect(s.notice).toContain(path.join(tmp, 'home', 'glance.db'));
    expect(query<{ value: string }>("SELECT value FROM settings WHERE key = 'app_settings.bad'")[0]!.value).toContain(
      '12,,',
    );
    const saved = await engine.call('settingsSet', { threads: 2 });
    expect(saved.threads).toBe(2);
    expect((await engine.call('settingsGet')).notice).toBeUndefined();
  });
});

describe('conversations on disk', () => {
  it('deleting a conversation deletes its attachments unless another conversation uses them', async () => {
    const a = await engine.call('chatCreate', {});
    const b = await engine.call('chatCreate', {});
    const shared = photo;
    const own = await img.writeSolid(path.join(tmp, 'own.png'), [10, 200, 10], 40, 40);
    await engine.call('chatSend', { conversationId: a.id, text: 'a', images: [shared, own], model, options });
    await engine.call('chatSend', { conversationId: b.id, text: 'b', images: [shared], model, options });
    const dbFile = path.join(tmp, 'home', 'glance.db');
    const files = () => {
      const db = new Database(dbFile, { readonly: true });
      const rows = db.prepare('SELECT file FROM attachments').all() as { file: string }[];
      db.close();
      return rows.map((r) => r.file);
    };
    const before = files();
    await engine.call('chatDelete', { id: a.id });
    const after = files();
    expect(after.length).toBe(before.length - 1);
    const { existsSync } = await import('node:fs');
    for (const f of before) expect(existsSync(f)).toBe(after.includes(f));
    await expect(engine.call('chatGet', { id: a.id })).rejects.toMatchObject({ code: 'not-found' });
    expect((await engine.call('chatList')).some((c) => c.id === b.id)).toBe(true);
  });

  it('survive an engine restart', async () => {
    const c = await engine.call('chatCreate', { title: 'kept' });
    await engine.stop();
    await engine.start();
    expect((await engine.call('chatGet', { id: c.id })).title).toBe('kept');
    void mkdir;
    void writeFile;
  });
});
