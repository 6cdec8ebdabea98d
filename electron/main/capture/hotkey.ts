// The global shortcut of screenshot-and-ask. The system may refuse it (another app holds it): that is said in a
// sentence a person can act on, never swallowed. On Wayland Electron binds it through the desktop's GlobalShortcuts
// portal (index.ts enables it and package.json's desktopName gives the portal Glance's identity): the desktop may ask
// the person to confirm the binding, and `glance --ask-screen` stays the way to bind it by hand.
import type { GlobalShortcut } from 'electron';
import { acceleratorProblem } from '../../../common/accelerator.ts';
import { isWayland, type SessionProbe } from '../display-server.ts';

export const DEFAULT_ASK_HOTKEY = 'CommandOrControl+Shift+Space';

type Shortcuts = Pick<GlobalShortcut, 'register' | 'unregister'>;

export type HotkeyEnv = SessionProbe;

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

/** What is true of global shortcuts on Wayland, said with every refusal there. */
export const WAYLAND_SHORTCUT_NOTE =
  'On Wayland the desktop binds global shortcuts for Glance and may ask you to confirm the binding; if the shortcut does nothing, bind the command `glance --ask-screen` to a key in your desktop settings (Keyboard → Custom Shortcuts)';

export function refusalMessage(accelerator: string, o: HotkeyEnv = {}): string {
  const m = `the system refused ${describeAccelerator(accelerator, o.platform)}: another app may hold it; choose another in Settings`;
  return isWayland(o) ? `${m}. ${WAYLAND_SHORTCUT_NOTE}` : m;
}

export type HotkeyResult = { ok: true } | { ok: false; message: string };

/**
 * Registers one accelerator; a refusal (one Glance will not take from every app, false from the system, or an
 * accelerator Electron cannot parse) comes back as a message. The first check is the contract's own: a shortcut
 * saved before it existed, or written into settings.json by hand, is refused here too.
 */
export function registerAskHotkey(
  globalShortcut: Shortcuts,
  accelerator: string,
  onPress: () => void,
  o: HotkeyEnv = {},
): HotkeyResult {
  const problem = acceleratorProblem(accelerator);
  if (problem) return { ok: false, message: `${problem}; choose another in Settings` };
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
