// The engine process: models and the database live here, away from the window and the CLI, so that a crash in
// native code (llama.cpp segfaults on some malformed files) costs a restart, not the app. Started by
// EngineSupervisor with child_process.fork (Electron's utilityProcess in the desktop app); talks birpc over the
// process message channel.
import path from 'node:path';
import { createBirpc } from 'birpc';
import { checkPair } from '../../../native-models/llava/gguf-check.ts';
import { loadLlamaNodeChat } from '../../../native-models/llava/llama-node.ts';
import { fail, ok, type Result } from '../../ipc/result.ts';
import { ChatService } from '../chat/chat-service.ts';
import { openDatabase } from '../db/database.ts';
import { glancePaths } from '../paths.ts';
import type { EngineEvents, EngineMethods } from './contract.ts';

const home = process.env.GLANCE_HOME;
if (!home || !process.send) {
  console.error('the engine process is started by EngineSupervisor (GLANCE_HOME and an IPC channel are needed)');
  process.exit(2);
}

const db = openDatabase(glancePaths(home).db);
const chat = new ChatService({
  db,
  attachmentsDir: path.join(home, 'attachments'),
  load: async (o) => {
    await checkPair(o.model, o.mmproj); // before anything native touches the files
    return loadLlamaNodeChat(o);
  },
  onToken: (conversationId, token) => stream.push(conversationId, token),
});

/**
 * Tokens go out as they come, but at most one message per conversation every few milliseconds: a small model
 * writes a thousand tokens a second, and one IPC message per token would cost the generation CPU it needs. The
 * first token of a burst leaves at once, so the time to first token is not delayed.
 */
const stream = (() => {
  const WINDOW_MS = 8;
  const pending = new Map<number, { text: string; count: number; timer: NodeJS.Timeout | null; last: number }>();
  const flush = (conversationId: number) => {
    const p = pending.get(conversationId);
    if (!p?.text) return;
    void rpc.chatToken.asEvent({ conversationId, token: p.text, count: p.count });
    p.text = '';
    p.count = 0;
    p.timer = null;
    p.last = performance.now();
  };
  return {
    push(conversationId: number, token: string) {
      let p = pending.get(conversationId);
      if (!p) {
        p = { text: '', count: 0, timer: null, last: 0 };
        pending.set(conversationId, p);
      }
      p.text += token;
      p.count++;
      if (p.timer) return;
      const wait = WINDOW_MS - (performance.now() - p.last);
      if (wait <= 0) flush(conversationId);
      else p.timer = setTimeout(() => flush(conversationId), wait);
    },
    /** Sends what is buffered: called before a turn's reply, so every token arrives before the message. */
    drain(conversationId: number) {
      const p = pending.get(conversationId);
      if (p?.timer) clearTimeout(p.timer);
      flush(conversationId);
      pending.delete(conversationId);
    },
  };
})();

/** Runs a service call and turns any failure into a Result with the error's own code. */
async function result<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return ok(await fn());
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e?.code === 'string' ? e.code : 'internal';
    return fail(code, typeof e?.message === 'string' ? e.message : String(err));
  }
}

/** A turn's reply, sent after the last of its tokens. */
const answer = <T>(conversationId: number, fn: () => Promise<T>) =>
  result(async () => {
    try {
      return await fn();
    } finally {
      stream.drain(conversationId);
    }
  });

const methods: EngineMethods = {
  ping: () => result(() => ({ pid: process.pid })),
  chatCreate: (a) => result(() => chat.create(a)),
  chatList: () => result(() => chat.list()),
  chatGet: (a) => result(() => chat.get(a.id)),
  chatDelete: (a) =>
    result(async () => {
      await chat.delete(a.id);
      return null;
    }),
  chatSend: (a) =>
    answer(a.conversationId, () =>
      chat.send(a.conversationId, { text: a.text, images: a.images ?? [] }, a.model, a.options ?? {}),
    ),
  chatRegenerate: (a) => answer(a.conversationId, () => chat.regenerate(a.conversationId, a.model, a.options ?? {})),
  chatEdit: (a) =>
    answer(a.conversationId, () => chat.editAndResend(a.conversationId, a.messageId, a.text, a.model, a.options ?? {})),
  chatStop: (a) => result(() => chat.stop(a.conversationId)),
  modelInfo: () => result(() => chat.info()),
  shutdown: () =>
    result(async () => {
      await chat.close();
      db.close();
      setImmediate(() => process.exit(0));
      return null;
    }),
};

const rpc = createBirpc<EngineEvents, EngineMethods>(methods, {
  post: (data) => process.send?.(data),
  on: (fn) => process.on('message', fn),
  timeout: -1,
});

// The parent went away (killed, crashed): nobody is left to serve.
process.on('disconnect', () => process.exit(0));
