// The global shortcut of screenshot-and-ask. The system may refuse it (another app holds it, or a Wayland session
// lets no app grab keys): that is said in a sentence a person can act on, never swallowed.
import type { GlobalShortcut } from 'electron';

export const DEFAULT_ASK_HOTKEY = 'CommandOrControl+Shift+Space';

type Shortcuts = Pick<GlobalShortcut, 'register' | 'unregister'>;

export interface HotkeyEnv {
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
}

/** An accelerator the way the person reads it on this platform: Ctrl+Shift+Space, Cmd+Shift+Space. */
export function describeAccelerator(accelerator: string, platform: NodeJS.Platform = process.platform): string {
  const mac = platform === 'darwin';
  return accelerator
    .split('+')
    .map((k) => {
      const l = k.toLowerCase();
      if (l === 'commandorcontrol' || l === 'cmdorctrl') return mac ? 'Cmd' : 'Ctrl';
      if (l === 'control' || l === 'ctrl') return 'Ctrl';
      if (l === 'command' || l === 'cmd') return 'Cmd';
      return k;
    })
    .join('+');
}

const isWayland = (o: HotkeyEnv) =>
  (o.platform ?? process.platform) === 'linux' &&
  ((o.env ?? process.env).XDG_SESSION_TYPE === 'wayland' || Boolean((o.env ?? process.env).WAYLAND_DISPLAY));

export function refusalMessage(accelerator: string, o: HotkeyEnv = {}): string {
  let m = `the system refused ${describeAccelerator(accelerator, o.platform)}: another app may hold it; choose another in Settings`;
  if (isWayland(o)) {
    m +=
      '. On Wayland apps cannot take global shortcuts: bind the command `glance --ask-screen` to a shortcut in your desktop settings (Keyboard → Custom Shortcuts) instead';
  }
  return m;
}

export type HotkeyResult = { ok: true } | { ok: false; message: string };

/** Registers one accelerator; a refusal (false, or an accelerator Electron cannot parse) comes back as a message. */
export function registerAskHotkey(
  globalShortcut: Shortcuts,
  accelerator: string,
  onPress: () => void,
  o: HotkeyEnv = {},
): HotkeyResult {
  let registered: boolean;
  try {
    registered = globalShortcut.register(accelerator, onPress);
  } catch {
    return {
      ok: false,
      message: `"${accelerator}" is not a shortcut the system understands; choose another in Settings`,
    };
  }
  return registered ? { ok: true } : { ok: false, message: refusalMessage(accelerator, o) };
}

/**
 * Holds the one ask shortcut: `apply` swaps it (the old one released first, and put back when the new one is
 * refused), `release` lets it go on quit. `apply` answers null or the refusal's sentence (BackendDeps.applyHotkey).
 */
export function createAskHotkey(globalShortcut: Shortcuts, onPress: () => void, o: HotkeyEnv = {}) {
  let current: string | null = null;
  const release = () => {
    if (current) globalShortcut.unregister(current);
    current = null;
  };
  return {
    apply(accelerator: string): string | null {
      if (accelerator === current) return null;
      const previous = current;
      release();
      const r = registerAskHotkey(globalShortcut, accelerator, onPress, o);
      if (r.ok) {
        current = accelerator;
        return null;
      }
      if (previous && registerAskHotkey(globalShortcut, previous, onPress, o).ok) current = previous;
      return r.message;
    },
    release,
    get current() {
      return current;
    },
  };
}
