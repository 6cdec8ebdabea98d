// The capture overlay's state: the frozen frame, the selection being drawn or adjusted, and the answer sent back.
// The geometry is pure functions over plain rects in the overlay's CSS pixels (its window covers one display), so
// it can be tested without a DOM; OverlayState wires them to the pointer and the keyboard.
import type { CaptureFrameView, OverlayRect } from '../../../electron/ipc/contract.ts';
import { type Api, ApiError } from '../lib/api.ts';

export interface Point {
  x: number;
  y: number;
}
export interface Bounds {
  width: number;
  height: number;
}
/** A resize handle (compass point of the selection's edge or corner). */
export type Handle = 'n' | 's' | 'e' | 'w' | 'ne' | 'nw' | 'se' | 'sw';
export const HANDLES: readonly Handle[] = ['nw', 'n', 'ne', 'e', 'se', 's', 'sw', 'w'];

/** A drag shorter than this (either way) is a click: it clears the selection. */
export const MIN_DRAG = 3;

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** The rect spanned by two points, whichever way the drag went. */
export function normalize(a: Point, b: Point): OverlayRect {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.abs(a.x - b.x), height: Math.abs(a.y - b.y) };
}

/** A point kept inside the frame. */
export function clampPoint(p: Point, b: Bounds): Point {
  return { x: clamp(p.x, 0, b.width), y: clamp(p.y, 0, b.height) };
}

