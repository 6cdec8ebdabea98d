// Conversations with a vision model: turns of text and images, streamed answers, stop, regenerate, edit-and-resend,
// all kept in the app's database. One loaded model means one llama.cpp context and one queue in front of it:
// requests wait their turn (or are refused when too many wait), a failed completion releases the context so the
// next request loads a fresh one, and nothing releases a context while it generates.
import { rm } from 'node:fs/promises';
import type { ImageInput } from '../../../native-models/clip/preprocess.ts';
import type {
  BackendInfo,
  ChatTurn,
  CompletionOptions,
  CompletionStats,
  VisionChat,
  VisionChatLoadOptions,
} from '../../../native-models/llava/vision-chat.ts';
import type { Db } from '../db/database.ts';
import { type StoredImage, storeImage } from './attachments.ts';

export interface MessageImage {
  hash: string;
  mime: string;
  width: number;
  height: number;
}

export interface Message {
  id: number;
  role: 'user' | 'assistant';
  text: string;
  images: MessageImage[];
  stats: (CompletionStats & { stopped?: boolean }) | null;
  createdAt: number;
}

export interface ConversationSummary {
  id: number;
  title: string;
  model: string | null;
  updatedAt: number;
  messages: number;
}

export interface Conversation {
  id: number;
  title: string;
  systemPrompt: string | null;
  model: string | null;
  createdAt: number;
  updatedAt: number;
  messages: Message[];
}

export class ChatError extends Error {
  override readonly name = 'ChatError';
  constructor(
    readonly code: 'not-found' | 'busy' | 'bad-request' | 'nothing-to-regenerate',
    message: string,
  ) {
    super(message);
  }
}

export interface ChatServiceOptions {
  db: Db;
  attachmentsDir: string;
  /** Loads a model (after its pre-flight checks). */
  load: (options: VisionChatLoadOptions) => Promise<VisionChat>;
  onToken?: (conversationId: number, token: string) => void;
  /** Requests allowed to wait behind the running one before new ones are refused. */
  maxWaiting?: number;
}

export interface SendOptions extends Omit<CompletionOptions, 'onToken'> {}

const modelKey = (o: VisionChatLoadOptions) =>
  JSON.stringify([o.model, o.mmproj, o.chatTemplate ?? null, o.contextSize ?? null]);

export class ChatService {
  private chat: { key: string; instance: VisionChat } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  private running: { conversationId: number; instance: VisionChat } | null = null;

  constructor(private readonly o: ChatServiceOptions) {}

  // ---- conversations ----

  create(args: { systemPrompt?: string; title?: string } = {}): Conversation {
    const now = Date.now();
    const r = this.o.db
      .prepare('INSERT INTO conversations (title, system_prompt, created_at, updated_at) VALUES (?, ?, ?, ?)')
      .run(args.title ?? '', args.systemPrompt?.trim() || null, now, now);
    return this.get(Number(r.lastInsertRowid));
  }

  list(): ConversationSummary[] {
    return this.o.db
      .prepare<[], ConversationSummary>(
        `SELECT c.id AS id, c.title AS title, c.model AS model, c.updated_at AS updatedAt, count(m.id) AS messages
         FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id GROUP BY c.id ORDER BY c.updated_at DESC`,
      )
      .all();
  }

  get(id: number): Conversation {
    const c = this.o.db
      .prepare<
        [number],
        {
          id: number;
          title: string;
          system_prompt: string | null;
          model: string | null;
          created_at: number;
          updated_at: number;
        }
      >('SELECT * FROM conversations WHERE id = ?')
      .get(id);
    if (!c) throw new ChatError('not-found', `there is no conversation ${id}`);
    const rows = this.o.db
      .prepare<
        [number],
        { id: number; role: 'user' | 'assistant'; text: string; stats: string | null; created_at: number }
      >('SELECT id, role, text, stats, created_at FROM messages WHERE conversation_id = ? ORDER BY id')
      .all(id);
    const images = this.o.db.prepare<[number], MessageImage>(
      `SELECT a.hash AS hash, a.mime AS mime, a.width AS width, a.height AS height
       FROM message_attachments ma JOIN attachments a ON a.hash = ma.hash WHERE ma.message_id = ? ORDER BY ma.position`,
    );
    return {
      id: c.id,
      title: c.title,
      systemPrompt: c.system_prompt,
      model: c.model,
      createdAt: c.created_at,
      updatedAt: c.updated_at,
      messages: rows.map((m) => ({
        id: m.id,
        role: m.role,
        text: m.text,
        images: images.all(m.id),
        stats: m.stats ? JSON.parse(m.stats) : null,
        createdAt: m.created_at,
      })),
    };
  }

