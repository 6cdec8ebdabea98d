// The chat service's bookkeeping around the queue, with a fake model whose loads and completions the test releases
// by hand: deletes that land while a model loads, refusals that must leave nothing stored, edits that drop turns
// with pictures, and a picture shared with a conversation deleted while it is being attached again.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ChatError, ChatService } from '../../electron/engine/chat/chat-service.ts';
import { type Db, openDatabase } from '../../electron/engine/db/database.ts';
import type { CompletionResult, VisionChat, VisionChatLoadOptions } from '../../native-models/llava/vision-chat.ts';
import * as img from '../fixtures/images.ts';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const result = (text: string): CompletionResult => ({
  text,
  stopped: false,
  stats: {
    promptTokens: 1,
    cachedTokens: 0,
    generatedTokens: 1,
    timeToFirstTokenMs: 1,
    tokensPerSecond: 1,
    totalMs: 1,
  },
});

let tmp: string;
let db: Db;
let chat: ChatService;
let photo: string;
/** Completions waiting for the test to answer them. */
let pending: Deferred<CompletionResult>[];
let completions: number;
/** When set, the next load waits for it. */
let loadGate: Deferred<void> | null;
const model: VisionChatLoadOptions = { model: '/m.gguf', mmproj: '/p.gguf' };

function fakeChat(): VisionChat {
  return {
    info: { backend: 'cpu', gpuLayers: 0 } as never,
    complete: () => {
      completions++;
      const d = deferred<CompletionResult>();
      pending.push(d);
      return d.promise;
    },
    stop: () => {
      for (const d of pending.splice(0)) d.resolve({ ...result('stopped'), stopped: true });
    },
    release: async () => {},
  };
}

/** Lets queued work run a while (microtasks, I/O callbacks). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

/** The next completion the model was asked for (pictures take a decode before their turn is queued). */
async function nextCompletion(): Promise<Deferred<CompletionResult>> {
  for (let i = 0; i < 500 && pending.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  return pending.shift()!;
}

beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-chat-races-'));
  db = openDatabase(path.join(tmp, 'glance.db'));
  photo = await img.writeSolid(path.join(tmp, 'photo.png'), [10, 200, 30], 40, 30);
  pending = [];
  completions = 0;
  loadGate = null;
  chat = new ChatService({
    db,
    attachmentsDir: path.join(tmp, 'attachments'),
    maxWaiting: 0,
    load: async () => {
      if (loadGate) await loadGate.promise;
      return fakeChat();
    },
  });
});

afterEach(async () => {
  for (const d of pending.splice(0)) d.resolve(result('late'));
  await chat.close();
  db.close();
  await rm(tmp, { recursive: true, force: true });
});

async function attachmentFiles(): Promise<string[]> {
  const dir = path.join(tmp, 'attachments');
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const shard of await readdir(dir)) for (const f of await readdir(path.join(dir, shard))) out.push(f);
  return out;
}

it('a conversation deleted while its model loads is not answered, and the answer fails as not-found', async () => {
  // a first answer, so that the conversation is not a failed first turn
  const c = chat.create();
  const first = chat.send(c.id, { text: 'Hello' }, model);
  (await nextCompletion()).resolve(result('Hi'));
  await first;
  // a change of settings makes the next answer load the model again, slowly
  loadGate = deferred<void>();
  const second = chat.send(c.id, { text: 'And now?' }, { ...model, threads: 2 });
  const outcome = second.then(
    () => null,
    (e: unknown) => e,
  );
  await settle();
  await chat.delete(c.id);
  loadGate.resolve();
  await settle();
  // nothing is generated for a conversation that is gone
  expect(completions).toBe(1);
  const err = await outcome;
  expect(err).toBeInstanceOf(ChatError);
  expect((err as ChatError).code).toBe('not-found');
  expect(chat.list()).toEqual([]);
});

it('a later turn refused as busy is not stored: the conversation stays as it was', async () => {
  const c = chat.create();
  const first = chat.send(c.id, { text: 'Hello' }, model);
  (await nextCompletion()).resolve(result('Hi'));
  await first;
  // one answer being written (maxWaiting 0: nothing may wait behind it)
  const other = chat.create();
  const running = chat.send(other.id, { text: 'Long one' }, model);
  await settle();
  await expect(chat.send(c.id, { text: 'Are you there?', images: [photo] }, model)).rejects.toMatchObject({
    code: 'busy',
  });
  expect(chat.get(c.id).messages.map((m) => m.text)).toEqual(['Hello', 'Hi']);
  // the refused turn's picture is not kept either
  expect(db.prepare('SELECT count(*) AS n FROM attachments').get()).toEqual({ n: 0 });
  expect(await attachmentFiles()).toEqual([]);
  pending.shift()!.resolve(result('Done'));
  await running;
});

it('editing an earlier message drops the later turns and the pictures only they used', async () => {
  const c = chat.create();
  const t1 = chat.send(c.id, { text: 'First' }, model);
  (await nextCompletion()).resolve(result('One'));
  await t1;
  const t2 = chat.send(c.id, { text: 'Look', images: [photo] }, model);
  (await nextCompletion()).resolve(result('Green'));
  await t2;
  expect(await attachmentFiles()).toHaveLength(1);
  const firstId = chat.get(c.id).messages[0]!.id;
  const edit = chat.editAndResend(c.id, firstId, 'First, again', model);
  (await nextCompletion()).resolve(result('One again'));
  await edit;
  expect(chat.get(c.id).messages.map((m) => m.text)).toEqual(['First, again', 'One again']);
  expect(db.prepare('SELECT count(*) AS n FROM attachments').get()).toEqual({ n: 0 });
  expect(await attachmentFiles()).toEqual([]);
});

it('a later turn whose answer fails keeps its conversation', async () => {
  const c = chat.create();
  const t1 = chat.send(c.id, { text: 'Hello' }, model);
  (await nextCompletion()).resolve(result('Hi'));
  await t1;
  // the stored picture of the first turn is fine; the second turn's answer fails
  const fail = chat.send(c.id, { text: 'Again' }, model);
  const d = await nextCompletion();
  (d as unknown as { resolve: (v: unknown) => void }).resolve(Promise.reject(new Error('completion failed')));
  await expect(fail).rejects.toThrow('completion failed');
  expect(chat.get(c.id).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
});
