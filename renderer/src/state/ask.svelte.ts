// The ask window's state: what it is about (the cropped region and the models that may answer), the questions
// asked and the answer streaming in from chat.token events, the model chosen, and errors shown in place.
import type { AskContextView } from '../../../electron/ipc/contract.ts';
import { type Api, ApiError } from '../lib/api.ts';
import { helpFor } from './chat.svelte.ts';

export interface Exchange {
  question: string;
  answer: string;
  /** The model's display name (its id when not in the list); null: the app's default. */
  model: string | null;
  pending: boolean;
}

export type AskModel = AskContextView['models'][number];

/** Models that read text well first, otherwise in the order given. */
export function orderModels(models: readonly AskModel[]): AskModel[] {
  return [...models.filter((m) => m.readsText), ...models.filter((m) => !m.readsText)];
}

export class AskState {
  context = $state.raw<AskContextView | null>(null);
  loaded = $state(false);
  draft = $state('');
  /** The chosen model's id ('' = the app's default). */
  model = $state('');
  exchanges = $state<Exchange[]>([]);
  error = $state.raw<string | null>(null);
  conversationId = $state<number | null>(null);
  #off: () => void;

  constructor(readonly api: Api) {
    this.#off = api.on('chat.token', (e) => {
      const last = this.exchanges.at(-1);
      if (!last?.pending) return;
      // before the conversation is known, the pending question's answer is the only one streaming here
      if (this.conversationId === null) this.conversationId = e.conversationId;
      if (e.conversationId !== this.conversationId) return;
      last.answer += e.token;
    });
  }

  dispose(): void {
    this.#off();
  }

  async load(): Promise<void> {
    try {
      const c = await this.api.call('ask.context');
      this.context = c;
      if (c) {
        this.conversationId = c.conversationId;
        const models = orderModels(c.models);
        this.model = c.model ?? models[0]?.id ?? '';
      }
    } catch (err) {
      this.error = describe(err);
    } finally {
      this.loaded = true;
    }
  }

  get models(): AskModel[] {
    return orderModels(this.context?.models ?? []);
  }

  get sending(): boolean {
    return this.exchanges.at(-1)?.pending ?? false;
  }

  get canSend(): boolean {
    return !this.sending && this.draft.trim() !== '';
  }

  nameOf(id: string | null): string | null {
    if (!id) return null;
    return this.models.find((m) => m.id === id)?.name ?? id;
  }

  async send(): Promise<void> {
    if (!this.canSend) return;
    const text = this.draft.trim();
    const model = this.model || undefined;
    this.draft = '';
    this.error = null;
    this.exchanges.push({ question: text, answer: '', model: this.nameOf(model ?? null), pending: true });
    const ex = this.exchanges.at(-1)!;
    try {
      const msg = await this.api.call('ask.send', model ? { text, model } : { text });
      ex.answer = msg.text;
    } catch (err) {
      this.error = describe(err);
      if (!ex.answer) this.draft = text;
    } finally {
      ex.pending = false;
    }
  }

  async continueInChat(): Promise<void> {
    this.error = null;
    try {
      const r = await this.api.call('ask.continueInChat');
      if (r) this.conversationId = r.conversationId;
    } catch (err) {
      this.error = describe(err);
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof ApiError) {
    const help = helpFor(err.code, err.message);
    return help && help !== err.message ? `${err.message} ${help}` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
