// Screenshot-and-ask without Electron: the crop arithmetic, the ask window's place, the global shortcut and the flow
// with every Electron piece faked (a real sharp crop on a two-colour PNG).

import type { DesktopCapturer, DesktopCapturerSource, Display, NativeImage, Screen, SourcesOptions } from 'electron';
import sharp from 'sharp';
import { describe, expect, it, vi } from 'vitest';
import type { EngineSupervisor } from '../../electron/engine/process/supervisor.ts';
import {
  askWindowPosition,
  type CaptureDisplay,
  overlayToPhysical,
  pickedSourceDisplay,
} from '../../electron/main/capture/crop.ts';
import { createCaptureFlow, MAC_SCREEN_PERMISSION } from '../../electron/main/capture/flow.ts';
import { grabPicked, grabUnderPointer, promptScreenAccess } from '../../electron/main/capture/grab.ts';
import {
  createAskHotkey,
  refusalMessage,
  registerAskHotkey,
  WAYLAND_SHORTCUT_NOTE,
} from '../../electron/main/capture/hotkey.ts';
import { isWayland, withShortcutsPortal } from '../../electron/main/display-server.ts';

const display = (x: number, y: number, width: number, height: number, scaleFactor: number): CaptureDisplay => ({
  id: 1,
  bounds: { x, y, width, height },
  workArea: { x, y, width, height: height - 40 },
  scaleFactor,
});
const phys = (d: CaptureDisplay) => ({
  width: Math.round(d.bounds.width * d.scaleFactor),
  height: Math.round(d.bounds.height * d.scaleFactor),
});

describe('overlayToPhysical', () => {
  it('scales by the display factor: 1, 1.25, 2', () => {
    const r = { x: 10, y: 20, width: 100, height: 50 };
    const d1 = display(0, 0, 1920, 1080, 1);
    expect(overlayToPhysical(r, d1, phys(d1))).toEqual({ x: 10, y: 20, width: 100, height: 50 });
    const d125 = display(0, 0, 1536, 864, 1.25);
    expect(phys(d125)).toEqual({ width: 1920, height: 1080 });
    expect(overlayToPhysical(r, d125, phys(d125))).toEqual({ x: 13, y: 25, width: 125, height: 63 });
    const d2 = display(0, 0, 1440, 900, 2);
    expect(overlayToPhysical(r, d2, phys(d2))).toEqual({ x: 20, y: 40, width: 200, height: 100 });
  });

  it('adjacent selections tile exactly at a fractional scale', () => {
    const d = display(0, 0, 1536, 864, 1.25);
    const a = overlayToPhysical({ x: 0, y: 0, width: 3, height: 3 }, d, phys(d));
    const b = overlayToPhysical({ x: 3, y: 0, width: 3, height: 3 }, d, phys(d));
    expect(a.x + a.width).toBe(b.x);
    expect(a.width + b.width).toBe(Math.round(6 * 1.25));
  });

  it('is relative to the display: left of and above the primary (negative origins)', () => {
    const r = { x: 5, y: 6, width: 70, height: 80 };
    const left = display(-2560, 0, 1280, 720, 2);
    const above = display(0, -1080, 1920, 1080, 1);
    expect(overlayToPhysical(r, left, phys(left))).toEqual({ x: 10, y: 12, width: 140, height: 160 });
    expect(overlayToPhysical(r, above, phys(above))).toEqual({ x: 5, y: 6, width: 70, height: 80 });
  });

  it('clamps a selection that crosses the display edge, and keeps at least 1x1', () => {
    const d = display(-1280, -200, 1280, 720, 2);
    const cap = phys(d);
    expect(overlayToPhysical({ x: 1200, y: 700, width: 200, height: 100 }, d, cap)).toEqual({
      x: 2400,
      y: 1400,
      width: 160,
      height: 40,
    });
    expect(overlayToPhysical({ x: -50, y: -50, width: 100, height: 100 }, d, cap)).toEqual({
      x: 0,
      y: 0,
      width: 100,
      height: 100,
    });
    expect(overlayToPhysical({ x: 5000, y: 5000, width: 10, height: 10 }, d, cap)).toEqual({
      x: 2559,
      y: 1439,
      width: 1,
      height: 1,
    });
    expect(overlayToPhysical({ x: 3, y: 3, width: 0.1, height: 0.1 }, d, cap)).toMatchObject({ width: 1, height: 1 });
  });

  it('Enter with nothing selected is the whole display', () => {
    const d = display(0, 0, 1536, 864, 1.25);
    expect(overlayToPhysical({ x: 0, y: 0, width: 1536, height: 864 }, d, phys(d))).toEqual({
      x: 0,
      y: 0,
      width: 1920,
      height: 1080,
    });
  });
});

