// The chat view's state: the conversations, the open one, the message being written (text and pending images), the
// answer streaming in from chat.token events, and errors with what to do about them. Everything that crosses to the
// app is built fresh from plain values (never a Svelte proxy: IPC cannot clone one).
import type {
  ChannelArg,
  ConversationSummaryView,
  ConversationView,
  MessageView,
  ModelView,
} from '../../../electron/ipc/contract.ts';
import { type Api, ApiError } from '../lib/api.ts';
import { bytesOf, isImage, MAX_IMAGE_BYTES } from '../lib/image-files.ts';

export type ImageRef = NonNullable<ChannelArg<'chat.send'>['images']>[number];

/** An image waiting in the composer. */
export interface PendingImage {
  key: number;
  name: string;
  ref: ImageRef;
  /** blob: URL (bytes) or glance://thumb/<id> (library photo); null where none can be made. */
  preview: string | null;
}

/** An error shown in place, with what the person can do about it. */
export interface ChatProblem {
  code: string;
  message: string;
  help: string;
  /** Whether "Try again" makes sense (busy, engine restarted). */
  retry: boolean;
}

/** The answer being generated. */
export interface LiveAnswer {
  conversationId: number;
  text: string;
  /** Tokens received so far. */
  tokens: number;
}

export const MAX_IMAGES = 8;

/** What to do about an error code, in a sentence. */
export function helpFor(code: string, message = ''): string {
  switch (code) {
    case 'no-chat-model':
      return 'No chat model is installed. Download a chat model in Models.';
    case 'model-not-installed':
      return 'This model is not downloaded. Download it in Models, or pick another model.';
    case 'mmproj-missing':
      return 'The model’s vision file (mmproj) is missing. Download the model again in Models.';
    case 'unknown-model':
      return 'That model is not in the catalog. Pick another model.';
    case 'busy':
      return 'The model is busy with other requests. Try again in a moment.';
    case 'engine-stopped':
    case 'engine-crashed':
    case 'engine-start-failed':
      return 'The engine stopped. It restarts on its own: try again in a moment.';
    case 'photo-not-indexed':
    case 'photo-missing':
      return 'That photo is not in the library any more. Attach another.';
    case 'nothing-to-regenerate':
      return 'There is nothing to answer yet: write a message first.';
    case 'not-found':
      return 'This conversation no longer exists. Pick another or start a new one.';
    case 'invalid-argument':
    case 'bad-request':
      return message ? `The message was refused: ${message}.` : 'The message was refused.';
    case 'too-many-images':
      return `A message can carry at most ${MAX_IMAGES} images. Remove some first.`;
    case 'not-an-image':
      return 'Only images can be attached (JPEG, PNG, WebP, HEIC…).';
    case 'image-too-large':
      return 'That image is larger than 64 MB.';
    default:
      if (code.startsWith('image-')) return 'The image could not be read. Try another image (JPEG, PNG, WebP, HEIC).';
      return message || 'Something went wrong. Try again.';
  }
}

const RETRYABLE = new Set(['busy', 'engine-stopped', 'engine-crashed', 'engine-start-failed', 'internal']);

export function problemFrom(err: unknown): ChatProblem {
  const code = err instanceof ApiError ? err.code : 'internal';
  const message = err instanceof Error ? err.message : String(err);
  return { code, message, help: helpFor(code, message), retry: RETRYABLE.has(code) };
}

const localProblem = (code: string, message: string): ChatProblem => ({
  code,
  message,
  help: helpFor(code, message),
  retry: false,
});

const objectUrl = (b: Blob) =>
  typeof URL !== 'undefined' && typeof URL.createObjectURL === 'function' ? URL.createObjectURL(b) : null;
const revoke = (url: string | null) => {
  if (url?.startsWith('blob:') && typeof URL.revokeObjectURL === 'function') URL.revokeObjectURL(url);
};

export class ChatState {
  conversations = $state.raw<ConversationSummaryView[]>([]);
  /** The open conversation; null for a new one, created on its first message. */
  current = $state.raw<ConversationView | null>(null);
  /** Installed chat models. */
  models = $state.raw<ModelView[]>([]);
  /** The chosen model's catalog id; null: the default (Settings). */
  model = $state<string | null>(null);
  draft = $state('');
  pending = $state.raw<PendingImage[]>([]);
  live = $state.raw<LiveAnswer | null>(null);
  /** Shown in place, above the composer. */
  error = $state.raw<ChatProblem | null>(null);
  /** An error of the composer's own (an attachment refused): shown beside it. */
  attachError = $state.raw<ChatProblem | null>(null);
  loaded = $state(false);
  /** A message is on its way (its conversation being created, say) before any answer streams. */
  #sending = $state(false);

  #key = 0;
  #tempId = 0;
  #off: () => void;

