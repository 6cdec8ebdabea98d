// Taking the screen's picture with Electron's desktopCapturer, for the capture flow. Two ways:
// - X11, macOS, Windows: the display under the pointer, found by its display_id, at its physical size;
// - Wayland: there is no pointer position and no display id; the desktop's PipeWire dialog hands back the one
//   screen the person picks, and its picture decides the overlay's size (crop.ts pickedSourceDisplay).
// On macOS getSources is also what makes the system ask for screen-recording permission and list Glance in
// System Settings (promptScreenAccess).
import type { DesktopCapturer, Display, Screen } from 'electron';
import { type CaptureDisplay, pickedSourceDisplay } from './crop.ts';
import type { Grabbed } from './flow.ts';

type Capturer = Pick<DesktopCapturer, 'getSources'>;

export interface Captured extends Grabbed {
  /** The display the picture shows (Wayland: made from the picture, at the origin). */
  display: CaptureDisplay;
}

const captureDisplay = (d: Display): CaptureDisplay => ({
  id: d.id,
  bounds: d.bounds,
  workArea: d.workArea,
  scaleFactor: d.scaleFactor,
});

const physical = (d: CaptureDisplay) => ({
  width: Math.round(d.bounds.width * d.scaleFactor),
  height: Math.round(d.bounds.height * d.scaleFactor),
});

async function picture(
  capturer: Capturer,
  size: { width: number; height: number },
  displayId?: number,
): Promise<Grabbed> {
  const sources = await capturer.getSources({ types: ['screen'], thumbnailSize: size });
  // display_id is empty on some Linux setups (always with PipeWire): with one screen source, that is the one.
  const source =
    (displayId === undefined ? undefined : sources.find((s) => s.display_id === String(displayId))) ??
    (sources.length === 1 ? sources[0] : undefined);
  if (!source || source.thumbnail.isEmpty()) {
    throw new Error(
      displayId === undefined
        ? 'no screen was shared (the screen-sharing dialog was closed, or the desktop offers no screen capture)'
        : 'the system gave no picture of this display',
    );
  }
  const got = source.thumbnail.getSize();
  return { png: new Uint8Array(source.thumbnail.toPNG()), width: got.width, height: got.height };
}

/** X11, macOS, Windows: the display under the pointer at its physical size. */
export async function grabUnderPointer(
  capturer: Capturer,
  screen: Pick<Screen, 'getCursorScreenPoint' | 'getDisplayNearestPoint'>,
): Promise<Captured> {
  const display = captureDisplay(screen.getDisplayNearestPoint(screen.getCursorScreenPoint()));
  return { ...(await picture(capturer, physical(display), display.id)), display };
}

/**
 * Wayland: the screen the person picks in the desktop's dialog. Which one is unknown until it comes back, so the
 * picture is asked for at the largest display's physical size (a thumbnail fits inside it, keeping its shape).
 */
export async function grabPicked(
  capturer: Capturer,
  screen: Pick<Screen, 'getAllDisplays' | 'getPrimaryDisplay'>,
): Promise<Captured> {
  const primary = screen.getPrimaryDisplay();
  const displays = [primary, ...screen.getAllDisplays().filter((d) => d.id !== primary.id)].map(captureDisplay);
  const sizes = displays.map(physical);
  const size = {
    width: Math.max(1, ...sizes.map((s) => s.width)),
    height: Math.max(1, ...sizes.map((s) => s.height)),
  };
  const grabbed = await picture(capturer, size);
  return { ...grabbed, display: pickedSourceDisplay(grabbed, displays) };
}

/**
 * macOS: asking for the screen is what makes the system prompt for screen recording and list Glance under
 * Privacy & Security → Screen & System Audio Recording. No thumbnails: only the request matters.
 */
export async function promptScreenAccess(capturer: Capturer): Promise<void> {
  await capturer.getSources({ types: ['screen'], thumbnailSize: { width: 0, height: 0 } });
}
