// Which accelerators Glance may take as its global screenshot-and-ask shortcut. A global shortcut is taken from
// every app, so it must not be something people type (a bare key, Shift+letter) nor a combination the system keeps
// for itself (Alt+Tab, Command+Q, Super+L). One check, shared: the IPC contract refuses what it refuses (the main
// process is the gate), the Settings view says the same sentence before saving, and main checks a saved shortcut
// again before registering it. Pure TypeScript: no Node, no Electron (see test/layering.ts).

/** The characters the contract lets through: Electron's punctuation keys are left out on purpose. */
const CHARSET = /^[A-Za-z0-9+ ]{1,40}$/;

type Mod = 'ctrl' | 'meta' | 'alt' | 'altgr' | 'shift';

/** Electron's modifier names (case-insensitive), as the keys they press. CommandOrControl is either, by platform. */
const MODIFIERS: Record<string, Mod | 'ctrl-or-meta'> = {
  commandorcontrol: 'ctrl-or-meta',
  cmdorctrl: 'ctrl-or-meta',
  control: 'ctrl',
  ctrl: 'ctrl',
  // Electron maps Command to the Windows/Super key off macOS, as it does Super and Meta.
  command: 'meta',
  cmd: 'meta',
  super: 'meta',
  meta: 'meta',
  alt: 'alt',
  option: 'alt',
  altgr: 'altgr',
  shift: 'shift',
};

const NAMED_KEYS = [
  'Plus',
  'Space',
  'Tab',
  'Capslock',
  'Numlock',
  'Scrolllock',
  'Backspace',
  'Delete',
  'Insert',
  'Return',
  'Enter',
  'Up',
  'Down',
  'Left',
  'Right',
  'Home',
  'End',
  'PageUp',
  'PageDown',
  'Escape',
  'Esc',
  'VolumeUp',
  'VolumeDown',
  'VolumeMute',
  'MediaNextTrack',
  'MediaPreviousTrack',
  'MediaStop',
  'MediaPlayPause',
  'PrintScreen',
  'numdec',
  'numadd',
  'numsub',
  'nummult',
  'numdiv',
];
/** Every key Electron names that the charset allows, lower-cased. */
const KEYS = new Set<string>(NAMED_KEYS.map((k) => k.toLowerCase()));

const isKey = (k: string) =>
  KEYS.has(k) || /^[a-z0-9]$/.test(k) || /^f([1-9]|1[0-9]|2[0-4])$/.test(k) || /^num[0-9]$/.test(k);
/** Keys that Shift or AltGr alone still leave to the person: function and media keys. */
const isShiftSafe = (k: string) =>
  /^f([1-9]|1[0-9]|2[0-4])$/.test(k) || k.startsWith('media') || k.startsWith('volume');

/**
 * Combinations a system keeps for itself, on any of the three desktops Glance runs on (a setting is checked the same
 * way everywhere). Modifiers are the pressed keys: ctrl, meta (Command / Super / Windows), alt, shift.
 */
const RESERVED: { combo: string; why: string }[] = [
  { combo: 'alt+f4', why: 'it closes the active window on Windows and Linux' },
  { combo: 'alt+tab', why: 'it switches windows' },
  { combo: 'alt+shift+tab', why: 'it switches windows' },
  { combo: 'alt+esc', why: 'it cycles windows on Windows' },
  { combo: 'alt+space', why: 'it opens the window menu on Windows and Linux' },
  { combo: 'alt+f2', why: 'it opens the run dialog on Linux desktops' },
  { combo: 'ctrl+alt+delete', why: 'the system keeps it for security, task manager and log out' },
  { combo: 'ctrl+alt+backspace', why: 'it can end the graphical session on Linux' },
  { combo: 'ctrl+alt+l', why: 'it locks the screen on Linux desktops' },
  { combo: 'ctrl+alt+t', why: 'it opens a terminal on Linux desktops' },
  { combo: 'ctrl+shift+esc', why: 'it opens the task manager on Windows' },
  { combo: 'ctrl+esc', why: 'it opens the Start menu on Windows' },
  { combo: 'meta+l', why: 'it locks the screen on Windows and Linux' },
  { combo: 'meta+d', why: 'it shows the desktop' },
  { combo: 'meta+tab', why: 'it switches apps or opens task view' },
  { combo: 'meta+shift+tab', why: 'it switches apps' },
  { combo: 'meta+space', why: 'it opens Spotlight on macOS and switches the input language on Windows' },
  { combo: 'meta+q', why: 'it quits the app in front on macOS' },
  { combo: 'meta+w', why: 'it closes the window in front on macOS' },
  { combo: 'meta+h', why: 'it hides the app in front on macOS' },
  { combo: 'meta+m', why: 'it minimises the window in front on macOS' },
  { combo: 'meta+alt+esc', why: 'it opens Force Quit on macOS' },
  { combo: 'ctrl+meta+q', why: 'it locks the screen on macOS' },
  { combo: 'meta+shift+3', why: "it is macOS's own screenshot key" },
  { combo: 'meta+shift+4', why: "it is macOS's own screenshot key" },
  { combo: 'meta+shift+5', why: "it is macOS's own screenshot key" },
  { combo: 'meta+shift+s', why: "it is Windows' own screenshot key" },
];
/** Copy, paste and their kind: every app answers Ctrl (Command on macOS) with these letters. */
const EDITING_LETTERS: Record<string, string> = {
  a: 'select all',
  c: 'copy',
  v: 'paste',
  x: 'cut',
  z: 'undo',
  y: 'redo',
  s: 'save',
  f: 'find',
  n: 'new',
  o: 'open',
  p: 'print',
  t: 'new tab',
  w: 'close',
  q: 'quit',
};