  constructor(readonly api: Api) {
    this.#off = api.on('chat.token', (e) => {
      const s = this.live;
      if (s && s.conversationId === e.conversationId) {
        this.live = { ...s, text: s.text + e.token, tokens: s.tokens + e.count };
      }
    });
  }

  /** Stops listening for tokens and frees the previews. */
  dispose(): void {
    this.#off();
    for (const p of this.pending) revoke(p.preview);
  }

  /** Whether an answer is being generated (in any conversation). */
  get streaming(): boolean {
    return this.live !== null || this.#sending;
  }

  /** The answer streaming into the open conversation, if any. */
  get liveText(): string | null {
    const s = this.live;
    return s && this.current && s.conversationId === this.current.id ? s.text : null;
  }

  get canSend(): boolean {
    return !this.streaming && (this.draft.trim() !== '' || this.pending.length > 0);
  }

  /** The last message can be answered again: an answer is there (or its question is, unanswered). */
  get canRegenerate(): boolean {
    const last = this.current?.messages.at(-1);
    return !this.streaming && !!last && last.id > 0;
  }

  async load(): Promise<void> {
    await Promise.all([this.refreshList(), this.refreshModels()]);
    this.loaded = true;
  }

  /** Reloads the list of conversations; `quiet`: after a turn, where a failure must not hide the turn's error. */
  async refreshList(quiet = false): Promise<void> {
    try {
      this.conversations = await this.api.call('chat.list');
    } catch (err) {
      if (!quiet) this.error = problemFrom(err);
    }
  }

  async refreshModels(): Promise<void> {
    try {
      const all = await this.api.call('models.list');
      this.models = all.filter((m) => m.kind === 'chat' && m.installed);
      if (this.model && !this.models.some((m) => m.id === this.model)) this.model = null;
    } catch {
      // The model menu offers "Default" alone; a send reports what is missing.
      this.models = [];
    }
  }

  async open(conversationId: number): Promise<void> {
    try {
      const c = await this.api.call('chat.get', { conversationId });
      this.current = c;
      this.error = null;
      if (c.model && this.models.some((m) => m.id === c.model)) this.model = c.model;
    } catch (err) {
      this.error = problemFrom(err);
    }
  }

  /** A fresh, empty conversation: created in the app when its first message is sent. What is being written stays. */
  newConversation(): void {
    this.current = null;
    this.error = null;
  }

  async remove(conversationId: number): Promise<void> {
    try {
      await this.api.call('chat.delete', { conversationId });
      this.conversations = this.conversations.filter((c) => c.id !== conversationId);
      if (this.current?.id === conversationId) this.current = null;
    } catch (err) {
      this.error = problemFrom(err);
    }
  }

  // ---- pending images ----

  /** Files or blobs from the picker, a drop or a paste: images only, read into bytes. */
  async addFiles(files: Iterable<Blob>): Promise<void> {
    this.attachError = null;
    const list = [...files];
    const images = list.filter(isImage);
    if (images.length < list.length) this.attachError = localProblem('not-an-image', 'not an image');
    for (const blob of images) {
      if (this.pending.length >= MAX_IMAGES) {
        this.attachError = localProblem('too-many-images', `at most ${MAX_IMAGES} images`);
        break;
      }
      if (blob.size === 0 || blob.size > MAX_IMAGE_BYTES) {
        this.attachError = localProblem(blob.size === 0 ? 'image-empty' : 'image-too-large', 'image size');
        continue;
      }
      const name = blob instanceof File && blob.name ? blob.name : 'Pasted image';
      try {
        const bytes = await bytesOf(blob);
        this.pending = [...this.pending, { key: ++this.#key, name, ref: { bytes }, preview: objectUrl(blob) }];
      } catch {
        this.attachError = localProblem('image-unreadable', 'the file could not be read');
      }
    }
  }

  /** A photo of the library, by id. */
  attachPhoto(photoId: number, name = `Photo ${photoId}`): void {
    this.attachError = null;
    if (this.pending.length >= MAX_IMAGES) {
      this.attachError = localProblem('too-many-images', `at most ${MAX_IMAGES} images`);
      return;
    }
    this.pending = [
      ...this.pending,
      { key: ++this.#key, name, ref: { photoId }, preview: `glance://thumb/${photoId}` },
    ];
  }

  removePending(key: number): void {
    const p = this.pending.find((x) => x.key === key);
    if (p) revoke(p.preview);
    this.pending = this.pending.filter((x) => x.key !== key);
    this.attachError = null;
  }

  // ---- turns ----

  private get modelArg(): { model?: string } {
    return this.model ? { model: this.model } : {};
  }

  async send(): Promise<void> {
    if (!this.canSend) return;
    const text = this.draft.trim();
    const pending = this.pending;
    let c = this.current;
    if (!c) {
      this.#sending = true;
      try {
        c = await this.api.call('chat.create');
      } catch (err) {
        this.error = problemFrom(err);
        return;
      } finally {
        this.#sending = false;
      }
      this.current = c;
      this.conversations = [{ id: c.id, title: c.title, updatedAt: Date.now(), messages: 0 }, ...this.conversations];
    }
    const conversationId = c.id;
    const before = c.messages.length;
    // The question shows at once; the stored one (its id, its attachments) replaces it when the answer is in.
    const question: MessageView = {
      id: --this.#tempId,
      role: 'user',
      text,
      images: pending.filter((p) => p.preview).map((p) => ({ url: p.preview!, width: 0, height: 0 })),
      stats: null,
      createdAt: Date.now(),
    };
    this.current = { ...c, messages: [...c.messages, question] };
    this.draft = '';
    this.pending = [];
    this.attachError = null;
    const images = pending.map(
      ({ ref }): ImageRef => ('bytes' in ref ? { bytes: ref.bytes } : { photoId: ref.photoId }),
    );
    const failure = await this.stream(conversationId, () =>
      this.api.call('chat.send', {
        conversationId,
        text,
        ...(images.length ? { images } : {}),
        ...this.modelArg,
      }),
    );
    const fresh = await this.fetch(conversationId);
    // Unless another turn began meanwhile (its own refresh comes after it).
    const shown = fresh !== null && this.current?.id === conversationId && !this.streaming;
    if (shown) this.current = fresh;
    const ok = failure === null;
    const stored = fresh ? fresh.messages.length > before : ok;
    if (!ok && !stored) {
      // Nothing was kept: take the question back into the composer to send again.
      if (!fresh && this.current?.id === conversationId) {
        // A conversation whose first turn fails is deleted by the app: the next message starts a new one.
        this.current =
          before === 0
            ? null
            : { ...this.current, messages: this.current.messages.filter((m) => m.id !== question.id) };
      }
      if (this.draft === '' && this.pending.length === 0) {
        this.draft = text;
        this.pending = pending;
      } else {
        for (const p of pending) revoke(p.preview);
      }
    } else if (shown || this.current?.id !== conversationId) {
      // The stored message shows the app's copy: the local previews are done with (once the DOM lets go of them).
      setTimeout(() => {
        for (const p of pending) revoke(p.preview);
      }, 0);
    }
    this.report(conversationId, failure);
    void this.refreshList(true);
  }

  /** Stops the answer being generated; what was written so far is kept. */
  async stop(): Promise<void> {
    const s = this.live;
    if (!s) return;
    try {
      await this.api.call('chat.stop', { conversationId: s.conversationId });
    } catch (err) {
      this.error = problemFrom(err);
    }
  }

  /** Answers the last question again (replacing the last answer, if there is one). */
  async regenerate(): Promise<void> {
    const c = this.current;
    if (!c || !this.canRegenerate) return;
    const conversationId = c.id;
    const last = c.messages.at(-1);
    if (last?.role === 'assistant') this.current = { ...c, messages: c.messages.slice(0, -1) };
    const failure = await this.stream(conversationId, () =>
      this.api.call('chat.regenerate', { conversationId, ...this.modelArg }),
    );
    await this.settle(conversationId, failure);
  }

  /** Changes an earlier question, drops what came after it, and answers again. */
  async edit(messageId: number, text: string): Promise<void> {
    const c = this.current;
    if (!c || this.streaming || messageId < 1) return;
    const i = c.messages.findIndex((m) => m.id === messageId && m.role === 'user');
    if (i < 0) return;
    const conversationId = c.id;
    this.current = { ...c, messages: [...c.messages.slice(0, i), { ...c.messages[i]!, text }] };
    const failure = await this.stream(conversationId, () =>
      this.api.call('chat.edit', { conversationId, messageId, text, ...this.modelArg }),
    );
    await this.settle(conversationId, failure);
  }

  /** "Try again" after an error: answer the unanswered question, or send the message taken back. */
  async retry(): Promise<void> {
    this.error = null;
    if (this.current?.messages.at(-1)?.role === 'user' && this.current.messages.at(-1)!.id > 0) {
      await this.regenerate();
    } else if (this.canSend) {
      await this.send();
    }
  }

  dismissError(): void {
    this.error = null;
  }

  /**
   * Streams one answer into the live bubble; the stored message replaces it. Returns the failure, or null. The
   * caller reports it once the conversation shows what the app kept, so that "Try again" acts on that.
   */
  private async stream(conversationId: number, call: () => Promise<MessageView>): Promise<{ err: unknown } | null> {
    this.error = null;
    this.live = { conversationId, text: '', tokens: 0 };
    try {
      const answer = await call();
      // One synchronous step: the live bubble and the stored message never show together.
      if (this.current?.id === conversationId) {
        this.current = { ...this.current, messages: [...this.current.messages, answer] };
      }
      this.live = null;
      return null;
    } catch (err) {
      this.live = null;
      return { err };
    }
  }

  /** Shows a turn's failure, if the person is still looking at that conversation. */
  private report(conversationId: number, failure: { err: unknown } | null): void {
    if (failure && (this.current?.id ?? conversationId) === conversationId) this.error = problemFrom(failure.err);
  }

  /** After a turn, show what the app stored (ids, attachments, what an error left behind), then any failure. */
  private async settle(conversationId: number, failure: { err: unknown } | null): Promise<void> {
    const fresh = await this.fetch(conversationId);
    if (fresh && this.current?.id === conversationId && !this.streaming) {
      this.current = fresh;
    }
    this.report(conversationId, failure);
    void this.refreshList(true);
  }

  private async fetch(conversationId: number): Promise<ConversationView | null> {
    try {
      return await this.api.call('chat.get', { conversationId });
    } catch {
      return null;
    }
  }
}
