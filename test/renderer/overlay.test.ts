// The capture overlay: the selection geometry as pure functions, and the overlay against a fake window.glance
// (Enter sends the selection or the whole display, Esc cancels).
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { CaptureFrameView } from '../../electron/ipc/contract.ts';
import {
  clampRect,
  moveRect,
  normalize,
  nudge,
  OverlayState,
  physicalSize,
  resizeRect,
} from '../../renderer/src/state/overlay.svelte.ts';
import CaptureOverlay from '../../renderer/src/views/CaptureOverlay.svelte';
import { fakeGlance } from './fake-glance.ts';

afterEach(() => cleanup());

const B = { width: 800, height: 600 };
const frame: CaptureFrameView = { imageUrl: 'data:,', width: 1600, height: 1200, scaleFactor: 2 };

describe('selection geometry', () => {
  it('normalises a drag in any direction', () => {
    const r = { x: 100, y: 100, width: 200, height: 150 };
    expect(normalize({ x: 100, y: 100 }, { x: 300, y: 250 })).toEqual(r);
    expect(normalize({ x: 300, y: 250 }, { x: 100, y: 100 })).toEqual(r);
    expect(normalize({ x: 300, y: 100 }, { x: 100, y: 250 })).toEqual(r);
    expect(normalize({ x: 100, y: 250 }, { x: 300, y: 100 })).toEqual(r);
  });

  it('clamps to the frame', () => {
    expect(clampRect({ x: -50, y: -10, width: 100, height: 50 }, B)).toEqual({ x: 0, y: 0, width: 50, height: 40 });
    expect(clampRect({ x: 700, y: 500, width: 300, height: 300 }, B)).toEqual({
      x: 700,
      y: 500,
      width: 100,
      height: 100,
    });
    expect(moveRect({ x: 700, y: 10, width: 100, height: 50 }, 50, -30, B)).toEqual({
      x: 700,
      y: 0,
      width: 100,
      height: 50,
    });
  });

  it('resizes by a handle, flipping past the opposite edge and stopping at the frame', () => {
    const r = { x: 100, y: 100, width: 200, height: 150 };
    expect(resizeRect(r, 'se', 50, 50, B)).toEqual({ x: 100, y: 100, width: 250, height: 200 });
    expect(resizeRect(r, 'nw', -20, -30, B)).toEqual({ x: 80, y: 70, width: 220, height: 180 });
    expect(resizeRect(r, 'e', 10, 99, B)).toEqual({ x: 100, y: 100, width: 210, height: 150 });
    expect(resizeRect(r, 'n', 99, 10, B)).toEqual({ x: 100, y: 110, width: 200, height: 140 });
    expect(resizeRect(r, 'e', -300, 0, B)).toEqual({ x: 0, y: 100, width: 100, height: 150 });
    expect(resizeRect(r, 'se', 1000, 1000, B)).toEqual({ x: 100, y: 100, width: 700, height: 500 });
  });

  it('nudges with the arrows and resizes with Shift', () => {
    const r = { x: 100, y: 100, width: 200, height: 150 };
    expect(nudge(r, 'ArrowLeft', { resize: false, step: 1 }, B)).toEqual({ ...r, x: 99 });
    expect(nudge(r, 'ArrowDown', { resize: false, step: 10 }, B)).toEqual({ ...r, y: 110 });
    expect(nudge(r, 'ArrowRight', { resize: true, step: 1 }, B)).toEqual({ ...r, width: 201 });
    expect(nudge(r, 'ArrowUp', { resize: true, step: 1 }, B)).toEqual({ ...r, height: 149 });
    expect(nudge({ ...r, width: 1 }, 'ArrowLeft', { resize: true, step: 10 }, B)).toEqual({ ...r, width: 1 });
    expect(nudge({ ...r, x: 0 }, 'ArrowLeft', { resize: false, step: 1 }, B)).toEqual({ ...r, x: 0 });
    expect(nudge(r, 'a', { resize: false, step: 1 }, B)).toBeNull();
  });

  it('gives the size in physical pixels', () => {
    expect(physicalSize({ x: 0, y: 0, width: 200, height: 150 }, 2)).toEqual({ width: 400, height: 300 });
    expect(physicalSize({ x: 0, y: 0, width: 10, height: 10 }, 1.25)).toEqual({ width: 13, height: 13 });
  });

  it('draws, moves and adjusts through the state; a click clears', () => {
    const s = new OverlayState(fakeGlance().api);
    s.frame = frame;
    s.pointerDown({ x: 300, y: 250 });
    s.pointerMove({ x: 100, y: 100 });
    s.pointerUp();
    expect(s.selection).toEqual({ x: 100, y: 100, width: 200, height: 150 });
    s.pointerDown({ x: 150, y: 150 });
    s.pointerUp({ x: 160, y: 140 });
    expect(s.selection).toEqual({ x: 110, y: 90, width: 200, height: 150 });
    s.pointerDown({ x: 310, y: 240 }, 'se');
    s.pointerUp({ x: 360, y: 290 });
    expect(s.selection).toEqual({ x: 110, y: 90, width: 250, height: 200 });
    s.pointerDown({ x: 700, y: 500 });
    s.pointerUp({ x: 701, y: 500 });
    expect(s.selection).toBeNull();
    s.pointerDown({ x: 700, y: 500 });
    s.pointerUp({ x: 900, y: 900 });
    expect(s.selection).toEqual({ x: 700, y: 500, width: 100, height: 100 });
  });
});