const ORDER: Mod[] = ['ctrl', 'meta', 'alt', 'altgr', 'shift'];
const comboKey = (mods: Iterable<Mod>, key: string) =>
  [...ORDER.filter((m) => new Set(mods).has(m)), key === 'escape' ? 'esc' : key].join('+');
const RESERVED_BY_COMBO = new Map(
  RESERVED.map((r) => {
    const parts = r.combo.split('+');
    const key = parts.pop()!;
    return [comboKey(parts as Mod[], key), r.why] as const;
  }),
);

/**
 * What is wrong with an accelerator as Glance's global shortcut, in a sentence a person can act on (no final
 * stop); null when it is fine. Case and spaces around the "+" do not matter, as for Electron.
 */
export function acceleratorProblem(accelerator: string): string | null {
  const typed = accelerator.trim();
  if (!CHARSET.test(typed)) {
    return 'use keys joined by "+", such as CommandOrControl+Shift+2 (letters, digits, + and spaces)';
  }
  const tokens = typed.split('+').map((t) => t.trim());
  if (tokens.some((t) => t === '')) return `"${typed}" has an empty key between its "+" signs`;
  const mods = new Set<Mod | 'ctrl-or-meta'>();
  const keys: string[] = [];
  for (const t of tokens) {
    const l = t.toLowerCase();
    const mod = MODIFIERS[l];
    if (mod) mods.add(mod);
    else if (isKey(l)) keys.push(l);
    else return `"${t}" is not a key name Electron knows (such as A, 5, F9, Space, Tab)`;
  }
  if (keys.length === 0) return `${typed} has no key: add one after the modifiers, such as CommandOrControl+Shift+2`;
  if (keys.length > 1) return `${typed} has ${keys.length} keys besides the modifiers: a shortcut takes exactly one`;
  const key = keys[0]!;
  if (mods.size === 0) {
    return `${typed} alone would be taken from every app: add a modifier, such as CommandOrControl+Shift+${typed}`;
  }
  const strong = [...mods].some((m) => m !== 'shift' && m !== 'altgr');
  if (!strong && !isShiftSafe(key)) {
    return `${typed} is typing, not a shortcut (${[...mods].includes('altgr') ? 'AltGr' : 'Shift'} with ${tokens.at(-1)} types or selects in every app): add CommandOrControl, Alt or Super`;
  }
  if (key === 'printscreen') return `${typed} belongs to the system's own screenshot keys`;
  // CommandOrControl is Command on macOS and Ctrl elsewhere: it must be free under both readings.
  const readings: Mod[][] = [[...mods].map((m) => (m === 'ctrl-or-meta' ? 'ctrl' : m))];
  if (mods.has('ctrl-or-meta')) readings.push([...mods].map((m) => (m === 'ctrl-or-meta' ? 'meta' : m)));
  for (const reading of readings) {
    const why = RESERVED_BY_COMBO.get(comboKey(reading, key));
    if (why) return `${typed} is reserved by the system: ${why}`;
    const set = new Set(reading);
    const editing = EDITING_LETTERS[key];
    if (editing && set.size === 1 && (set.has('ctrl') || set.has('meta'))) {
      return `${typed} is ${editing} in every app: add Shift or Alt`;
    }
  }
  return null;
}
