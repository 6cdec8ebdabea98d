// Conversations with a vision model: turns of text and images, streamed answers, stop, regenerate, edit-and-resend,
// all kept in the app's database. One loaded model means one llama.cpp context and one queue in front of it:
// requests wait their turn (or are refused when too many wait), a failed completion releases the context so the
// next request loads a fresh one, and nothing releases a context while it generates.
import { existsSync, rmSync } from 'node:fs';
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
    readonly code: 'not-found' | 'busy' | 'bad-request' | 'nothing-to-regenerate' | 'attachment-missing',
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

/** Everything a load depends on: a change of any (GPU layers, threads from settings) loads the model again. */
const modelKey = (o: VisionChatLoadOptions) =>
  JSON.stringify([
    o.model,
    o.mmproj,
    o.chatTemplate ?? null,
    o.contextSize ?? null,
    o.gpuLayers ?? 'auto',
    o.threads ?? null,
  ]);

export class ChatService {
  private chat: { key: string; instance: VisionChat } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private inFlight = 0;
  /** The completion being written; `done` settles once its answer is stored (or it failed). */
  private running: { conversationId: number; instance: VisionChat; done: Promise<void> } | null = null;
  private readonly held = new Map<string, number>();

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

  /**
   * Deletes a conversation and every attachment no other conversation uses (rows and files). An answer being written
   * for it is stopped and allowed to end first: the context is never released mid-generation (llama.cpp crashes),
   * and the answer's row must not land in a conversation that is gone.
   */
  async delete(id: number): Promise<void> {
    this.get(id);
    const running = this.running;
    if (running?.conversationId === id) {
      running.instance.stop();
      await running.done;
    }
    await this.removeConversation(id);
  }

  /** The file of an attachment, for the binding and the window's protocol handler. */
  attachmentFile(hash: string): string | undefined {
    return this.o.db.prepare<[string], { file: string }>('SELECT file FROM attachments WHERE hash = ?').get(hash)?.file;
  }

  // ---- turns ----

  /**
   * Adds a user turn (text and images) and streams the model's answer into a new assistant message. A conversation
   * whose first turn fails keeps nothing: it is deleted with the attachments only it used, so a refused question
   * never leaves an unanswered conversation behind.
   */
  async send(
    conversationId: number,
    turn: { text: string; images?: ImageInput[] },
    model: VisionChatLoadOptions,
    options: SendOptions = {},
  ): Promise<Message> {
    const c = this.get(conversationId);
    const first = c.messages.length === 0;
    // A picture of an earlier turn gone from disk refuses the turn before anything is stored.
    for (const m of c.messages) for (const i of m.images) this.imageFile(m, i);
    const stored: StoredImage[] = [];
    const release = () => {
      for (const s of stored.splice(0)) this.hold(s.hash, -1);
    };
    let messageId: number;
    try {
      if (!turn.text.trim() && !turn.images?.length)
        throw new ChatError('bad-request', 'a message needs text or an image');
      // Images are decoded and stored before the turn exists: a bad image fails here and changes nothing.
      for (const [i, img] of (turn.images ?? []).entries()) {
        const label = typeof img === 'string' ? img : `image ${i + 1}`;
        const s = await storeImage(img, this.o.attachmentsDir, label);
        this.hold(s.hash, 1);
        stored.push(s);
        // storeImage keeps a file already there; a conversation deleted before the hold above may have taken it
        // since (held now, it stays): write it again rather than link a message to a missing file.
        if (!existsSync(s.file)) await storeImage(img, this.o.attachmentsDir, label);
      }
      messageId = this.o.db.transaction(() => {
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
        return Number(r.lastInsertRowid);
      })();
    } catch (err) {
      // Images stored before a later one was refused have no row: their files go unless something else has them.
      const files = [...stored];
      release();
      await this.removeConversation(first ? conversationId : null, -1); // -1: only if it is still empty
      this.removeFiles(files);
      throw err;
    }
    release();
    try {
      return await this.answer(conversationId, model, options, { upTo: messageId });
    } catch (err) {
      if (first) await this.removeConversation(conversationId, messageId);
      // A turn refused before its answer began (too many waiting) is not kept: the person sends it again.
      else if (err instanceof ChatError && err.code === 'busy') this.removeMessage(messageId);
      throw err;
    }
  }

