// Conversations with a vision model: turns of text and images, streamed answers, stop, regenerate, edit-and-resend,
// all kept in the app's database; and one-shot questions about one image (captions, short answers) that keep
// nothing. Every completion goes through one queue: requests wait their turn (or are refused when too many wait), a
// failed completion releases its context so the next request loads a fresh one, and nothing releases a context
// while it generates. Background work (a caption job) waits in its own lane and gives way to any interactive
// request, so a chat waits at most for the one background answer already running.
//
// Up to two models stay loaded (least recently used released first, always between completions): a caption job
// on one model and a chat on another would otherwise load each other again for every photo.
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ImageInput } from '../../../native-models/clip/preprocess.ts';
import type {
  BackendInfo,
  ChatTurn,
  CompletionOptions,
  CompletionResult,
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
  /** Models kept loaded at most (default 2); more loads release the least recently used first. */
  maxLoaded?: number;
  /** Where one-shot images are normalised for the binding (a folder of its own per request, removed after it). */
  scratchDir?: string;
}

/**
 * A chat turn's sampling and budget. No grammar: the grammars are short-answer.ts's constants, given to one-shot
 * requests only, so none ever arrives from the window or the CLI (with one llama.cpp cannot parse, releasing the
 * failed context aborts the engine process).
 */
export interface SendOptions extends Omit<CompletionOptions, 'onToken' | 'grammar'> {}

/** One question about one image, answered without a conversation (captions, short answers). */
export interface OneShotRequest {
  /** A file path or the image's bytes; normalised as chat attachments are (decoded, upright, bounded). */
  image: ImageInput;
  /** The user turn's text. */
  prompt: string;
  model: VisionChatLoadOptions;
  /** Sampling, token budget and grammar (the grammars of short-answer.ts: never one from outside). */
  options?: SendOptions & { grammar?: string };
  /**
   * Background work (a caption job's photos): it starts only when no interactive request waits or is being
   * prepared (images decoding), so interactive use waits at most for the one background answer running.
   */
  background?: boolean;
  /** Stops the answer being written, or drops the request while it waits; the promise then rejects with the reason. */
  signal?: AbortSignal;
  /** How the image is named in errors; default its path, or "the image". */
  label?: string;
}

export interface OneShotResult {
  text: string;
  stats: CompletionStats & { stopped: boolean };
}

/**
 * A stateless exchange (the local API's chat completions): turns with any number of images, nothing stored, the
 * pictures normalised into a scratch folder removed after the answer. Interactive: it shares the queue with the
 * window's chats and is refused as busy when too many wait.
 */
export interface CompletionRequest {
  turns: { role: 'system' | 'user' | 'assistant'; text: string; images?: ImageInput[] }[];
  model: VisionChatLoadOptions;
  options?: SendOptions;
  /** Each piece of the answer as it is written; returning true stops the answer there (a stop sequence was met). */
  onToken?: (token: string) => boolean | undefined;
  /** Stops the answer being written, or drops the request while it waits; the promise then rejects with the reason. */
  signal?: AbortSignal;
}

type Lane = 'interactive' | 'background';

interface Loaded {
  key: string;
  /** The model and projector files: another load of the same files (new settings) makes this one stale. */
  files: string;
  instance: VisionChat;
}

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
const filesKey = (o: VisionChatLoadOptions) => JSON.stringify([o.model, o.mmproj]);