/** The part of a rect inside the frame (it may come out empty). */
export function clampRect(r: OverlayRect, b: Bounds): OverlayRect {
  const x0 = clamp(r.x, 0, b.width);
  const y0 = clamp(r.y, 0, b.height);
  const x1 = clamp(r.x + r.width, 0, b.width);
  const y1 = clamp(r.y + r.height, 0, b.height);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

/** A rect moved by (dx, dy), its size kept, stopped at the frame's edges. */
export function moveRect(r: OverlayRect, dx: number, dy: number, b: Bounds): OverlayRect {
  return {
    ...r,
    x: clamp(r.x + dx, 0, Math.max(0, b.width - r.width)),
    y: clamp(r.y + dy, 0, Math.max(0, b.height - r.height)),
  };
}

/** A rect with the edges a handle names moved by (dx, dy); dragging past the opposite edge flips it. */
export function resizeRect(r: OverlayRect, handle: Handle, dx: number, dy: number, b: Bounds): OverlayRect {
  let left = r.x;
  let top = r.y;
  let right = r.x + r.width;
  let bottom = r.y + r.height;
  if (handle.includes('w')) left += dx;
  if (handle.includes('e')) right += dx;
  if (handle.includes('n')) top += dy;
  if (handle.includes('s')) bottom += dy;
  return normalize(clampPoint({ x: left, y: top }, b), clampPoint({ x: right, y: bottom }, b));
}

/**
 * The keyboard: an arrow moves the selection by `step`, Shift+arrow resizes it (Right/Down grow, Left/Up shrink,
 * never below 1 px). Returns null for any other key.
 */
export function nudge(
  r: OverlayRect,
  key: string,
  opts: { resize: boolean; step: number },
  b: Bounds,
): OverlayRect | null {
  const d: Record<string, Point> = {
    ArrowLeft: { x: -1, y: 0 },
    ArrowRight: { x: 1, y: 0 },
    ArrowUp: { x: 0, y: -1 },
    ArrowDown: { x: 0, y: 1 },
  };
  const v = d[key];
  if (!v) return null;
  const dx = v.x * opts.step;
  const dy = v.y * opts.step;
  if (!opts.resize) return moveRect(r, dx, dy, b);
  return {
    ...r,
    width: clamp(r.width + dx, 1, Math.max(1, b.width - r.x)),
    height: clamp(r.height + dy, 1, Math.max(1, b.height - r.y)),
  };
}

/** The selection's size in the capture's physical pixels. */
export function physicalSize(r: OverlayRect, scaleFactor: number): Bounds {
  return { width: Math.round(r.width * scaleFactor), height: Math.round(r.height * scaleFactor) };
}

type Drag =
  | { mode: 'new'; origin: Point }
  | { mode: 'move'; start: Point; rect: OverlayRect }
  | { mode: 'resize'; handle: Handle; start: Point; rect: OverlayRect };

export class OverlayState {
  frame = $state.raw<CaptureFrameView | null>(null);
  selection = $state.raw<OverlayRect | null>(null);
  error = $state.raw<string | null>(null);
  /** The answer is on its way (or gone): the overlay takes no more input. */
  done = $state(false);
  /** The window's size, used when there is no frame to measure by. */
  viewport = $state.raw<Bounds>({ width: 0, height: 0 });
  #drag: Drag | null = null;

  constructor(readonly api: Api) {}

  async load(): Promise<void> {
    try {
      this.frame = await this.api.call('capture.frame');
    } catch (err) {
      this.error = message(err);
    }
  }

  /** The overlay's size in CSS pixels: the frame's physical size over its scale (the window covers the display). */
  get bounds(): Bounds {
    const f = this.frame;
    if (f && f.scaleFactor > 0 && f.width > 0 && f.height > 0)
      return { width: f.width / f.scaleFactor, height: f.height / f.scaleFactor };
    return this.viewport;
  }

  get scaleFactor(): number {
    return this.frame?.scaleFactor ?? 1;
  }

  get dragging(): boolean {
    return this.#drag !== null;
  }

  /** A press: on a handle resizes, inside the selection moves it, elsewhere starts a new one. */
  pointerDown(p: Point, handle: Handle | null = null): void {
    if (this.done) return;
    const b = this.bounds;
    const at = clampPoint(p, b);
    const s = this.selection;
    if (s && handle) this.#drag = { mode: 'resize', handle, start: at, rect: s };
    else if (s && inside(at, s)) this.#drag = { mode: 'move', start: at, rect: s };
    else {
      this.#drag = { mode: 'new', origin: at };
      this.selection = null;
    }
  }

  pointerMove(p: Point): void {
    const d = this.#drag;
    if (!d) return;
    const b = this.bounds;
    const at = clampPoint(p, b);
    if (d.mode === 'new') {
      const r = normalize(d.origin, at);
      this.selection = r.width >= MIN_DRAG || r.height >= MIN_DRAG ? r : null;
    } else if (d.mode === 'move') {
      this.selection = moveRect(d.rect, at.x - d.start.x, at.y - d.start.y, b);
    } else {
      this.selection = resizeRect(d.rect, d.handle, at.x - d.start.x, at.y - d.start.y, b);
    }
  }

  pointerUp(p?: Point): void {
    if (p) this.pointerMove(p);
    this.#drag = null;
    const s = this.selection;
    // a click, or a rect squashed flat: nothing selected (Enter then takes the whole display)
    if (s && (s.width < 1 || s.height < 1 || (s.width < MIN_DRAG && s.height < MIN_DRAG))) this.selection = null;
  }

  /** Keys: Enter sends, Esc cancels, arrows nudge (Shift resizes, Ctrl/Alt by 10). Returns whether it was handled. */
  key(e: { key: string; shiftKey: boolean; ctrlKey?: boolean; altKey?: boolean; metaKey?: boolean }): boolean {
    if (this.done) return false;
    if (e.key === 'Enter') {
      void this.submit();
      return true;
    }
    if (e.key === 'Escape') {
      void this.cancel();
      return true;
    }
    const s = this.selection;
    if (!s) return false;
    const step = e.ctrlKey || e.altKey || e.metaKey ? 10 : 1;
    const r = nudge(s, e.key, { resize: e.shiftKey, step }, this.bounds);
    if (!r) return false;
    this.selection = r;
    return true;
  }

  /** Sends the selection (rounded CSS pixels), or null for the whole display. */
  async submit(): Promise<void> {
    if (this.done) return;
    const s = this.selection;
    const rect = s
      ? {
          x: Math.round(s.x),
          y: Math.round(s.y),
          width: Math.max(1, Math.round(s.width)),
          height: Math.max(1, Math.round(s.height)),
        }
      : null;
    await this.#send(() => this.api.call('capture.select', { rect }));
  }

  async cancel(): Promise<void> {
    if (this.done) return;
    await this.#send(() => this.api.call('capture.cancel'));
  }

  async #send(call: () => Promise<unknown>): Promise<void> {
    this.done = true;
    this.error = null;
    try {
      await call();
    } catch (err) {
      this.error = message(err);
      this.done = false;
    }
  }
}

function inside(p: Point, r: OverlayRect): boolean {
  return p.x >= r.x && p.x <= r.x + r.width && p.y >= r.y && p.y <= r.y + r.height;
}

function message(err: unknown): string {
  return err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);
}
