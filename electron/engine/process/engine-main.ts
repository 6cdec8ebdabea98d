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
import type { EngineEvents, EngineMethods } from './contract.ts';

const home = process.env.GLANCE_HOME;
if (!home || !process.send) {
  console.error('the engine process is started by EngineSupervisor (GLANCE_HOME and an IPC channel are needed)');
  process.exit(2);
}

const db = openDatabase(path.join(home, 'glance.db'));
const chat = new ChatService({
  db,
  attachmentsDir: path.join(home, 'attachments'),
  load: async (o) => {
    await checkPair(o.model, o.mmproj); // before anything native touches the files
    return loadLlamaNodeChat(o);
  },
  onToken: (conversationId, token) => void rpc.chatToken.asEvent({ conversationId, token }),
});

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
    result(() => chat.send(a.conversationId, { text: a.text, images: a.images ?? [] }, a.model, a.options ?? {})),
  chatRegenerate: (a) => result(() => chat.regenerate(a.conversationId, a.model, a.options ?? {})),
  chatEdit: (a) => result(() => chat.editAndResend(a.conversationId, a.messageId, a.text, a.model, a.options ?? {})),
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