export class ChatService {
  /** Loaded models, least recently used first. */
  private loaded: Loaded[] = [];
  /** The model the last conversation turn used: the one info() describes. */
  private chatKey: string | null = null;
  /** Tasks waiting for the model, per lane; a background task starts only when no interactive one waits. */
  private readonly waiting: Record<Lane, (() => void)[]> = { interactive: [], background: [] };
  /** A task is running (loading a model, or a completion). */
  private active = false;
  /** Interactive requests preparing their images, not queued yet: background tasks wait for them too. */
  private preparing = 0;
  private inFlight = 0;
  /**
   * The completion being written (conversationId null: a one-shot); `done` settles once its answer is stored (or
   * it failed).
   */
  private running: { conversationId: number | null; instance: VisionChat; done: Promise<void> } | null = null;
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
    // Announced before its pictures decode: a caption job's next photo must not slip in front meanwhile.
    const ready = this.announce();
    try {
      return await this.sendTurn(conversationId, turn, model, options, ready);
    } finally {
      ready();
    }
  }

  private async sendTurn(
    conversationId: number,
    turn: { text: string; images?: ImageInput[] },
    model: VisionChatLoadOptions,
    options: SendOptions,
    queued: () => void,
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
      const answering = this.answer(conversationId, model, options, { upTo: messageId });
      queued();
      return await answering;
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

  /**
   * Answers one prompt about one image without a conversation: nothing is stored, and the normalised image is
   * deleted after the answer. Shares the chat's queue and loaded models. A picture that cannot be decoded is refused
   * before it reaches the model (ChatError-free: the decoder's own error, naming the file); a failed completion
   * releases the context like a failed chat turn, so one broken request never leaves the next one stuck.
   */
  async oneShot(r: OneShotRequest): Promise<OneShotResult> {
    if (!r.prompt.trim()) throw new ChatError('bad-request', 'a one-shot request needs a prompt');
    const label = r.label ?? (typeof r.image === 'string' ? r.image : 'the image');
    return this.stateless(
      [{ role: 'user', text: r.prompt, images: [r.image] }],
      r.model,
      { ...r.options },
      {
        background: r.background === true,
        ...(r.signal ? { signal: r.signal } : {}),
        label: () => label,
      },
    );
  }

  /** A stateless exchange (see CompletionRequest), answered in the interactive lane. */
  async completion(r: CompletionRequest): Promise<OneShotResult> {
    if (!r.turns.some((t) => t.role === 'user' && (t.text.trim() || t.images?.length))) {
      throw new ChatError('bad-request', 'the messages need a user turn with text or an image');
    }
    return this.stateless(
      r.turns,
      r.model,
      { ...r.options },
      {
        background: false,
        ...(r.signal ? { signal: r.signal } : {}),
        ...(r.onToken ? { onToken: r.onToken } : {}),
        label: (turn, image) => `image ${image + 1} of message ${turn + 1}`,
      },
    );
  }

  private async stateless(
    turns: CompletionRequest['turns'],
    model: VisionChatLoadOptions,
    options: SendOptions & { grammar?: string },
    o: {
      background: boolean;
      signal?: AbortSignal;
      onToken?: (token: string) => boolean | undefined;
      label: (turn: number, image: number) => string;
    },
  ): Promise<OneShotResult> {
    const ready = o.background ? () => {} : this.announce();
    let dir: string | null = null;
    try {
      let answering: Promise<OneShotResult>;
      try {
        o.signal?.throwIfAborted();
        const root = this.o.scratchDir ?? path.join(os.tmpdir(), 'glance-one-shot');
        await mkdir(root, { recursive: true });
        dir = await mkdtemp(path.join(root, 'shot-'));
        const normalised: ChatTurn[] = [];
        for (const [t, turn] of turns.entries()) {
          const files: string[] = [];
          for (const [i, image] of (turn.images ?? []).entries()) {
            files.push((await storeImage(image, dir, o.label(t, i))).file);
          }
          normalised.push({ role: turn.role, text: turn.text, ...(files.length ? { images: files } : {}) });
        }
        // Background work is never refused as "busy": a job has one request in the queue at a time, and a refusal
        // would fail its photo for the person's own chats.
        answering = this.enqueue(() => this.answerStateless(normalised, model, options, o), {
          lane: o.background ? 'background' : 'interactive',
          force: o.background,
        });
      } finally {
        ready();
      }
      return await answering;
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** Requests running or waiting for the model now, all lanes. */
  pending(): number {
    return this.inFlight;
  }

  /** Requests waiting for the model now, per lane (the running one not counted). */
  queued(): { interactive: number; background: number } {
    return { interactive: this.waiting.interactive.length, background: this.waiting.background.length };
  }

  /** The backend of the model the last conversation turn used (else the last one used), or null when none is loaded. */
  info(): BackendInfo | null {
    const chat = this.loaded.find((l) => l.key === this.chatKey) ?? this.loaded.at(-1);
    return chat?.instance.info ?? null;
  }

  /** Releases the models after any running completion ends. */
  async close(): Promise<void> {
    if (this.running) this.running.instance.stop();
    await this.enqueue(
      async () => {
        for (const l of this.loaded.splice(0)) await l.instance.release();
      },
      { force: true },
    );
  }

  /**
   * Runs tasks one at a time, interactive ones first; beyond one running and `maxWaiting` waiting, new ones are
   * refused.
   */
  private enqueue<T>(task: () => Promise<T>, o: { force?: boolean; lane?: Lane } = {}): Promise<T> {
    const limit = this.o.maxWaiting ?? 4;
    if (!o.force && this.inFlight > limit) {
      return Promise.reject(
        new ChatError('busy', `the model is busy with ${this.inFlight - 1} requests waiting: try again in a moment`),
      );
    }
    this.inFlight++;
    return new Promise<T>((resolve, reject) => {
      this.waiting[o.lane ?? 'interactive'].push(() => {
        this.active = true;
        Promise.resolve()
          .then(task)
          .then(resolve, reject)
          .finally(() => {
            this.inFlight--;
            this.active = false;
            this.pump();
          });
      });
      this.pump();
    });
  }

  /** Starts the next task when none runs: an interactive one, else a background one unless an interactive is coming. */
  private pump(): void {
    if (this.active) return;
    const next =
      this.waiting.interactive.shift() ?? (this.preparing === 0 ? this.waiting.background.shift() : undefined);
    next?.();
  }

  /**
   * An interactive request on its way to the queue (its images decoding): background tasks wait until the returned
   * function is called (idempotent; call it once the request is queued, or failed).
   */
  private announce(): () => void {
    this.preparing++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.preparing--;
      this.pump();
    };
  }

  /** A stateless completion (one-shot or API), in the queue. */
  private async answerStateless(
    turns: ChatTurn[],
    model: VisionChatLoadOptions,
    options: SendOptions & { grammar?: string },
    o: { signal?: AbortSignal; onToken?: (token: string) => boolean | undefined },
  ): Promise<OneShotResult> {
    o.signal?.throwIfAborted(); // cancelled while it waited: no model is loaded for it
    const entry = await this.instanceFor(model);
    o.signal?.throwIfAborted();
    let finished!: () => void;
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    this.running = { conversationId: null, instance: entry.instance, done };
    // the running instance (a stuck context is replaced by a fresh one during the completion)
    const stop = () => this.running?.instance.stop();
    o.signal?.addEventListener('abort', stop);
    try {
      const onToken = o.onToken;
      const result = await this.complete(
        entry,
        turns,
        { ...options, ...(onToken ? { onToken: (t: string) => void (onToken(t) && stop()) } : {}) },
        model,
        { signal: o.signal },
      );
      // stopped by the signal: what was written so far is not an answer
      o.signal?.throwIfAborted();
      return { text: result.text, stats: { ...result.stats, stopped: result.stopped } };
    } finally {
      o.signal?.removeEventListener('abort', stop);
      this.running = null;
      finished();
    }
  }

  /**
   * A completion; one that fails releases its model (its llama.cpp context can be unusable), the next request loads it
   * again. A context the binding left stuck before this completion began ('context-stuck': nothing was generated) is
   * replaced at once and the completion runs once more on the fresh one, so the request does not fail for it.
   */
  private async complete(
    entry: Loaded,
    turns: ChatTurn[],
    options: CompletionOptions,
    model: VisionChatLoadOptions,
    o: { signal?: AbortSignal | undefined; retried?: boolean } = {},
  ): Promise<CompletionResult> {
    try {
      return await entry.instance.complete(turns, options);
    } catch (err) {
      const running = this.running;
      this.running = null;
      this.loaded = this.loaded.filter((l) => l !== entry);
      await entry.instance.release().catch(() => {});
      if (o.retried || (err as { code?: unknown }).code !== 'context-stuck') throw err;
      o.signal?.throwIfAborted(); // stopped meanwhile: not run again
      const fresh = await this.instanceFor(model);
      if (running) this.running = { ...running, instance: fresh.instance };
      return this.complete(fresh, turns, options, model, { ...o, retried: true });
    }
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
      const entry = await this.instanceFor(model);
      const instance = entry.instance;
      this.chatKey = entry.key;
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
        // a grammar that came over RPC anyway is dropped (see SendOptions)
        const { grammar: _grammar, ...sampling } = options as SendOptions & { grammar?: unknown };
        const result = await this.complete(
          entry,
          turns,
          { ...sampling, onToken: (t) => this.o.onToken?.(conversationId, t) },
          model,
        );
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

  /**
   * The loaded model for these options, loading it when needed. Runs in the queue, so no completion is running
   * when a model is released: settings changes take effect at the next idle moment.
   */
  private async instanceFor(model: VisionChatLoadOptions): Promise<Loaded> {
    const key = modelKey(model);
    const found = this.loaded.find((l) => l.key === key);
    if (found) {
      this.loaded = [...this.loaded.filter((l) => l !== found), found];
      return found;
    }
    const files = filesKey(model);
    // The same files under other settings (threads, GPU layers) are stale, and the oldest go beyond the limit:
    // released before the load, so that memory never holds one model more than the limit.
    const max = Math.max(1, this.o.maxLoaded ?? 2);
    const stale = this.loaded.filter((l) => l.files === files);
    const kept = this.loaded.filter((l) => l.files !== files);
    const gone = [...stale, ...kept.splice(0, Math.max(0, kept.length - (max - 1)))];
    this.loaded = kept;
    for (const l of gone) await l.instance.release();
    const instance = await this.o.load(model);
    const entry = { key, files, instance };
    this.loaded.push(entry);
    return entry;
  }
}

function titleFrom(text: string, images: number): string {
  const t = text.trim().replace(/\s+/g, ' ');
  if (t) return t.length > 60 ? `${t.slice(0, 57)}…` : t;
  return images === 1 ? 'An image' : `${images} images`;
}
