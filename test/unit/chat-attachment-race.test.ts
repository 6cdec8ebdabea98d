// A picture stored once by content for two conversations: the one that had it is deleted at the moment the same
// picture is being attached to another (its file found in place, the turn not yet holding it). The new turn must
// not be linked to a file the delete then removed.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { StoredImage } from '../../electron/engine/chat/attachments.ts';
import { ChatService } from '../../electron/engine/chat/chat-service.ts';
import { type Db, openDatabase } from '../../electron/engine/db/database.ts';
import type { VisionChat } from '../../native-models/llava/vision-chat.ts';
import * as img from '../fixtures/images.ts';

/** Runs after storeImage has found or written the file, before the chat service sees its result. */
const hooks = vi.hoisted(() => ({ afterStore: null as null | ((s: StoredImage) => Promise<void>) }));

vi.mock('../../electron/engine/chat/attachments.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../electron/engine/chat/attachments.ts')>();
  return {
    ...real,
    storeImage: async (...args: Parameters<typeof real.storeImage>) => {
      const s = await real.storeImage(...args);
      const hook = hooks.afterStore;
      hooks.afterStore = null;
      await hook?.(s);
      return s;
    },
  };
});

let tmp: string;
let db: Db;
let chat: ChatService;
const model = { model: '/m.gguf', mmproj: '/p.gguf' };

const fake: VisionChat = {
  info: { backend: 'cpu', device: 'cpu', gpuLayers: 0, notes: [], chatTemplate: 'vicuna' },
  complete: async () => ({
    text: 'A green square',
    stopped: false,
    stats: {
      promptTokens: 1,
      cachedTokens: 0,
      generatedTokens: 1,
      timeToFirstTokenMs: 1,
      tokensPerSecond: 1,
      totalMs: 1,
    },
  }),
  stop: () => {},
  release: async () => {},
};

beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-chat-attach-race-'));
  db = openDatabase(path.join(tmp, 'glance.db'));
  chat = new ChatService({ db, attachmentsDir: path.join(tmp, 'attachments'), load: async () => fake });
});

afterEach(async () => {
  await chat.close();
  db.close();
  await rm(tmp, { recursive: true, force: true });
});

it('a picture attached again while the only conversation that had it is deleted keeps its file', async () => {
  const photo = await img.writeSolid(path.join(tmp, 'photo.png'), [10, 200, 30], 40, 30);
  const old = chat.create();
  await chat.send(old.id, { text: 'What is it?', images: [photo] }, model);
  const c = chat.create();
  hooks.afterStore = () => chat.delete(old.id);
  const answer = await chat.send(c.id, { text: 'And this one?', images: [photo] }, model);
  expect(answer.text).toBe('A green square');
  const [user] = chat.get(c.id).messages;
  expect(user!.images).toHaveLength(1);
  expect(existsSync(chat.attachmentFile(user!.images[0]!.hash)!)).toBe(true);
});