describe('askWindowPosition', () => {
  const size = { width: 440, height: 600 };
  it('right of the selection when it fits, top aligned', () => {
    const d = display(0, 0, 1920, 1080, 1);
    expect(askWindowPosition({ x: 100, y: 200, width: 300, height: 100 }, d, size)).toEqual({ x: 412, y: 200 });
  });
  it('left of it near the right edge; on a display left of the primary', () => {
    const d = display(-1920, 0, 1920, 1080, 1);
    expect(askWindowPosition({ x: 1500, y: 100, width: 300, height: 100 }, d, size)).toEqual({
      x: -1920 + 1500 - 12 - 440,
      y: 100,
    });
  });
  it('stays inside the work area (above the primary, near the bottom, selection as wide as the display)', () => {
    const d = display(0, -1080, 1920, 1080, 1);
    const p = askWindowPosition({ x: 0, y: 900, width: 1920, height: 100 }, d, size);
    expect(p.x).toBeGreaterThanOrEqual(0);
    expect(p.x + 440).toBeLessThanOrEqual(1920);
    expect(p.y).toBe(-1080 + 1040 - 600);
  });
});

describe('the ask hotkey', () => {
  const fakeShortcuts = (refuse: string[] = []) => {
    const held = new Set<string>();
    return {
      held,
      register: vi.fn((a: string, _press: () => void) => {
        if (refuse.includes(a)) return false;
        held.add(a);
        return true;
      }),
      unregister: vi.fn((a: string) => void held.delete(a)),
    };
  };

  it('registers, swaps and releases', () => {
    const gs = fakeShortcuts();
    const press = vi.fn();
    const hk = createAskHotkey(gs, press, { platform: 'linux', env: {} });
    expect(hk.apply('CommandOrControl+Shift+Space')).toBeNull();
    expect([...gs.held]).toEqual(['CommandOrControl+Shift+Space']);
    gs.register.mock.calls[0]![1]();
    expect(press).toHaveBeenCalledOnce();
    expect(hk.apply('Alt+Shift+A')).toBeNull();
    expect([...gs.held]).toEqual(['Alt+Shift+A']);
    hk.release();
    expect(gs.held.size).toBe(0);
  });

  it('a refusal is reported with the message, and the old shortcut is kept', () => {
    const gs = fakeShortcuts(['CommandOrControl+Shift+Space']);
    expect(registerAskHotkey(gs, 'CommandOrControl+Shift+Space', () => {}, { platform: 'win32' })).toEqual({
      ok: false,
      message: 'the system refused Ctrl+Shift+Space: another app may hold it; choose another in Settings',
    });
    const hk = createAskHotkey(gs, () => {}, { platform: 'linux', env: { XDG_SESSION_TYPE: 'wayland' } });
    expect(hk.apply('Alt+Q')).toBeNull();
    const refused = hk.apply('CommandOrControl+Shift+Space');
    expect(refused).toContain(
      'the system refused Ctrl+Shift+Space: another app may hold it; choose another in Settings',
    );
    expect(refused).toContain('glance --ask-screen');
    expect(hk.current).toBe('Alt+Q');
    expect([...gs.held]).toEqual(['Alt+Q']);
  });

  it('on Wayland a refusal says what is true there: the desktop binds it, --ask-screen is the fallback', () => {
    const m = refusalMessage('CommandOrControl+Shift+Space', {
      platform: 'linux',
      env: { XDG_SESSION_TYPE: 'wayland' },
    });
    expect(m).toContain(WAYLAND_SHORTCUT_NOTE);
    expect(m).toMatch(/may ask you to confirm/);
    expect(m).toContain('glance --ask-screen');
    expect(m).not.toMatch(/cannot take global shortcuts/);
    // XWayland (--ozone-platform=x11) grabs keys the X11 way: no Wayland note
    const x11 = { platform: 'linux' as const, env: { XDG_SESSION_TYPE: 'wayland' }, switchValue: () => 'x11' };
    expect(refusalMessage('Alt+Q', x11)).not.toContain(WAYLAND_SHORTCUT_NOTE);
  });

  it('an accelerator Electron cannot parse is a refusal, not a crash', () => {
    const gs = {
      register: () => {
        throw new Error('bad');
      },
      unregister: () => {},
    };
    expect(registerAskHotkey(gs, 'CommandOrControl+Shift+F13', () => {})).toEqual({
      ok: false,
      message: '"CommandOrControl+Shift+F13" is not a shortcut the system understands; choose another in Settings',
    });
  });

  it('refuses a shortcut Glance must not take from every app before asking the system, and keeps the old one', () => {
    const gs = fakeShortcuts();
    const hk = createAskHotkey(gs, () => {}, { platform: 'linux', env: {} });
    expect(hk.apply('CommandOrControl+Shift+2')).toBeNull();
    // a bare key, Shift+letter, a system combination: as a hand-edited settings.json could hold them
    for (const [bad, why] of [
      ['A', /A alone would be taken from every app/],
      ['Shift+A', /typing, not a shortcut/],
      ['Alt+F4', /reserved by the system: it closes the active window/],
    ] as const) {
      expect(registerAskHotkey(gs, bad, () => {})).toEqual({ ok: false, message: expect.stringMatching(why) });
      expect(hk.apply(bad)).toMatch(/; choose another in Settings$/);
      expect(hk.current).toBe('CommandOrControl+Shift+2');
    }
    expect(gs.register.mock.calls.map((c) => c[0]).filter((a) => a !== 'CommandOrControl+Shift+2')).toEqual([]);
    expect([...gs.held]).toEqual(['CommandOrControl+Shift+2']);
  });
});