  /** Answers the last user turn again; the old answer stays until the new one is written, then is replaced. */
  async regenerate(conversationId: number, model: VisionChatLoadOptions, options: SendOptions = {}): Promise<Message> {
    const c = this.get(conversationId);
    const lastUser = c.messages.findLast((m) => m.role === 'user');
    if (!lastUser) throw new ChatError('nothing-to-regenerate', 'the conversation has no messages yet');
    return this.answer(conversationId, model, options, { upTo: lastUser.id });
  }

  /**
   * Changes an earlier user message, drops everything after it, and answers again. Nothing changes on disk until
   * the new answer is written: a refusal or a failed completion leaves the conversation as it was.
   */
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
    return this.answer(conversationId, model, options, { upTo: messageId, text });
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

  /** Hashes of images stored by a turn not yet linked to its message: their files must not be collected. */
  private hold(hash: string, delta: 1 | -1): void {
    const n = (this.held.get(hash) ?? 0) + delta;
    if (n > 0) this.held.set(hash, n);
    else this.held.delete(hash);
  }

  /**
   * Deletes a conversation (null: none; `onlyWith`: only if it holds no message but that one) and collects the attachments
   * nothing uses any more, in one transaction; their files go after the commit (a crash in between leaves a stray
   * file, never a row without its file).
   */
  private async removeConversation(id: number | null, onlyWith?: number): Promise<void> {
    const orphans = this.o.db.transaction((): { hash: string; file: string }[] => {
      if (id !== null) {
        const others =
          onlyWith === undefined
            ? 0
            : this.o.db
                .prepare<[number, number], { n: number }>(
                  'SELECT count(*) AS n FROM messages WHERE conversation_id = ? AND id != ?',
                )
                .get(id, onlyWith)!.n;
        if (others === 0) this.o.db.prepare('DELETE FROM conversations WHERE id = ?').run(id);
      }
      return this.dropUnusedAttachments();
    })();
    this.removeFiles(orphans);
  }

  /** Deletes one message (a turn refused before its answer began) and the attachments only it used. */
  private removeMessage(id: number): void {
    const orphans = this.o.db.transaction(() => {
      this.o.db.prepare('DELETE FROM messages WHERE id = ?').run(id);
      return this.dropUnusedAttachments();
    })();
    this.removeFiles(orphans);
  }

  /** In a transaction: the rows of attachments no message uses and no turn holds; their files go after the commit. */
  private dropUnusedAttachments(): { hash: string; file: string }[] {
    const unused = this.o.db
      .prepare<[], { hash: string; file: string }>(
        'SELECT hash, file FROM attachments WHERE hash NOT IN (SELECT hash FROM message_attachments)',
      )
      .all()
      .filter((a) => !this.held.has(a.hash));
    const del = this.o.db.prepare('DELETE FROM attachments WHERE hash = ?');
    for (const a of unused) del.run(a.hash);
    return unused;
  }

  /**
   * Deletes the files of attachments that left the database. Each is checked and deleted in the same turn of the
   * event loop: one that a turn holds again, or whose row came back meanwhile, keeps its file.
   */
  private removeFiles(files: { hash: string; file: string }[]): void {
    const known = this.o.db.prepare<[string], { hash: string }>('SELECT hash FROM attachments WHERE hash = ?');
    for (const f of files) {
      if (this.held.has(f.hash) || (this.o.db.open && known.get(f.hash))) continue;
      try {
        rmSync(f.file, { force: true });
      } catch {
        // a stray file (permissions, a file in use on Windows): no row points to it
      }
    }
  }

