// Vision chat end to end on CPU: the real engine process (child_process.fork), the real llama.cpp binding, a tiny
// LLaVA-1.5-shaped model made by the project's GGUF writer. The model's words are gibberish; what is checked is
// the mechanics: streaming, turns, the KV cache, images, stop, failures and crashes.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

const options = { maxTokens: 12, seed: 7, temperature: 0 };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-chat-'));
  tiny = await writeTinyLlava(path.join(tmp, 'model'));
  model = { model: tiny.model, mmproj: tiny.mmproj, contextSize: 1024 };
  photo = await img.writeSolid(path.join(tmp, 'photo.jpg'), [200, 30, 30], 120, 80);
  photo2 = await img.writeSplit(path.join(tmp, 'second.png'), [0, 0, 255], [255, 255, 0], 64, 64);
  tokens = [];
  statuses = [];
  engine = new EngineSupervisor({
    home: path.join(tmp, 'home'),
    events: { chatToken: (e) => tokens.push(e.token) },
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
    let stopped = false;
    tokens = [];
    const run = engine.call('chatSend', {
      conversationId: c.id,
      text: 'Tell me a long story.',
      images: [photo],
      model,
      options: { maxTokens: 400, seed: 1 },
    });
    const deadline = Date.now() + 20_000;
    while (tokens.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    stopped = await engine.call('chatStop', { conversationId: c.id });
    const m = await run;
    expect(stopped).toBe(true);
    expect(m.stats!.stopped).toBe(true);
    expect(m.stats!.generatedTokens).toBeLessThan(400);
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
    const bad = await img.writeTruncatedJpeg(path.join(tmp, 'cut.jpg'));
    const err = await engine
      .call('chatSend', { conversationId: c.id, text: 'And this?', images: [bad], model, options })
      .catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err.code).toBe('image-truncated');
    expect((await engine.call('chatGet', { id: c.id })).messages).toEqual([]); // nothing half-saved
    const ok = await engine.call('chatSend', { conversationId: c.id, text: 'Fine?', images: [photo], model, options });
    expect(ok.role).toBe('assistant');
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
    const run = engine.call('chatSend', {
      conversationId: c.id,
      text: 'Long answer please.',
      images: [photo],
      model,
      options: { maxTokens: 2000 },
    });
    const deadline = Date.now() + 20_000;
    while (tokens.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
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
    const convs = await Promise.all(Array.from({ length: 7 }, () => engine.call('chatCreate', {})));
    const results = await Promise.allSettled(
      convs.map((c) => engine.call('chatSend', { conversationId: c.id, text: 'Hello there', model, options })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(ok.length).toBeGreaterThanOrEqual(5); // one running, four waiting
    for (const r of refused) expect(r.reason.code).toBe('busy');
  });

  it('a conversation longer than the context is a clear error, and the next request gets a fresh context', async () => {
    const small = { ...model, contextSize: 64 };
    const c = await engine.call('chatCreate', {});
    const long = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    const err = await engine
      .call('chatSend', { conversationId: c.id, text: long, images: [photo], model: small, options })
      .catch((e) => e);
    expect(err.code).toBe('completion-failed');
    expect(err.message).toMatch(/no longer fits the model's context/);
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