describe('the overlay', () => {
  const setup = () => {
    const fake = fakeGlance({ 'capture.frame': frame, 'capture.select': null, 'capture.cancel': null });
    render(CaptureOverlay, { api: fake.api });
    return fake;
  };

  it('shows the frame and the instructions, and takes the focus', async () => {
    setup();
    const surface = screen.getByRole('application');
    await waitFor(() => expect(document.activeElement).toBe(surface));
    expect(screen.getByText('Drag to select · Enter to ask · Esc to cancel')).toBeTruthy();
    await waitFor(() => expect(surface.querySelector('img')?.getAttribute('src')).toBe('data:,'));
  });

  it('sends the selection on Enter, with its physical size shown', async () => {
    const fake = setup();
    const surface = screen.getByRole('application');
    await waitFor(() => expect(surface.querySelector('img')).toBeTruthy());
    await fireEvent.mouseDown(surface, { button: 0, clientX: 100, clientY: 100 });
    await fireEvent.mouseMove(window, { clientX: 300, clientY: 250 });
    await fireEvent.mouseUp(window, { clientX: 300, clientY: 250 });
    expect(screen.getByTestId('selection-size').textContent).toBe('400 × 300');
    await fireEvent.keyDown(surface, { key: 'ArrowRight', shiftKey: true });
    await fireEvent.keyDown(surface, { key: 'Enter' });
    await waitFor(() =>
      expect(fake.calls.find((c) => c.channel === 'capture.select')?.arg).toEqual({
        rect: { x: 100, y: 100, width: 201, height: 150 },
      }),
    );
  });

  it('sends null (the whole display) on Enter with nothing selected', async () => {
    const fake = setup();
    await fireEvent.keyDown(screen.getByRole('application'), { key: 'Enter' });
    await waitFor(() => expect(fake.calls.find((c) => c.channel === 'capture.select')?.arg).toEqual({ rect: null }));
  });

  it('cancels on Esc', async () => {
    const fake = setup();
    await fireEvent.keyDown(screen.getByRole('application'), { key: 'Escape' });
    await waitFor(() => expect(fake.calls.some((c) => c.channel === 'capture.cancel')).toBe(true));
    expect(fake.calls.some((c) => c.channel === 'capture.select')).toBe(false);
  });

  it('shows an error in place and lets the person try again', async () => {
    const fake = fakeGlance({
      'capture.frame': frame,
      'capture.select': () => {
        throw Object.assign(new Error('The capture is gone.'), { code: 'not-found' });
      },
    });
    render(CaptureOverlay, { api: fake.api });
    await fireEvent.keyDown(screen.getByRole('application'), { key: 'Enter' });
    expect((await screen.findByRole('alert')).textContent).toContain('The capture is gone.');
  });
});