describe('the display server (as Chromium picks it)', () => {
  const sw =
    (values: Record<string, string>) =>
    (name: string): string =>
      values[name] ?? '';
  it('Wayland: a Wayland session with the default hint (auto), or an explicit --ozone-platform=wayland', () => {
    expect(isWayland({ platform: 'linux', env: { XDG_SESSION_TYPE: 'wayland' } })).toBe(true);
    expect(isWayland({ platform: 'linux', env: { XDG_SESSION_TYPE: 'x11' } })).toBe(false);
    // auto follows XDG_SESSION_TYPE only; an explicit wayland hint also takes a running compositor
    expect(isWayland({ platform: 'linux', env: { WAYLAND_DISPLAY: 'wayland-0' } })).toBe(false);
    const hint = sw({ 'ozone-platform-hint': 'wayland' });
    expect(isWayland({ platform: 'linux', env: { WAYLAND_DISPLAY: 'wayland-0' }, switchValue: hint })).toBe(true);
    const forced = sw({ 'ozone-platform': 'wayland' });
    expect(isWayland({ platform: 'linux', env: {}, switchValue: forced })).toBe(true);
    const xwayland = sw({ 'ozone-platform': 'x11' });
    expect(isWayland({ platform: 'linux', env: { XDG_SESSION_TYPE: 'wayland' }, switchValue: xwayland })).toBe(false);
    expect(isWayland({ platform: 'darwin', env: { XDG_SESSION_TYPE: 'wayland' } })).toBe(false);
  });

  it('the shortcuts portal is added to enable-features, keeping what is there and what the person disabled', () => {
    expect(withShortcutsPortal('', '')).toBe('GlobalShortcutsPortal,GlobalShortcutsPortalPreferredTrigger');
    expect(withShortcutsPortal('Foo', '')).toBe('Foo,GlobalShortcutsPortal,GlobalShortcutsPortalPreferredTrigger');
    expect(withShortcutsPortal('', 'GlobalShortcutsPortalPreferredTrigger')).toBe('GlobalShortcutsPortal');
    expect(withShortcutsPortal('GlobalShortcutsPortal,GlobalShortcutsPortalPreferredTrigger', '')).toBeNull();
  });
});

