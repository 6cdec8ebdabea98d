// The arithmetic of screenshot-and-ask, with no Electron in it: from the overlay's CSS pixels to the capture's
// physical pixels, and where the ask window goes. The overlay covers exactly one display, so its coordinates are
// relative to that display whatever the arrangement (negative origins included): only the scale matters here.
import type { OverlayRect } from '../../ipc/contract.ts';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface CaptureDisplay {
  id: number;
  /** In DIPs, in the virtual desktop's coordinates (negative left of / above the primary display). */
  bounds: Rect;
  workArea: Rect;
  scaleFactor: number;
}

/** The whole display as an overlay selection (Enter with nothing selected). */
export const wholeDisplay = (display: { bounds: Rect }): OverlayRect => ({
  x: 0,
  y: 0,
  width: display.bounds.width,
  height: display.bounds.height,
});

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
const finite = (v: number) => (Number.isFinite(v) ? v : 0);

/**
 * The selection in the capture's physical pixels: integers, clamped to the capture, at least 1×1. The scale is
 * taken from the capture itself (its size over the display's), which is the scale factor when the system gives the
 * full-size picture and still right when it rounds. Edges are rounded, so adjacent selections tile exactly.
 */
export function overlayToPhysical(
  rect: OverlayRect,
  display: { bounds: Pick<Rect, 'width' | 'height'>; scaleFactor: number },
  capture: { width: number; height: number },
): Rect {
  const sx = display.bounds.width > 0 ? capture.width / display.bounds.width : display.scaleFactor;
  const sy = display.bounds.height > 0 ? capture.height / display.bounds.height : display.scaleFactor;
  // A drag may run right-to-left or upwards: normalise a negative size.
  const x0css = finite(Math.min(rect.x, rect.x + rect.width));
  const y0css = finite(Math.min(rect.y, rect.y + rect.height));
  const x1css = finite(Math.max(rect.x, rect.x + rect.width));
  const y1css = finite(Math.max(rect.y, rect.y + rect.height));
  const W = Math.max(1, Math.floor(capture.width));
  const H = Math.max(1, Math.floor(capture.height));
  let x0 = clamp(Math.round(x0css * sx), 0, W - 1);
  let y0 = clamp(Math.round(y0css * sy), 0, H - 1);
  let x1 = clamp(Math.round(x1css * sx), 0, W);
  let y1 = clamp(Math.round(y1css * sy), 0, H);
  if (x1 <= x0) [x0, x1] = x0 + 1 <= W ? [x0, x0 + 1] : [W - 1, W];
  if (y1 <= y0) [y0, y1] = y0 + 1 <= H ? [y0, y0 + 1] : [H - 1, H];
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

export const ASK_WINDOW_SIZE = { width: 440, height: 600 } as const;
const GAP = 12;

/**
 * Where the ask window's top-left corner goes (DIPs, virtual desktop): beside the selection, right of it when it
 * fits, else left of it, else over it; top aligned with the selection; always inside the display's work area.
 */
export function askWindowPosition(
  selection: OverlayRect,
  display: { bounds: Rect; workArea: Rect },
  size: { width: number; height: number } = ASK_WINDOW_SIZE,
): { x: number; y: number } {
  const wa = display.workArea;
  const left = display.bounds.x + Math.min(selection.x, selection.x + selection.width);
  const top = display.bounds.y + Math.min(selection.y, selection.y + selection.height);
  const right = left + Math.abs(selection.width);
  let x: number;
  if (right + GAP + size.width <= wa.x + wa.width) x = right + GAP;
  else if (left - GAP - size.width >= wa.x) x = left - GAP - size.width;
  else x = right - size.width; // no room beside: over the selection's right part
  const width = Math.min(size.width, wa.width);
  const height = Math.min(size.height, wa.height);
  return {
    x: Math.round(clamp(x, wa.x, wa.x + wa.width - width)),
    y: Math.round(clamp(top, wa.y, wa.y + wa.height - height)),
  };
}

/**
 * Wayland: the display a picked source shows, for the overlay's coordinates. PipeWire hands back the one screen the
 * person picked, with no display id and no pointer to go by, so the picture itself says which: the display whose
 * physical size it has, else one of its shape (a thumbnail scaled to fit), else the first (the primary). The result
 * is placed at the origin (nothing is positioned on Wayland) with the picture's own scale, so that the crop is
 * taken from the picture as it came.
 */
export function pickedSourceDisplay(
  picture: { width: number; height: number },
  displays: readonly CaptureDisplay[],
): CaptureDisplay {
  const physical = (d: CaptureDisplay) =>
    Math.round(d.bounds.width * d.scaleFactor) === picture.width &&
    Math.round(d.bounds.height * d.scaleFactor) === picture.height;
  // same shape: width/height equal to within a pixel of the display's height
  const shaped = (d: CaptureDisplay) =>
    Math.abs(d.bounds.width * picture.height - d.bounds.height * picture.width) <= picture.height;
  const match = displays.find(physical) ?? displays.find(shaped);
  const d = match ?? displays[0];
  const scale = match ? picture.width / match.bounds.width : (d?.scaleFactor ?? 1);
  const width = match ? match.bounds.width : picture.width / scale;
  const height = match ? match.bounds.height : picture.height / scale;
  const bounds = { x: 0, y: 0, width, height };
  return { id: d?.id ?? 0, bounds, workArea: bounds, scaleFactor: scale };
}
