// The "Look" view's state: one image dropped, pasted or picked (its bytes, never a path), and what the models say
// of it: its tags from the vocabulary with their margins, zero-shot probabilities for labels the person types (the
// lesson's first demo: an image and some labels, answered with probabilities), a caption, and short answers.
// The image is not a library photo: nothing here is saved, except the labels, remembered for the next image.

import type { LookView, ShortAnswerView } from '../../../electron/ipc/contract.ts';
import type { Api } from '../lib/api.ts';
import { bytesOf, isImage, MAX_IMAGE_BYTES } from '../lib/image-files.ts';
import { visionProblem } from './captions.svelte.ts';
import { messageOf } from './library.svelte.ts';

export const LOOK_LABELS_KEY = 'glance.look.labels';
export const MAX_LABELS = 20;
export const MAX_LABEL_LENGTH = 100;

type LabelStore = Pick<Storage, 'getItem' | 'setItem'>;

export interface LookImage {
  bytes: Uint8Array<ArrayBuffer>;
  name: string;
  /** blob: URL to show it; null where none can be made. */
  preview: string | null;
}

export interface LookQuestion {
  key: number;
  question: string;
  answer: ShortAnswerView | null;
  error: string | null;
  pending: boolean;
}

/** The labels as the chart shows them: the most probable first; equal ones keep the engine's order. */
export function byProbability(labels: LookView['labels']): LookView['labels'] {
  return labels
    .map((l, i) => ({ l, i }))
    .sort((a, b) => b.l.probability - a.l.probability || a.i - b.i)
    .map(({ l }) => l);
}

export const percent = (p: number) => `${(p * 100).toFixed(1)}%`;

function storedLabels(store: LabelStore | null): string[] {
  try {
    const raw = store?.getItem(LOOK_LABELS_KEY);
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    if (!Array.isArray(parsed)) return [];
    return parsed
      .filter((l): l is string => typeof l === 'string' && l.trim() !== '' && l.length <= MAX_LABEL_LENGTH)
      .slice(0, MAX_LABELS);
  } catch {
    return []; // unreadable: start without labels rather than fail the view
  }
}

export class LookState {
  image = $state.raw<LookImage | null>(null);
  imageError = $state<string | null>(null);
  /** The labels typed, in the order typed (the engine answers in this order). */
  labels = $state.raw<string[]>([]);
  labelError = $state<string | null>(null);
  result = $state.raw<LookView | null>(null);
  classifying = $state(false);
  classifyError = $state<string | null>(null);
  caption = $state<string | null>(null);
  captioning = $state(false);
  captionError = $state<string | null>(null);
  questions = $state<LookQuestion[]>([]);
  /** The chart's rows: the top label first. */
  readonly chart = $derived(byProbability(this.result?.labels ?? []));
  /** Answers for an older image or older labels are dropped: the newest call wins. */
  private imageSeq = 0;
  private classifySeq = 0;
  private key = 0;

  constructor(
    readonly api: Api,
    private readonly store: LabelStore | null = typeof localStorage === 'undefined' ? null : localStorage,
  ) {
    this.labels = storedLabels(store);
  }