  /** Deletes a conversation and every attachment no other conversation uses (rows and files). */
  async delete(id: number): Promise<void> {
    this.get(id);
    if (this.running?.conversationId === id) this.stop(id);
    const orphans = this.o.db.transaction(() => {
      this.o.db.prepare('DELETE FROM conversations WHERE id = ?').run(id);
      const files = this.o.db
        .prepare<[], { file: string }>(
          'SELECT file FROM attachments WHERE hash NOT IN (SELECT hash FROM message_attachments)',
        )
        .all();
      this.o.db.prepare('DELETE FROM attachments WHERE hash NOT IN (SELECT hash FROM message_attachments)').run();
      return files;
    })();
    // files go after the commit: a crash in between leaves a stray file, never a row without its file
    await Promise.all(orphans.map((o) => rm(o.file, { force: true })));
  }

  /** The file of an attachment, for the binding and the window's protocol handler. */
  attachmentFile(hash: string): string | undefined {
    return this.o.db.prepare<[string], { file: string }>('SELECT file FROM attachments WHERE hash = ?').get(hash)?.file;
  }

  // ---- turns ----

  /** Adds a user turn (text and images) and streams the model's answer into a new assistant message. */
  async send(
    conversationId: number,
    turn: { text: string; images?: ImageInput[] },
    model: VisionChatLoadOptions,
    options: SendOptions = {},
  ): Promise<Message> {
    this.get(conversationId);
    if (!turn.text.trim() && !turn.images?.length)
      throw new ChatError('bad-request', 'a message needs text or an image');
    // Images are decoded and stored before the turn exists: a bad image fails here and changes nothing.
    const stored: StoredImage[] = [];
    for (const [i, img] of (turn.images ?? []).entries()) {
      stored.push(await storeImage(img, this.o.attachmentsDir, typeof img === 'string' ? img : `image ${i + 1}`));
    }
    this.o.db.transaction(() => {
      const now = Date.now();
      const r = this.o.db
        .prepare("INSERT INTO messages (conversation_id, role, text, created_at) VALUES (?, 'user', ?, ?)")
        .run(conversationId, turn.text, now);
      const insAtt = this.o.db.prepare(
        'INSERT OR IGNORE INTO attachments (hash, file, mime, width, height, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      );
      const link = this.o.db.prepare('INSERT INTO message_attachments (message_id, position, hash) VALUES (?, ?, ?)');
      stored.forEach((s, i) => {
        insAtt.run(s.hash, s.file, s.mime, s.width, s.height, now);
        link.run(r.lastInsertRowid, i, s.hash);
      });
      this.o.db
        .prepare(
          "UPDATE conversations SET updated_at = ?, title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
        )
        .run(now, titleFrom(turn.text, stored.length), conversationId);
    })();
    return this.answer(conversationId, model, options);
  }

  /** Answers the last user turn again, replacing the last answer. */
  async regenerate(conversationId: number, model: VisionChatLoadOptions, options: SendOptions = {}): Promise<Message> {
    const c = this.get(conversationId);
    const last = c.messages.at(-1);
    if (!last) throw new ChatError('nothing-to-regenerate', 'the conversation has no messages yet');
    if (last.role === 'assistant') this.o.db.prepare('DELETE FROM messages WHERE id = ?').run(last.id);
    return this.answer(conversationId, model, options);
  }

  /** Changes an earlier user message, drops everything after it, and answers again. */
  async editAndResend(
    conversationId: number,
    messageId: number,
    text: string,
    model: VisionChatLoadOptions,
    options: SendOptions = {},
  ): Promise<Message> {
    const c = this.get(conversationId);
    const m = c.messages.find((x) => x.id === messageId);
    if (m?.role !== 'user') {
      throw new ChatError('bad-request', `message ${messageId} is not a user message of this conversation`);
    }
    this.o.db.transaction(() => {
      this.o.db.prepare('UPDATE messages SET text = ? WHERE id = ?').run(text, messageId);
      this.o.db.prepare('DELETE FROM messages WHERE conversation_id = ? AND id > ?').run(conversationId, messageId);
    })();
    return this.answer(conversationId, model, options);
  }

  /** Stops the answer being generated for this conversation; what was generated so far is kept. */
  stop(conversationId: number): boolean {
    if (this.running?.conversationId !== conversationId) return false;
    this.running.instance.stop();
    return true;
  }

  /** The backend of the loaded model, or null when none is loaded. */
  info(): BackendInfo | null {
    return this.chat?.instance.info ?? null;
  }

  /** Releases the model after any running completion ends. */
  async close(): Promise<void> {
    if (this.running) this.running.instance.stop();
    await this.enqueue(async () => {
      await this.chat?.instance.release();
      this.chat = null;
    }, true);
  }

  /** Runs tasks one at a time; beyond one running and `maxWaiting` waiting, new ones are refused. */
  private enqueue<T>(task: () => Promise<T>, force = false): Promise<T> {
    const limit = this.o.maxWaiting ?? 4;
    if (!force && this.inFlight > limit) {
      return Promise.reject(
        new ChatError('busy', `the model is busy with ${this.inFlight - 1} requests waiting: try again in a moment`),
      );
    }
    this.inFlight++;
    const run = this.queue.then(task).finally(() => {
      this.inFlight--;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private answer(conversationId: number, model: VisionChatLoadOptions, options: SendOptions): Promise<Message> {
    return this.enqueue(async () => {
      const instance = await this.instanceFor(model);
      const c = this.get(conversationId);
      const turns: ChatTurn[] = [];
      if (c.systemPrompt) turns.push({ role: 'system', text: c.systemPrompt });
      for (const m of c.messages) {
        const images = m.images.map((i) => this.attachmentFile(i.hash)!).filter(Boolean);
        turns.push({ role: m.role, text: m.text, ...(images.length ? { images } : {}) });
      }
      this.running = { conversationId, instance };
      let result: Awaited<ReturnType<VisionChat['complete']>>;
      try {
        result = await instance.complete(turns, {
          ...options,
          onToken: (t) => this.o.onToken?.(conversationId, t),
        });
      } catch (err) {
        // A failed completion can leave llama.cpp's context unusable: drop it; the next request loads it again.
        this.running = null;
        this.chat = null;
        await instance.release().catch(() => {});
        throw err;
      }
      this.running = null;
      const now = Date.now();
      const r = this.o.db
        .prepare(
          "INSERT INTO messages (conversation_id, role, text, stats, created_at) VALUES (?, 'assistant', ?, ?, ?)",
        )
        .run(conversationId, result.text, JSON.stringify({ ...result.stats, stopped: result.stopped }), now);
      this.o.db
        .prepare('UPDATE conversations SET updated_at = ?, model = ? WHERE id = ?')
        .run(now, model.model, conversationId);
      return this.get(conversationId).messages.find((m) => m.id === Number(r.lastInsertRowid))!;
    });
  }

  private async instanceFor(model: VisionChatLoadOptions): Promise<VisionChat> {
    const key = modelKey(model);
    if (this.chat?.key === key) return this.chat.instance;
    if (this.chat) {
      await this.chat.instance.release();
      this.chat = null;
    }
    const instance = await this.o.load(model);
    this.chat = { key, instance };
    return instance;
  }
}

function titleFrom(text: string, images: number): string {
  const t = text.trim().replace(/\s+/g, ' ');
  if (t) return t.length > 60 ? `${t.slice(0, 57)}…` : t;
  return images === 1 ? 'An image' : `${images} images`;
}