  /**
   * Answers the conversation as it stands up to the user message `upTo` (with `text` in place of that message's
   * when editing). When the answer is in, one transaction applies the edit, replaces whatever followed `upTo`
   * (the old answer) and stores the new answer: until then the conversation is unchanged.
   */
  private answer(
    conversationId: number,
    model: VisionChatLoadOptions,
    options: SendOptions,
    at: { upTo: number; text?: string },
  ): Promise<Message> {
    return this.enqueue(async () => {
      const c = this.get(conversationId);
      if (!c.messages.some((m) => m.id === at.upTo)) {
        throw new ChatError(
          'not-found',
          `message ${at.upTo} was removed from the conversation before its answer began`,
        );
      }
      const kept = c.messages.filter((m) => m.id <= at.upTo);
      const replaced = c.messages.filter((m) => m.id > at.upTo).map((m) => m.id);
      const turns: ChatTurn[] = [];
      if (c.systemPrompt) turns.push({ role: 'system', text: c.systemPrompt });
      for (const m of kept) {
        const images = m.images.map((i) => this.imageFile(m, i));
        const text = m.id === at.upTo && at.text !== undefined ? at.text : m.text;
        turns.push({ role: m.role, text, ...(images.length ? { images } : {}) });
      }
      const instance = await this.instanceFor(model);
      // Deleted while the model loaded: nothing is answered for a conversation that is gone.
      if (
        !this.o.db.prepare('SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?').get(at.upTo, conversationId)
      ) {
        this.get(conversationId); // not-found when the conversation is gone
        throw new ChatError(
          'not-found',
          `message ${at.upTo} was removed from the conversation before its answer began`,
        );
      }
      let finished!: () => void;
      const done = new Promise<void>((resolve) => {
        finished = resolve;
      });
      this.running = { conversationId, instance, done };
      try {
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
        let orphans: { hash: string; file: string }[] = [];
        const id = this.o.db.transaction(() => {
          const now = Date.now();
          if (at.text !== undefined) {
            this.o.db.prepare('UPDATE messages SET text = ? WHERE id = ?').run(at.text, at.upTo);
          }
          const del = this.o.db.prepare('DELETE FROM messages WHERE id = ?');
          for (const r of replaced) del.run(r);
          // an edit drops the later turns: the pictures only they used go with them
          if (replaced.length) orphans = this.dropUnusedAttachments();
          const r = this.o.db
            .prepare(
              "INSERT INTO messages (conversation_id, role, text, stats, created_at) VALUES (?, 'assistant', ?, ?, ?)",
            )
            .run(conversationId, result.text, JSON.stringify({ ...result.stats, stopped: result.stopped }), now);
          this.o.db
            .prepare('UPDATE conversations SET updated_at = ?, model = ? WHERE id = ?')
            .run(now, model.model, conversationId);
          return Number(r.lastInsertRowid);
        })();
        this.removeFiles(orphans);
        return this.get(conversationId).messages.find((m) => m.id === id)!;
      } finally {
        this.running = null;
        finished();
      }
    });
  }

  /** The stored file of a message's image; a file gone from disk refuses the turn instead of answering without it. */
  private imageFile(m: Message, image: MessageImage): string {
    const file = this.attachmentFile(image.hash);
    if (file && existsSync(file)) return file;
    const which = m.text.trim() ? `the message "${titleFrom(m.text, 0)}"` : `message ${m.id}`;
    throw new ChatError(
      'attachment-missing',
      `the picture attached to ${which} is missing (${file ?? image.hash}): it was deleted or moved outside Glance. ` +
        'Start a new conversation and attach the picture again, or edit that message',
    );
  }

  private async instanceFor(model: VisionChatLoadOptions): Promise<VisionChat> {
    const key = modelKey(model);
    if (this.chat?.key === key) return this.chat.instance;
    if (this.chat) {
      // Runs in the queue, so no completion is running: settings changes take effect at the next idle moment.
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
