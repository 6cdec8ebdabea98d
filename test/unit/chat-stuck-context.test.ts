// llama.node can leave a context marked busy after a completion that ended before the binding registered the callback
// that clears the mark (its Completion() queues the worker first); every later completion on it is refused. The
// race cannot be made to happen on purpose, so the binding's side is a typed fake of VisionChat here: the chat
// service must replace such a context and run the request again once, not fail it, and never loop.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChatService } from '../../electron/engine/chat/chat-service.ts';
import { type Db, openDatabase } from '../../electron/engine/db/database.ts';
import {
  type ChatTurn,
  type CompletionResult,
  type VisionChat,
  VisionChatError,
  type VisionChatLoadOptions,
} from '../../native-models/llava/vision-chat.ts';

let tmp: string;
let db: Db;
let log: string[];

/** A loaded model whose completions answer `text`, or are refused as a stuck context. */
function fake(name: string, behaviour: 'stuck' | 'answers', before?: () => void): VisionChat {
  return {
    info: { backend: 'cpu', device: 'CPU', gpuLayers: 0, notes: [], chatTemplate: 'chatml' },
    async complete(turns: ChatTurn[]): Promise<CompletionResult> {
      log.push(`complete ${name}`);
      before?.();
      if (behaviour === 'stuck') {
        throw new VisionChatError('context-stuck', 'the context still marks an answer that ended as running');
      }
      const text = `answer to ${turns.at(-1)!.text}`;
      const stats = {
        promptTokens: 3,
        cachedTokens: 0,
        generatedTokens: 2,
        timeToFirstTokenMs: 1,
        tokensPerSecond: 1,
        totalMs: 1,
      };
      return { text, stopped: false, stats };
    },
    stop: () => {},
    async release() {
      log.push(`release ${name}`);
    },
  };
}

function service(behaviours: ('stuck' | 'answers')[], before?: () => void): ChatService {
  let n = 0;
  return new ChatService({
    db,
    attachmentsDir: path.join(tmp, 'attachments'),
    scratchDir: path.join(tmp, 'scratch'),
    load: async (_o: VisionChatLoadOptions) => {
      const name = `#${++n}`;
      log.push(`load ${name}`);
      return fake(name, behaviours[n - 1] ?? 'answers', before);
    },
  });
}

const MODEL: VisionChatLoadOptions = { model: '/m/model.gguf', mmproj: '/m/mmproj.gguf' };

beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'glance-stuck-'));
  db = openDatabase(path.join(tmp, 'glance.db'));
  log = [];
});

afterEach(async () => {
  db.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('a context llama.node left stuck', () => {
  it('is released and replaced, and the request runs again on the fresh one', async () => {
    const chat = service(['stuck', 'answers']);
    const r = await chat.completion({ turns: [{ role: 'user', text: 'Hi' }], model: MODEL });
    expect(r.text).toBe('answer to Hi');
    expect(log).toEqual(['load #1', 'complete #1', 'release #1', 'load #2', 'complete #2']);
    // a conversation turn the same way: its answer is stored
    log = [];
    const chat2 = service(['stuck', 'answers']);
    const m = await chat2.send(chat2.create().id, { text: 'Hello' }, MODEL);
    expect(m.text).toBe('answer to Hello');
    expect(log).toEqual(['load #1', 'complete #1', 'release #1', 'load #2', 'complete #2']);
  });

  it('fails the request when the fresh context is stuck too: one retry, no loop', async () => {
    const chat = service(['stuck', 'stuck', 'answers']);
    await expect(chat.completion({ turns: [{ role: 'user', text: 'Hi' }], model: MODEL })).rejects.toMatchObject({
      code: 'context-stuck',
    });
    expect(log).toEqual(['load #1', 'complete #1', 'release #1', 'load #2', 'complete #2', 'release #2']);
    // the next request loads a third context and is answered
    expect((await chat.completion({ turns: [{ role: 'user', text: 'Again' }], model: MODEL })).text).toBe(
      'answer to Again',
    );
  });

  it('is not run again for a request stopped meanwhile', async () => {
    const abort = new AbortController();
    // the client goes away while the refused completion is under way
    const chat = service(['stuck', 'answers'], () => abort.abort(new Error('the client went away')));
    await expect(
      chat.completion({ turns: [{ role: 'user', text: 'Hi' }], model: MODEL, signal: abort.signal }),
    ).rejects.toThrow('the client went away');
    expect(log).toEqual(['load #1', 'complete #1', 'release #1']);
  });

  it('any other failure fails the request without a retry', async () => {
    let n = 0;
    const chat = new ChatService({
      db,
      attachmentsDir: path.join(tmp, 'attachments'),
      load: async () => {
        n++;
        return {
          ...fake(`#${n}`, 'answers'),
          complete: async () => {
            throw new VisionChatError('completion-failed', 'the model could not answer');
          },
        };
      },
    });
    await expect(chat.completion({ turns: [{ role: 'user', text: 'Hi' }], model: MODEL })).rejects.toThrow(
      'the model could not answer',
    );
    expect(n).toBe(1);
  });
});
