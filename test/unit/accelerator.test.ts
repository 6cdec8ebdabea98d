// The global shortcut check shared by the contract (main refuses), main's registration and the Settings view: a
// modifier and exactly one key, nothing people type (a bare key, Shift+letter), nothing the system keeps.
import * as v from 'valibot';
import { describe, expect, it, vi } from 'vitest';
import { acceleratorProblem } from '../../common/accelerator.ts';
import { CHANNELS, type ChannelResult, type SettingsView } from '../../electron/ipc/contract.ts';
import { dispatch, type Handlers } from '../../electron/main/router.ts';
import { SETTINGS } from '../renderer/fake-glance.ts';

describe('acceleratorProblem', () => {
  it('accepts a modifier with one key', () => {
    for (const ok of [
      'CommandOrControl+Shift+2',
      'Alt+Shift+S',
      'CommandOrControl+Shift+Space',
      'CmdOrCtrl+Alt+G',
      'Alt+F9',
      'Shift+F13',
      'Super+Shift+P',
      'ctrl + shift + k',
      'Control+Alt+num5',
    ]) {
      expect(acceleratorProblem(ok), ok).toBeNull();
    }
  });

  it('refuses bare keys: they would be taken from every app', () => {
    for (const bare of ['A', 'a', '5', 'Space', 'F5', 'Tab', 'PrintScreen', 'MediaPlayPause']) {
      expect(acceleratorProblem(bare), bare).toBe(
        `${bare} alone would be taken from every app: add a modifier, such as CommandOrControl+Shift+${bare}`,
      );
    }
  });

  it('refuses Shift or AltGr as the only modifier, except with function and media keys', () => {
    for (const typing of ['Shift+A', 'shift+z', 'Shift+1', 'Shift+Space', 'Shift+Tab', 'Shift+Left', 'AltGr+Q']) {
      expect(acceleratorProblem(typing), typing).toMatch(
        /is typing, not a shortcut .*add CommandOrControl, Alt or Super$/,
      );
    }
    expect(acceleratorProblem('AltGr+Shift+E')).toMatch(/AltGr with E types or selects/);
    expect(acceleratorProblem('Shift+F5')).toBeNull();
    expect(acceleratorProblem('Shift+MediaNextTrack')).toBeNull();
  });

  it('refuses combinations the system keeps, saying why', () => {
    const reserved: [string, RegExp][] = [
      ['Alt+F4', /closes the active window/],
      ['Alt+Tab', /switches windows/],
      ['alt+shift+tab', /switches windows/],
      ['Super+L', /locks the screen/],
      ['Meta+L', /locks the screen/],
      ['Ctrl+Alt+Delete', /the system keeps it/],
      ['control+alt+delete', /the system keeps it/],
      ['Command+Q', /quits the app in front on macOS/],
      ['Cmd+Tab', /switches apps/],
      ['Command+Space', /Spotlight/],
      ['CommandOrControl+Space', /Spotlight/], // Command+Space on macOS
      ['Ctrl+Shift+Escape', /task manager/],
      ['Ctrl+Shift+Esc', /task manager/],
      ['Command+Shift+4', /macOS's own screenshot key/],
      ['Super+Shift+S', /Windows' own screenshot key/],
      ['Command+Option+Esc', /Force Quit/],
    ];
    for (const [combo, why] of reserved) {
      const problem = acceleratorProblem(combo);
      expect(problem?.startsWith(`${combo} is reserved by the system: `), `${combo}: ${problem}`).toBe(true);
      expect(problem, combo).toMatch(why);
    }
    expect(acceleratorProblem('Alt+PrintScreen')).toBe("Alt+PrintScreen belongs to the system's own screenshot keys");
  });

  it('refuses copy, paste and the other letters every app answers to Ctrl or Command', () => {
    expect(acceleratorProblem('CommandOrControl+C')).toBe('CommandOrControl+C is copy in every app: add Shift or Alt');
    expect(acceleratorProblem('Ctrl+V')).toMatch(/paste in every app/);
    expect(acceleratorProblem('Cmd+Z')).toMatch(/undo in every app/);
    expect(acceleratorProblem('CommandOrControl+Shift+C')).toBeNull();
  });

  it('wants exactly one key, and only names Electron knows', () => {
    expect(acceleratorProblem('CommandOrControl+Shift')).toMatch(/has no key: add one after the modifiers/);
    expect(acceleratorProblem('Ctrl+A+B')).toMatch(/has 2 keys besides the modifiers: a shortcut takes exactly one/);
    expect(acceleratorProblem('Ctrl+Nope')).toMatch(/"Nope" is not a key name Electron knows/);
    expect(acceleratorProblem('Ctrl++A')).toMatch(/empty key/);
    expect(acceleratorProblem('Ctrl+Ä')).toMatch(/use keys joined by "\+"/);
    expect(acceleratorProblem('')).toMatch(/use keys joined by "\+"/);
    expect(acceleratorProblem(`Ctrl+${'A'.repeat(40)}`)).toMatch(/use keys joined by "\+"/);
  });
});

describe('settings.set in the contract', () => {
  const parse = (hotkey: string) => v.safeParse(CHANNELS['settings.set'].schema, { hotkey });

  it('refuses what acceleratorProblem refuses, with its words, and lets good shortcuts through', () => {
    for (const bad of ['A', 'Shift+A', 'Alt+F4', 'Command+Q', 'Super+L', 'Ctrl+Alt+Delete']) {
      const r = parse(bad);
      expect(r.success, bad).toBe(false);
      expect(r.issues?.[0]?.message).toBe(acceleratorProblem(bad));
    }
    expect(parse('CommandOrControl+Shift+2').success).toBe(true);
    expect(parse('Alt+Shift+S').success).toBe(true);
    expect(v.safeParse(CHANNELS['settings.set'].schema, { threads: 4 }).success).toBe(true);
  });

  it('the router refuses a bare key before the handler sees it', async () => {
    const saved: SettingsView = { ...SETTINGS, hotkey: 'CommandOrControl+Shift+Space' };
    const set = vi.fn<Handlers['settings.set']>(
      (a): ChannelResult<'settings.set'> => ({ ...saved, hotkey: a.hotkey ?? saved.hotkey }),
    );
    const handlers = { 'settings.set': set } as Partial<Handlers> as Handlers;
    expect(await dispatch(handlers, 'settings.set', { hotkey: 'A' })).toEqual({
      ok: false,
      error: {
        code: 'invalid-argument',
        message:
          'settings.set: hotkey: A alone would be taken from every app: add a modifier, such as CommandOrControl+Shift+A',
      },
    });
    expect(await dispatch(handlers, 'settings.set', { hotkey: 'Alt+Tab' })).toMatchObject({
      ok: false,
      error: { code: 'invalid-argument', message: expect.stringContaining('reserved by the system') },
    });
    expect(set).not.toHaveBeenCalled();
    // the fake is wired: a good shortcut reaches it
    expect(await dispatch(handlers, 'settings.set', { hotkey: 'Alt+Shift+S' })).toEqual({
      ok: true,
      value: { ...saved, hotkey: 'Alt+Shift+S' },
    });
    expect(set).toHaveBeenCalledOnce();
  });
});
