// "Ask each": one question put to every photo of the search result (or the ones ticked), with a short answer per
// photo. The calls go one after another, never in parallel: the engine answers one image at a time anyway, and a
// chat or a screenshot-and-ask waits behind at most one of them. Stop ends the run after the answer being written.
// A yes/no answer can be kept as a tag ("receipt: yes") through the library's own tags.add.

import type { PhotoHit, ShortAnswerView } from '../../../electron/ipc/contract.ts';
import type { Api } from '../lib/api.ts';
import { visionProblem } from './captions.svelte.ts';
import { messageOf } from './library.svelte.ts';

export type AskRowStatus = 'waiting' | 'asking' | 'answered' | 'failed' | 'skipped';

export interface AskRow {
  photoId: number;
  name: string;
  thumbnail: string;
  /** Ask this photo (unticked rows are left out). */
  included: boolean;
  status: AskRowStatus;
  answer: string | null;
  kind: ShortAnswerView['kind'] | null;
  /** Why this photo has no answer, in place of it. */
  error: string | null;
  /** The tag kept from its answer, or why it could not be. */
  tagged: string | null;
  tagError: string | null;
}

/** The most photos one run asks about: each takes seconds on a CPU. */
export const ASK_EACH_LIMIT = 1000;
export const QUESTION_LIMIT = 500;

/** A tag name from a question: "Is this a receipt?" → "receipt" (the person can change it). */
export function tagNameFor(question: string): string {
  const words = question
    .toLowerCase()
    .replace(/[?!.,;:"“”]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  const skip = new Set(
    (
      'is are was were do does did can could will would should has have had may might must shall there this that ' +
      'it the a an any in on of photo picture image someone somebody show shows contain contains see visible taken'
    ).split(' '),
  );
  return words
    .filter((w) => !skip.has(w))
    .join(' ')
    .slice(0, 80)
    .trim();
}

export class AskEachState {
  question = $state('');
  rows = $state<AskRow[]>([]);
  running = $state(false);
  /** Stop was pressed: the run ends after the answer being written. */
  stopping = $state(false);
  /** The question the rows answer (the box may have changed since). */
  asked = $state<string | null>(null);
  error = $state<string | null>(null);
  tagging = $state(false);
  tagMessage = $state<string | null>(null);
  /** Every answer is yes or no: they can be kept as tags. */
  readonly yesNo = $derived(
    this.rows.some((r) => r.status === 'answered') &&
      this.rows.every((r) => r.status !== 'answered' || r.kind === 'yes-no'),
  );
  readonly counts = $derived.by(() => {
    let answered = 0;
    let failed = 0;
    let included = 0;
    for (const r of this.rows) {
      if (r.included) included++;
      if (r.status === 'answered') answered++;
      else if (r.status === 'failed') failed++;
    }
    return { answered, failed, included };
  });
  private run = 0;

  constructor(readonly api: Api) {}

  /** The photos to ask about: the search result, up to the limit. Keeps answers of photos still there. */
  setPhotos(hits: readonly PhotoHit[]): void {
    if (this.running) return;
    const before = new Map(this.rows.map((r) => [r.photoId, r]));
    this.rows = hits.slice(0, ASK_EACH_LIMIT).map(
      (h) =>
        before.get(h.id) ?? {
          photoId: h.id,
          name: h.name,
          thumbnail: h.thumbnail,
          included: true,
          status: 'waiting',
          answer: null,
          kind: null,
          error: null,
          tagged: null,
          tagError: null,
        },
    );
  }

  setIncluded(included: boolean): void {
    if (this.running) return;
    for (const r of this.rows) r.included = included;
  }

  /** Asks the question of every ticked photo, one after another; answers fill in as they come. */
  async ask(): Promise<void> {
    const question = this.question.trim();
    if (this.running) return;
    if (!question) {
      this.error = 'Write a question first.';
      return;
    }
    if (question.length > QUESTION_LIMIT) {
      this.error = `A question is at most ${QUESTION_LIMIT} characters.`;
      return;
    }
    const targets = this.rows.filter((r) => r.included);
    if (targets.length === 0) {
      this.error = 'Tick at least one photo to ask about.';
      return;
    }
    const run = ++this.run;
    this.error = null;
    this.tagMessage = null;
    this.asked = question;
    this.running = true;
    this.stopping = false;
    for (const r of this.rows) {
      Object.assign(r, {
        status: r.included ? 'waiting' : 'skipped',
        answer: null,
        kind: null,
        error: null,
        tagged: null,
        tagError: null,
      } satisfies Partial<AskRow>);
    }
    try {
      for (const row of targets) {
        if (this.stopping || run !== this.run) {
          row.status = 'skipped';
          continue;
        }
        row.status = 'asking';
        try {
          const r = await this.api.call('ask.short', { image: { photoId: row.photoId }, question });
          row.answer = r.answer;
          row.kind = r.kind;
          row.status = 'answered';
        } catch (err) {
          row.error = visionProblem(err);
          row.status = 'failed';
        }
      }
    } finally {
      if (run === this.run) {
        this.running = false;
        this.stopping = false;
      }
    }
  }

  /** Ends the run after the answer being written (a running answer cannot be cut short from here). */
  stop(): void {
    if (this.running) this.stopping = true;
  }

  /**
   * Keeps each yes/no answer as a tag "NAME: yes" or "NAME: no" on its photo (the tag search finds them:
   * tag:"receipt: yes"). `only`: just the photos with that answer.
   */
  async keepAsTags(name: string, only: 'yes' | null = null): Promise<void> {
    const base = name.trim().replace(/:+$/, '').trim();
    if (!base) {
      this.tagMessage = 'Give the tag a name first.';
      return;
    }
    if (base.length > 90) {
      this.tagMessage = 'A tag name is at most 90 characters here (the answer is added to it).';
      return;
    }
    if (this.tagging || this.running) return;
    this.tagging = true;
    this.tagMessage = null;
    let kept = 0;
    let failed = 0;
    try {
      for (const row of this.rows) {
        if (row.status !== 'answered' || row.kind !== 'yes-no' || !row.answer) continue;
        if (only && row.answer !== only) continue;
        const tag = `${base}: ${row.answer}`;
        try {
          await this.api.call('tags.add', { photoId: row.photoId, tag });
          row.tagged = tag;
          row.tagError = null;
          kept++;
        } catch (err) {
          row.tagError = messageOf(err);
          failed++;
        }
      }
      this.tagMessage =
        `Tagged ${kept} ${kept === 1 ? 'photo' : 'photos'}` +
        (failed ? `; ${failed} could not be tagged (see the rows).` : '.');
    } finally {
      this.tagging = false;
    }
  }
}
