// Which display server the app runs on, decided the way Chromium's Ozone layer decides it (Electron 38 and later
// default to --ozone-platform-hint=auto: native Wayland in a Wayland session). On Wayland the desktop, not the app,
// owns global shortcuts (the XDG GlobalShortcuts portal), window placement and stacking, and screen capture (PipeWire
// hands back the one source the person picks): the capture flow, its windows and the shortcut take that path.
// No Electron import: index.ts passes app.commandLine's getSwitchValue.

export interface SessionProbe {
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  /** app.commandLine.getSwitchValue: '' when the switch is absent. */
  switchValue?: (name: string) => string;
}

/**
 * True when Electron draws through Wayland: --ozone-platform when given, else the hint (default auto), where
 * `auto` means XDG_SESSION_TYPE=wayland and an explicit `wayland` hint also takes a running compositor
 * (WAYLAND_DISPLAY). Under XWayland (--ozone-platform=x11) the X11 paths work and are used.
 */
export function isWayland(o: SessionProbe = {}): boolean {
  if ((o.platform ?? process.platform) !== 'linux') return false;
  const env = o.env ?? process.env;
  const value = o.switchValue ?? (() => '');
  const platform = value('ozone-platform');
  if (platform) return platform === 'wayland';
  const hint = value('ozone-platform-hint') || 'auto';
  if (hint !== 'auto' && hint !== 'wayland') return false;
  return env.XDG_SESSION_TYPE === 'wayland' || (hint === 'wayland' && Boolean(env.WAYLAND_DISPLAY));
}

/** Chromium's features behind global shortcuts on Wayland: the portal, and using it on GNOME too. */
export const SHORTCUTS_PORTAL_FEATURES = ['GlobalShortcutsPortal', 'GlobalShortcutsPortalPreferredTrigger'];

/**
 * The `enable-features` value with the shortcuts portal's features added to what is already there, or null when
 * nothing needs adding. A feature the person turned off with --disable-features stays off.
 */
export function withShortcutsPortal(enabled: string, disabled: string): string | null {
  const list = (s: string) => s.split(',').filter(Boolean);
  const on = list(enabled);
  const off = new Set(list(disabled));
  const add = SHORTCUTS_PORTAL_FEATURES.filter((f) => !on.includes(f) && !off.has(f));
  return add.length ? [...on, ...add].join(',') : null;
}