  /** Files or blobs from the picker, a drop or a paste: the first image is looked at. */
  async setFiles(files: Iterable<Blob>): Promise<void> {
    const list = [...files];
    const blob = list.find(isImage);
    if (!blob) {
      this.imageError = list.length ? 'That is not an image. Drop a JPEG, PNG, WebP or HEIC picture.' : null;
      return;
    }
    if (blob.size === 0 || blob.size > MAX_IMAGE_BYTES) {
      this.imageError = blob.size === 0 ? 'That image is empty.' : 'That image is larger than 64 MB.';
      return;
    }
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await bytesOf(blob);
    } catch {
      this.imageError = 'The file could not be read. Try another image.';
      return;
    }
    const name = blob instanceof File && blob.name ? blob.name : 'Pasted image';
    const preview =
      typeof URL !== 'undefined' && typeof URL.createObjectURL === 'function' ? URL.createObjectURL(blob) : null;
    this.setImage({ bytes, name, preview });
  }

  setImage(image: LookImage): void {
    const old = this.image?.preview;
    if (old?.startsWith('blob:') && typeof URL.revokeObjectURL === 'function') URL.revokeObjectURL(old);
    this.imageSeq++;
    this.image = image;
    this.imageError = null;
    this.result = null;
    this.caption = null;
    this.captionError = null;
    this.questions = [];
    void this.classify();
  }

  /** Tags and label probabilities for the image; fewer than two labels: tags only (nothing to choose between). */
  async classify(): Promise<void> {
    const image = this.image;
    if (!image) return;
    const seq = ++this.classifySeq;
    this.classifying = true;
    this.classifyError = null;
    try {
      const labels = this.labels.length >= 2 ? [...this.labels] : [];
      const r = await this.api.call('look.classify', { image: { bytes: image.bytes }, labels });
      if (seq === this.classifySeq) this.result = r;
    } catch (err) {
      if (seq === this.classifySeq) this.classifyError = messageOf(err);
    } finally {
      if (seq === this.classifySeq) this.classifying = false;
    }
  }

  private saveLabels(): void {
    try {
      this.store?.setItem(LOOK_LABELS_KEY, JSON.stringify(this.labels));
    } catch {
      // storage full or refused: the labels still work for this session
    }
  }

  /** Adds labels (commas separate several); true when at least one was added. */
  addLabels(input: string): boolean {
    this.labelError = null;
    const next = [...this.labels];
    for (const raw of input.split(',')) {
      const label = raw.trim();
      if (!label) continue;
      if (label.length > MAX_LABEL_LENGTH) {
        this.labelError = `A label is at most ${MAX_LABEL_LENGTH} characters.`;
        return false;
      }
      if (next.some((l) => l.toLowerCase() === label.toLowerCase())) continue;
      if (next.length >= MAX_LABELS) {
        this.labelError = `At most ${MAX_LABELS} labels.`;
        break;
      }
      next.push(label);
    }
    if (next.length === this.labels.length) return false; // nothing new (or refused: labelError says why)
    this.labels = next;
    this.saveLabels();
    void this.classify();
    return true;
  }

  removeLabel(label: string): void {
    this.labelError = null;
    this.labels = this.labels.filter((l) => l !== label);
    this.saveLabels();
    void this.classify();
  }

  async describe(): Promise<void> {
    const image = this.image;
    if (!image || this.captioning) return;
    const seq = this.imageSeq;
    this.captioning = true;
    this.captionError = null;
    try {
      const r = await this.api.call('look.caption', { image: { bytes: image.bytes } });
      if (seq === this.imageSeq) this.caption = r.text;
    } catch (err) {
      if (seq === this.imageSeq) this.captionError = visionProblem(err);
    } finally {
      if (seq === this.imageSeq) this.captioning = false;
    }
  }

  /** A short answer about the image; each question keeps its own answer or error in place. */
  async ask(question: string): Promise<boolean> {
    const image = this.image;
    const q = question.trim();
    if (!image || !q) return false;
    if (q.length > 500) {
      this.questions.push({
        key: ++this.key,
        question: `${q.slice(0, 80)}…`,
        answer: null,
        error: 'A question is at most 500 characters.',
        pending: false,
      });
      return false;
    }
    const seq = this.imageSeq;
    this.questions.push({ key: ++this.key, question: q, answer: null, error: null, pending: true });
    const entry = this.questions.at(-1)!;
    try {
      const r = await this.api.call('ask.short', { image: { bytes: image.bytes }, question: q });
      if (seq === this.imageSeq) entry.answer = r;
    } catch (err) {
      if (seq === this.imageSeq) entry.error = visionProblem(err);
    } finally {
      if (seq === this.imageSeq) entry.pending = false;
    }
    return true;
  }

  dispose(): void {
    const old = this.image?.preview;
    if (old?.startsWith('blob:') && typeof URL.revokeObjectURL === 'function') URL.revokeObjectURL(old);
  }
}