// ---- taking the picture, with desktopCapturer and screen faked ----

function fakeCapturer(pictures: { display_id: string; width: number; height: number }[]) {
  const calls: SourcesOptions[] = [];
  const capturer: Pick<DesktopCapturer, 'getSources'> = {
    getSources: async (options) => {
      calls.push(options);
      return pictures.map((p, i): DesktopCapturerSource => {
        // a thumbnail fits inside the asked size, keeping its shape (Chromium scales it up or down)
        const scale = Math.min(options.thumbnailSize!.width / p.width, options.thumbnailSize!.height / p.height);
        const size = { width: Math.round(p.width * scale), height: Math.round(p.height * scale) };
        const thumbnail: Pick<NativeImage, 'isEmpty' | 'getSize' | 'toPNG'> = {
          isEmpty: () => size.width === 0,
          getSize: () => size,
          toPNG: () => Buffer.from('png'),
        };
        return {
          id: `screen:${i}:0`,
          name: `Screen ${i}`,
          display_id: p.display_id,
          thumbnail: thumbnail as NativeImage,
          appIcon: null as unknown as NativeImage,
        };
      });
    },
  };
  return { capturer, calls };
}
const electronDisplay = (d: CaptureDisplay) => d as unknown as Display; // the four fields capture reads

describe('taking the picture', () => {
  const left = { ...display(-1280, 0, 1280, 720, 2), id: 2 };
  const main = { ...display(0, 0, 1920, 1080, 1), id: 1 };

  it('X11, macOS, Windows: the display under the pointer, by display_id, at its physical size', async () => {
    const { capturer, calls } = fakeCapturer([
      { display_id: '1', width: 1920, height: 1080 },
      { display_id: '2', width: 2560, height: 1440 },
    ]);
    const screen: Pick<Screen, 'getCursorScreenPoint' | 'getDisplayNearestPoint'> = {
      getCursorScreenPoint: () => ({ x: -100, y: 100 }),
      getDisplayNearestPoint: (p) => electronDisplay(p.x < 0 ? left : main),
    };
    const got = await grabUnderPointer(capturer, screen);
    expect(calls).toEqual([{ types: ['screen'], thumbnailSize: { width: 2560, height: 1440 } }]);
    expect(got).toMatchObject({ width: 2560, height: 1440, display: left });
  });

  it('Wayland: the one picked screen, asked at the largest size; its picture decides the overlay', async () => {
    const screen: Pick<Screen, 'getAllDisplays' | 'getPrimaryDisplay'> = {
      getAllDisplays: () => [left, main].map(electronDisplay),
      getPrimaryDisplay: () => electronDisplay(main),
    };
    // PipeWire: one source, no display id; the person picked the HiDPI screen on the left
    const hidpi = fakeCapturer([{ display_id: '', width: 2560, height: 1440 }]);
    const got = await grabPicked(hidpi.capturer, screen);
    expect(hidpi.calls[0]!.thumbnailSize).toEqual({ width: 2560, height: 1440 });
    expect(got).toMatchObject({ width: 2560, height: 1440 });
    expect(got.display).toEqual({
      id: 2,
      bounds: { x: 0, y: 0, width: 1280, height: 720 },
      workArea: { x: 0, y: 0, width: 1280, height: 720 },
      scaleFactor: 2,
    });
    // ... or a 4:3 screen of its own shape, which matches no display: the picture at the primary's scale
    const other = fakeCapturer([{ display_id: '', width: 1600, height: 1200 }]);
    const o = await grabPicked(other.capturer, screen);
    expect([o.width, o.height]).toEqual([1920, 1440]); // fitted inside 2560x1440
    expect(o.display).toMatchObject({ id: 1, bounds: { x: 0, y: 0, width: 1920, height: 1440 }, scaleFactor: 1 });
    // the dialog closed: a sentence, not a crash
    const none = fakeCapturer([]);
    await expect(grabPicked(none.capturer, screen)).rejects.toThrow(/no screen was shared/);
  });

  it('pickedSourceDisplay: physical size first, then shape (a scaled thumbnail), else the first display', () => {
    const small = { ...display(500, 500, 1280, 720, 1), id: 3 };
    expect(pickedSourceDisplay({ width: 1280, height: 720 }, [main, small]).id).toBe(3);
    // 1920x1080 at 16:9 is main's size; a 2560x1440 upscale of the small one matches main by shape
    const up = pickedSourceDisplay({ width: 2560, height: 1440 }, [main, small]);
    expect(up).toMatchObject({ id: 1, bounds: { x: 0, y: 0, width: 1920, height: 1080 } });
    expect(overlayToPhysical({ x: 0, y: 0, width: 1920, height: 1080 }, up, { width: 2560, height: 1440 })).toEqual({
      x: 0,
      y: 0,
      width: 2560,
      height: 1440,
    });
  });

  it('macOS: the permission prompt is a screen request without thumbnails', async () => {
    const { capturer, calls } = fakeCapturer([]);
    await promptScreenAccess(capturer);
    expect(calls).toEqual([{ types: ['screen'], thumbnailSize: { width: 0, height: 0 } }]);
  });
});

