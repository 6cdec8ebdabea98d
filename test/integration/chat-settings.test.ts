// Settings that shape a model load (threads, GPU layers) reach the loaded chat model: a change loads it again at the
// next request, after any answer being written has ended (never mid-generation: releasing a llama.cpp context
// during a completion crashes the process, this one included). The real binding and the tiny LLaVA pair, with the
// loader wrapped to record what each load was given.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChatService } from '../../electron/engine/chat/chat-service.ts';
import { type Db, openDatabase } from '../../electron/engine/db/database.ts';
import { type GlancePaths, glancePaths, modelDir } from '../../electron/engine/paths.ts';
import type { EngineSettings } from '../../electron/engine/process/contract.ts';
import { chatLoadOptions, DEFAULT_SETTINGS } from '../../electron/engine/settings.ts';
import { CHAT_CATALOG, DEFAULT_CHAT_ID } from '../../native-models/catalog.ts';
import { loadLlamaNodeChat } from '../../native-models/llava/llama-node.ts';
import type { VisionChatLoadOptions } from '../../native-models/llava/vision-chat.ts';
import { writeTinyLlava } from '../fixtures/tiny-llava.ts';

let tmp: string;
let paths: GlancePaths;
let db: Db;
let chat: ChatService;
const loads: VisionChatLoadOptions[] = [];
let onFirstToken: (() => void) | null = null;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-chat-settings-'));
  paths = glancePaths(path.join(tmp, 'home'));
  // the tiny pair installed as the default catalog model, so that settings choose it as the window does
  const tiny = await writeTinyLlava(path.join(tmp, 'tiny'), { contextLength: 32_768 });
  const entry = CHAT_CATALOG.find((e) => e.id === DEFAULT_CHAT_ID)!;
  const dir = modelDir(paths, entry.id);
  await mkdir(dir, { recursive: true });
  await copyFile(tiny.model, path.join(dir, entry.model.file));
  await copyFile(tiny.mmproj, path.join(dir, entry.mmproj.file));
  db = openDatabase(paths.db);
  chat = new ChatService({
    db,
    attachmentsDir: path.join(paths.home, 'attachments'),
    load: (o) => {
      loads.push(o);
      return loadLlamaNodeChat(o);
    },
    onToken: () => {
      onFirstToken?.();
      onFirstToken = null;
    },
  });
});

afterAll(async () => {
  await chat?.close();
  db?.close();
  await rm(tmp, { recursive: true, force: true });
});

const options = { maxTokens: 4, seed: 1, temperature: 0 };

it('a change of threads or GPU layers loads the model again, after the running answer, with the new values', async () => {
  let settings: EngineSettings = { ...DEFAULT_SETTINGS, threads: 1 };
  const c = chat.create();
  await chat.send(c.id, { text: 'Hello' }, chatLoadOptions(paths, settings), options);
  await chat.send(c.id, { text: 'Again' }, chatLoadOptions(paths, settings), options);
  expect(loads.map((l) => l.threads)).toEqual([1]); // unchanged settings: the loaded model serves

  // a long answer is being written when the settings change
  const long = chat.create();
  const firstToken = new Promise<void>((resolve) => {
    onFirstToken = resolve;
  });
  const running = chat.send(long.id, { text: 'On and on' }, chatLoadOptions(paths, settings), {
    ...options,
    maxTokens: 30_000,
  });
  await firstToken;
  settings = { ...settings, threads: 2, gpuLayers: 0 };
  const next = chat.send(c.id, { text: 'With new settings' }, chatLoadOptions(paths, settings), options);
  expect(loads).toHaveLength(1); // nothing reloads while the answer is written
  chat.stop(long.id);
  const stopped = await running;
  expect(stopped.stats!.stopped).toBe(true);
  expect((await next).role).toBe('assistant');
  expect(loads).toHaveLength(2);
  expect(loads[1]).toMatchObject({ threads: 2, gpuLayers: 0 });
});