// ---- the flow with fakes ----

const RED = { r: 230, g: 10, b: 10 };
const BLUE = { r: 10, g: 10, b: 230 };
/** The display's "screen": left half red, right half blue, at its physical size. */
async function twoColours(width: number, height: number): Promise<Uint8Array> {
  const half = Math.floor(width / 2);
  const png = await sharp({ create: { width, height, channels: 3, background: BLUE } })
    .composite([{ input: { create: { width: half, height, channels: 3, background: RED } }, left: 0, top: 0 }])
    .png()
    .toBuffer();
  return new Uint8Array(png);
}

type Installed = { id: string; readsText: boolean; installed: boolean };
function setup(
  o: {
    platform?: NodeJS.Platform;
    /** getMediaAccessStatus('screen') before and after the system was asked */
    access?: string | [string, string];
    models?: Installed[];
    d?: CaptureDisplay;
    wayland?: boolean;
  } = {},
) {
  const d = o.d ?? display(-1000, -300, 1000, 600, 1.25);
  const log: string[] = [];
  const models = o.models ?? [
    { id: 'plain', readsText: false, installed: true },
    { id: 'reader', readsText: true, installed: true },
    { id: 'absent', readsText: true, installed: false },
  ];
  const call = vi.fn(async (method: string, args?: unknown) => {
    log.push(`engine.${method}`);
    if (method === 'modelsList') {
      return models.map((m) => ({
        entry: { id: m.id, name: m.id.toUpperCase(), kind: 'chat', readsText: m.readsText },
        installed: m.installed,
      }));
    }
    if (method === 'settingsGet') return { hotkey: 'x', threads: null, gpuLayers: 'auto', chatModel: 'plain' };
    if (method === 'chatCreate') return { id: 42, title: 't', messages: [] };
    if (method === 'chatSend') {
      const a = args as { text: string };
      return { id: 9, role: 'assistant', text: `answer to ${a.text}`, images: [], stats: null, createdAt: 1 };
    }
    throw new Error(`unexpected ${method}`);
  });
  const report = vi.fn();
  const [before, after] = Array.isArray(o.access) ? o.access : [o.access, o.access];
  let asked = false;
  const flow = createCaptureFlow({
    engine: { call } as unknown as Pick<EngineSupervisor, 'call'>,
    platform: o.platform ?? 'linux',
    ...(o.access ? { mediaAccess: () => (asked ? after! : before!) } : {}),
    requestScreenAccess: async () => {
      log.push('requestScreenAccess');
      asked = true;
    },
    report,
    ...(o.wayland ? { wayland: true } : {}),
    grab: async () => {
      log.push('grab');
      const p = phys(d);
      return { png: await twoColours(p.width, p.height), ...p, display: d };
    },
    openOverlay: () => void log.push('openOverlay'),
    closeOverlay: () => void log.push('closeOverlay'),
    openAskWindow: (pos) => void log.push(pos ? `openAsk ${pos.x},${pos.y}` : 'openAsk (placed by the desktop)'),
    closeAskWindow: () => void log.push('closeAsk'),
    showChat: (id) => void log.push(`showChat ${id}`),
  });
  return { flow, log, call, report, d };
}

async function colourAt(png: Uint8Array, x: number, y: number) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return { r: data[i], g: data[i + 1], b: data[i + 2] };
}
const idOf = (url: string) => url.replace('glance://capture/', '');

describe('the capture flow', () => {
  it('capture → overlay → select → crop → ask window → ask.send, in order', async () => {
    const { flow, log, call } = setup();
    await flow.start();
    expect(log).toEqual(['grab', 'openOverlay']);
    const frame = await flow.frame();
    expect(frame).toMatchObject({ width: 1250, height: 750, scaleFactor: 1.25 });
    expect(frame!.imageUrl).toMatch(/^glance:\/\/capture\/[0-9a-f]{32}$/);
    const screenId = idOf(frame!.imageUrl);
    expect(await flow.image(screenId)).toBeInstanceOf(Uint8Array);
    // straddles the middle (CSS x 500): 100 CSS px wide at 1.25 → 125 physical px, half red, half blue
    await flow.select({ x: 450, y: 100, width: 100, height: 40 });
    // no room beside it on this 1000x600 display: over the selection's right part, clamped to the work area
    expect(log.slice(2)).toEqual(['closeOverlay', `openAsk ${-1000 + 550 - 440},-300`]);
    expect(await flow.image(screenId)).toBeNull(); // the full screen is forgotten once cropped
    const ctx = await flow.askContext();
    expect(ctx).toMatchObject({ width: 125, height: 50, model: 'reader', conversationId: null });
    expect(ctx!.models.map((m) => m.id)).toEqual(['reader', 'plain']);
    const png = (await flow.image(idOf(ctx!.imageUrl)))!;
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([125, 50]);
    expect(await colourAt(png, 2, 2)).toEqual(RED);
    expect(await colourAt(png, 122, 47)).toEqual(BLUE);
    expect(await colourAt(png, 61, 10)).toEqual(RED); // CSS 450..500 → physical 563..625: 62 red columns
    expect(await colourAt(png, 62, 10)).toEqual(BLUE);

    const m = await flow.askSend('what does it say?');
    expect(m).toMatchObject({ role: 'assistant', text: 'answer to what does it say?' });
    const sends = call.mock.calls.filter((c) => c[0] === 'chatSend');
    expect(sends[0]![1]).toEqual({
      conversationId: 42,
      text: 'what does it say?',
      images: [png],
      model: { catalogId: 'reader' },
    });
    await flow.askSend('and then?', 'plain');
    expect(call.mock.calls.filter((c) => c[0] === 'chatCreate')).toHaveLength(1);
    expect(call.mock.calls.filter((c) => c[0] === 'chatSend')[1]![1]).toMatchObject({
      images: [],
      model: { catalogId: 'plain' },
    });
    expect(log.indexOf('engine.chatCreate')).toBeLessThan(log.indexOf('engine.chatSend'));
    expect((await flow.askContext())!.conversationId).toBe(42);

    expect(await flow.continueInChat()).toEqual({ conversationId: 42 });
    expect(log.slice(-2)).toEqual(['showChat 42', 'closeAsk']);
    expect(flow.phase).toBe('idle');
    expect(await flow.askContext()).toBeNull();
    expect(await flow.image(idOf(ctx!.imageUrl))).toBeNull();
  });

  it('Enter (null) sends the whole display; without a text reader, any installed model answers', async () => {
    const { flow } = setup({ models: [{ id: 'plain', readsText: false, installed: true }] });
    await flow.start();
    await flow.select(null);
    expect(await flow.askContext()).toMatchObject({ width: 1250, height: 750, model: 'plain' });
  });

  it('no chat model installed: ask.send says so', async () => {
    const { flow } = setup({ models: [] });
    await flow.start();
    await flow.select(null);
    await expect(flow.askSend('hi')).rejects.toThrow(/no chat model is installed/);
  });

  it('cancel at each step closes what is open and forgets the capture', async () => {
    // while capturing
    let s = setup();
    const started = s.flow.start();
    s.flow.cancel();
    await started;
    expect(s.log).not.toContain('openOverlay');
    expect(await s.flow.frame()).toBeNull();
    // on the overlay
    s = setup();
    await s.flow.start();
    const id = idOf((await s.flow.frame())!.imageUrl);
    s.flow.cancel();
    expect(s.log.at(-1)).toBe('closeOverlay');
    expect(await s.flow.frame()).toBeNull();
    expect(await s.flow.image(id)).toBeNull();
    await expect(s.flow.select(null)).rejects.toThrow(/no screen capture/);
    // the overlay closed by itself (Escape)
    s = setup();
    await s.flow.start();
    s.flow.overlayClosed();
    expect(await s.flow.frame()).toBeNull();
    // in the ask window
    s = setup();
    await s.flow.start();
    await s.flow.select(null);
    const crop = idOf((await s.flow.askContext())!.imageUrl);
    s.flow.overlayClosed(); // the overlay's own 'closed' after select is not a cancel
    expect(await s.flow.askContext()).not.toBeNull();
    s.flow.cancel();
    expect(s.log.at(-1)).toBe('closeAsk');
    expect(await s.flow.askContext()).toBeNull();
    expect(await s.flow.image(crop)).toBeNull();
    expect(await s.flow.continueInChat()).toBeNull();
    // cancelled while cropping: no ask window
    s = setup();
    await s.flow.start();
    const selecting = s.flow.select(null);
    s.flow.cancel();
    await selecting;
    expect(s.log).not.toContain('openAsk');
    expect(await s.flow.askContext()).toBeNull();
  });

  it('macOS without screen-recording permission: the system is asked once, then a clear error and no overlay', async () => {
    const { flow, log, report } = setup({ platform: 'darwin', access: 'denied' });
    await flow.start();
    expect(log).toEqual(['requestScreenAccess']);
    expect(report).toHaveBeenCalledWith(MAC_SCREEN_PERMISSION);
    expect(MAC_SCREEN_PERMISSION).toMatch(/Privacy & Security/);
    expect(await flow.frame()).toBeNull();
    expect(flow.phase).toBe('idle');
    const ok = setup({ platform: 'darwin', access: 'granted' });
    await ok.flow.start();
    expect(ok.log).toEqual(['grab', 'openOverlay']); // granted: nothing to ask
  });

  it('macOS on first use (not-determined): asking makes the system prompt; once granted, the capture goes on', async () => {
    const fresh = setup({ platform: 'darwin', access: ['not-determined', 'granted'] });
    await fresh.flow.start();
    expect(fresh.log).toEqual(['requestScreenAccess', 'grab', 'openOverlay']);
    expect(fresh.report).not.toHaveBeenCalled();
    // the person has not answered yet: still not determined after asking, so the flow says where to grant it
    const waiting = setup({ platform: 'darwin', access: ['not-determined', 'not-determined'] });
    await waiting.flow.start();
    expect(waiting.log).toEqual(['requestScreenAccess']);
    expect(waiting.report).toHaveBeenCalledWith(MAC_SCREEN_PERMISSION);
    // other platforms never ask
    const linux = setup({ platform: 'linux', access: 'denied' });
    await linux.flow.start();
    expect(linux.log).toEqual(['grab', 'openOverlay']);
  });

  it('Wayland: the ask window is left to the desktop to place; the crop comes from the picked picture', async () => {
    const picked = display(0, 0, 1280, 720, 2); // what pickedSourceDisplay makes of a 2560x1440 picture
    const { flow, log } = setup({ wayland: true, d: picked });
    await flow.start();
    await flow.select({ x: 600, y: 10, width: 80, height: 20 });
    expect(log).toEqual(['grab', 'openOverlay', 'closeOverlay', 'openAsk (placed by the desktop)']);
    const ctx = (await flow.askContext())!;
    expect(ctx).toMatchObject({ width: 160, height: 40 });
    const png = (await flow.image(idOf(ctx.imageUrl)))!;
    expect(await colourAt(png, 79, 5)).toEqual(RED); // physical 1200..1280 red, 1280..1360 blue
    expect(await colourAt(png, 80, 5)).toEqual(BLUE);
  });

  it('a failed capture is reported, nothing opens', async () => {
    const { flow, report, log } = setup();
    const broken = createCaptureFlow({
      engine: { call: vi.fn() } as unknown as Pick<EngineSupervisor, 'call'>,
      platform: 'linux',
      report,
      grab: async () => {
        throw new Error('no source for this display');
      },
      openOverlay: () => void log.push('openOverlay'),
      closeOverlay: () => {},
      openAskWindow: () => {},
      closeAskWindow: () => {},
      showChat: () => {},
    });
    await broken.start();
    expect(report).toHaveBeenCalledWith(expect.stringContaining('no source for this display'));
    expect(log).toEqual([]);
    expect(broken.phase).toBe('idle');
    void flow;
  });

  it('serves only its own ids, and only valid ones', async () => {
    const { flow } = setup();
    await flow.start();
    expect(await flow.image('0'.repeat(32))).toBeNull();
    expect(await flow.image('../../etc/passwd')).toBeNull();
  });
});

describe('glance://capture/<id>', () => {
  it('serves the held PNG by a strict id, nothing else', async () => {
    const { parseGlanceUrl, serveGlance } = await import('../../electron/main/protocol.ts');
    const id = 'a'.repeat(32);
    const png = await twoColours(4, 2);
    const resolvers = {
      thumbnail: async () => null,
      attachment: async () => null,
      capture: async (x: string) => (x === id ? png : null),
    };
    expect(parseGlanceUrl(`glance://capture/${id}`)).toEqual({ kind: 'capture', id });
    for (const bad of [`glance://capture/${'A'.repeat(32)}`, `glance://capture/${id}0`, `glance://capture/${id}?x`]) {
      expect(parseGlanceUrl(bad)).toBeNull();
    }
    const r = await serveGlance({ url: `glance://capture/${id}`, method: 'GET' }, resolvers);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(png);
    expect((await serveGlance({ url: `glance://capture/${'b'.repeat(32)}`, method: 'GET' }, resolvers)).status).toBe(
      404,
    );
  });
});
