// The Settings view: the saved settings fill the form, saving sends only what changed, a refused hotkey is shown
// by its field, the threshold slider applies at once, the local API is switched on and shows its address and token,
// and the privacy statement is there.
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApiStatusView, ModelView, SettingsView } from '../../electron/ipc/contract.ts';
import SettingsViewComponent from '../../renderer/src/views/SettingsView.svelte';
import { fakeGlance, SETTINGS } from './fake-glance.ts';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const SAVED: SettingsView = {
  ...SETTINGS,
  hotkey: 'CommandOrControl+Shift+Space',
  dataFolder: '/home/ada/.local/share/glance',
};

const TOKEN = 'glance-0123456789abcdef0123456789abcdef';
/** What the engine says of the local API under these settings: running on their port when they turn it on. */
const apiStatusOf = (s: SettingsView): ApiStatusView => ({
  enabled: s.localApi,
  running: s.localApi,
  url: s.localApi ? `http://127.0.0.1:${s.localApiPort}/v1` : null,
  port: s.localApi ? s.localApiPort : null,
  token: s.localApi ? TOKEN : null,
  tokenFile: '/home/ada/.local/share/glance/api-token',
  error: null,
  requests: 0,
});

const chat = (id: string, name: string, installed: boolean): ModelView => ({
  id,
  kind: 'chat',
  name,
  goodAt: '',
  licence: 'Apache-2.0',
  size: 1,
  installed,
  readsText: false,
  languages: [],
});
const MODELS: ModelView[] = [
  chat('smolvlm-500m', 'SmolVLM 500M', true),
  chat('llava-1.5-7b', 'LLaVA 1.5 7B', false),
  { ...chat('clip-vit-b32', 'CLIP ViT-B/32', true), kind: 'clip' },
];

const appError = (code: string, message: string) => Object.assign(new Error(message), { code });

function setup(overrides: Parameters<typeof fakeGlance>[0] = {}, initial: Partial<SettingsView> = {}) {
  let saved = { ...SAVED, ...initial };
  const fake = fakeGlance({
    'settings.get': () => saved,
    'settings.set': (change) => {
      saved = { ...saved, ...change } as SettingsView;
      return saved;
    },
    'models.list': MODELS,
    'tags.setThreshold': null,
    'api.status': () => apiStatusOf(saved),
    ...overrides,
  });
  render(SettingsViewComponent, { props: { api: fake.api } });
  return fake;
}

const field = <T extends HTMLElement>(name: string | RegExp) => screen.getByLabelText(name) as T;

describe('SettingsView', () => {
  it('says when the saved settings could not be read, and what Glance did instead', async () => {
    const notice = 'the saved settings are not valid JSON (line 3): Glance is using the defaults';
    setup({ 'settings.get': () => ({ ...SAVED, notice }) });
    expect((await screen.findByTestId('settings-notice')).textContent).toBe(notice);
    expect(screen.getByRole('alert').textContent).toContain('not valid JSON');
  });

  it('shows no notice when the settings were read', async () => {
    setup();
    await screen.findByLabelText('Screenshot-and-ask hotkey');
    expect(screen.queryByTestId('settings-notice')).toBeNull();
  });

  it('loads the settings into the form', async () => {
    setup();
    const hotkey = (await screen.findByLabelText('Screenshot-and-ask hotkey')) as HTMLInputElement;
    expect(hotkey.value).toBe('CommandOrControl+Shift+Space');
    const folder = field<HTMLInputElement>('Data folder');
    expect(folder.value).toBe('/home/ada/.local/share/glance');
    expect(folder.readOnly).toBe(true);

    const [threadsAuto, gpuAuto] = screen.getAllByRole('checkbox', { name: /Automatic/ }) as HTMLInputElement[];
    expect(threadsAuto!.checked).toBe(true);
    expect(gpuAuto!.checked).toBe(true);
    expect(field<HTMLInputElement>('Threads').disabled).toBe(true);
    expect(field<HTMLInputElement>('Layers on the GPU').disabled).toBe(true);

    const model = field<HTMLSelectElement>('Default chat model');
    // Installed chat models only.
    expect([...model.options].map((o) => o.textContent)).toEqual(["Glance's default", 'SmolVLM 500M']);
    expect(model.selectedIndex).toBe(0);

    expect(field<HTMLInputElement>('Tag threshold').value).toBe('0.03');
    expect((screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('saves only the fields that changed', async () => {
    const { calls } = setup();
    const hotkey = await screen.findByLabelText('Screenshot-and-ask hotkey');
    await fireEvent.input(hotkey, { target: { value: 'Alt+F9' } });
    await fireEvent.click(screen.getAllByRole('checkbox', { name: /Automatic/ })[0]!);
    const threads = field<HTMLInputElement>('Threads');
    expect(threads.disabled).toBe(false);
    await fireEvent.input(threads, { target: { value: '8' } });
    await fireEvent.change(field('Default chat model'), { target: { value: 'smolvlm-500m' } });

    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByText('Saved.');
    expect(calls.filter((c) => c.channel === 'settings.set').map((c) => c.arg)).toEqual([
      { hotkey: 'Alt+F9', threads: 8, chatModel: 'smolvlm-500m' },
    ]);
    expect((screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);

    // GPU layers alone, from automatic to a number.
    await fireEvent.click(screen.getAllByRole('checkbox', { name: /Automatic/ })[1]!);
    await fireEvent.input(field('Layers on the GPU'), { target: { value: '0' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(calls.filter((c) => c.channel === 'settings.set')).toHaveLength(2));
    expect(calls.filter((c) => c.channel === 'settings.set')[1]!.arg).toEqual({ gpuLayers: 0 });
  });

  it('turns captioning of new photos on and off, off by default, saying it is slow on a CPU', async () => {
    const { calls } = setup();
    const box = (await screen.findByRole('checkbox', {
      name: 'Describe new photos as they are indexed',
    })) as HTMLInputElement;
    expect(box.checked).toBe(false);
    const help = document.getElementById(box.getAttribute('aria-describedby')!)!;
    expect(help.textContent).toMatch(/slow on a CPU/i);
    expect(help.textContent).toMatch(/SmolVLM/);

    await fireEvent.click(box);
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByText('Saved.');
    await fireEvent.click(box);
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(calls.filter((c) => c.channel === 'settings.set')).toHaveLength(2));
    expect(calls.filter((c) => c.channel === 'settings.set').map((c) => c.arg)).toEqual([
      { captionNewPhotos: true },
      { captionNewPhotos: false },
    ]);
    expect(box.checked).toBe(false);
  });

  it('chooses the search language: automatic by default, any language sends only searchLanguage', async () => {
    const { calls } = setup();
    const select = (await screen.findByLabelText('Search language')) as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual([
      'Automatic: other languages to the multilingual model when it is installed',
      'English only (CLIP)',
      'Any language (multilingual model)',
    ]);
    expect(select.value).toBe('auto');
    const help = document.getElementById(select.getAttribute('aria-describedby')!)!.textContent!;
    expect(help).toMatch(/Search in your language/);
    expect(help).toMatch(/re-index/);

    await fireEvent.change(select, { target: { value: 'multi' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByText('Saved.');
    expect(calls.filter((c) => c.channel === 'settings.set').map((c) => c.arg)).toEqual([{ searchLanguage: 'multi' }]);
    expect(select.value).toBe('multi');
  });

  it('shows a saved search language', async () => {
    setup({}, { searchLanguage: 'en' });
    const select = (await screen.findByLabelText('Search language')) as HTMLSelectElement;
    expect(select.value).toBe('en');
    expect(select.selectedOptions[0]!.textContent).toBe('English only (CLIP)');
  });

  describe('the local API', () => {
    const saves = (calls: { channel: string; arg: unknown }[]) =>
      calls.filter((c) => c.channel === 'settings.set').map((c) => c.arg);

    it('is off by default, says what it does, and once on shows its address and a hidden token', async () => {
      const { calls } = setup();
      const box = (await screen.findByRole('checkbox', { name: 'Local API' })) as HTMLInputElement;
      expect(box.checked).toBe(false);
      const help = document.getElementById(box.getAttribute('aria-describedby')!)!.textContent!;
      expect(help).toMatch(/other\s+apps\s+on\s+this\s+computer/i);
      expect(help).toMatch(/OpenAI-compatible/);
      expect(help).toMatch(/token/i);
      expect(help).toMatch(/this\s+computer\s+only/i);
      expect(field<HTMLInputElement>('Port').value).toBe('8421');
      const origins = field<HTMLTextAreaElement>('Allowed web origins');
      expect(origins.value).toBe('');
      const originsHelp = origins
        .getAttribute('aria-describedby')!
        .split(' ')
        .map((id) => document.getElementById(id)!.textContent)
        .join(' ');
      expect(originsHelp).toMatch(/none is the safe\s+default/i);
      expect(screen.queryByTestId('api-running')).toBeNull();

      await fireEvent.click(box);
      await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
      await screen.findByText('Saved.');
      expect(saves(calls)).toEqual([{ localApi: true }]);
      // the state is read again after the save
      const set = calls.findIndex((c) => c.channel === 'settings.set');
      expect(calls.slice(set + 1).some((c) => c.channel === 'api.status')).toBe(true);

      expect((await screen.findByTestId('api-url')).textContent).toBe('http://127.0.0.1:8421/v1');
      const token = screen.getByTestId('api-token');
      expect(token.textContent).not.toContain(TOKEN);
      expect(token.textContent).toContain('•');
      expect(screen.queryByText(TOKEN)).toBeNull();

      await fireEvent.click(screen.getByRole('button', { name: 'Show token' }));
      expect(token.textContent?.trim()).toBe(TOKEN);
      await fireEvent.click(screen.getByRole('button', { name: 'Hide token' }));
      expect(token.textContent).not.toContain(TOKEN);
      expect(screen.getByRole('button', { name: 'Show token' }).textContent?.trim()).toBe('Show');

      // and off again
      await fireEvent.click(box);
      await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
      await waitFor(() => expect(saves(calls)).toHaveLength(2));
      expect(saves(calls)[1]).toEqual({ localApi: false });
      await waitFor(() => expect(screen.queryByTestId('api-running')).toBeNull());
    });

    it('copies the token, or shows and selects it when there is no clipboard', async () => {
      const writeText = vi.fn(async () => {});
      vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
      setup({}, { localApi: true });
      await fireEvent.click(await screen.findByRole('button', { name: 'Copy token' }));
      expect(writeText).toHaveBeenCalledWith(TOKEN);
      await screen.findByText('Copied.');
      expect(screen.getByTestId('api-token').textContent).not.toContain(TOKEN);

      vi.stubGlobal('navigator', { ...navigator, clipboard: undefined });
      await fireEvent.click(screen.getByRole('button', { name: 'Copy token' }));
      await waitFor(() => expect(window.getSelection()?.toString()).toBe(TOKEN));
      expect(screen.getByTestId('api-token').textContent).toBe(TOKEN);
    });

    it('says why it is not running', async () => {
      const error = 'port 8421 is in use by another program: choose another port in Settings';
      setup({ 'api.status': () => ({ ...apiStatusOf(SAVED), enabled: true, error }) }, { localApi: true });
      const alert = await screen.findByRole('alert');
      expect(alert.textContent).toContain(error);
      expect(screen.queryByTestId('api-running')).toBeNull();
    });

    it('refuses a port or an origin it cannot use before asking the app, and saves good ones', async () => {
      const { calls } = setup();
      const port = (await screen.findByLabelText('Port')) as HTMLInputElement;
      const save = screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement;
      for (const bad of ['80', '70000', '8421.5', '']) {
        await fireEvent.input(port, { target: { value: bad } });
        expect(port.getAttribute('aria-invalid'), bad).toBe('true');
        expect(document.getElementById('settings-api-port-error')!.textContent).toBe(
          'A whole number from 1024 to 65535.',
        );
        expect(save.disabled).toBe(true);
        await fireEvent.submit(port.form!);
      }
      await fireEvent.input(port, { target: { value: '9000' } });
      expect(port.getAttribute('aria-invalid')).toBeNull();

      const origins = field<HTMLTextAreaElement>('Allowed web origins');
      for (const bad of ['localhost:3000', 'http://localhost:3000/app', 'ftp://example.com']) {
        await fireEvent.input(origins, { target: { value: `http://localhost:5173\n${bad}` } });
        expect(origins.getAttribute('aria-invalid'), bad).toBe('true');
        expect(document.getElementById('settings-api-origins-error')!.textContent).toContain(bad);
        expect(save.disabled).toBe(true);
        await fireEvent.submit(origins.form!);
      }
      expect(saves(calls)).toEqual([]);

      await fireEvent.input(origins, { target: { value: ' http://localhost:5173 \n\nhttps://[::1]:8443\n' } });
      expect(origins.getAttribute('aria-invalid')).toBeNull();
      await fireEvent.click(save);
      await screen.findByText('Saved.');
      expect(saves(calls)).toEqual([
        { localApiPort: 9000, localApiOrigins: ['http://localhost:5173', 'https://[::1]:8443'] },
      ]);
    });
  });

  it('does not send a hotkey that cannot be an accelerator', async () => {
    const { calls } = setup();
    const hotkey = await screen.findByLabelText('Screenshot-and-ask hotkey');
    await fireEvent.input(hotkey, { target: { value: 'Ctrl+Ä' } });
    expect(hotkey.getAttribute('aria-invalid')).toBe('true');
    expect((screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);
    expect(calls.some((c) => c.channel === 'settings.set')).toBe(false);
  });

  it('says why a shortcut it will not take from every app is refused, and does not save it', async () => {
    const { calls } = setup();
    const hotkey = (await screen.findByLabelText('Screenshot-and-ask hotkey')) as HTMLInputElement;
    const error = document.getElementById('settings-hotkey-error')!;
    const save = screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement;
    for (const [typed, said] of [
      ['A', 'A alone would be taken from every app: add a modifier, such as CommandOrControl+Shift+A.'],
      [
        'Shift+A',
        'Shift+A is typing, not a shortcut (Shift with A types or selects in every app): add CommandOrControl, Alt or Super.',
      ],
      ['Alt+F4', 'Alt+F4 is reserved by the system: it closes the active window on Windows and Linux.'],
      ['Command+Q', 'Command+Q is reserved by the system: it quits the app in front on macOS.'],
    ] as const) {
      await fireEvent.input(hotkey, { target: { value: typed } });
      expect(error.textContent?.trim(), typed).toBe(said);
      expect(hotkey.getAttribute('aria-invalid')).toBe('true');
      expect(hotkey.getAttribute('aria-describedby')?.split(' ')).toContain(error.id);
      expect(save.disabled).toBe(true);
      // a submit that gets past the disabled button (Enter in the field) sends nothing either
      await fireEvent.submit(hotkey.form!);
    }
    expect(calls.some((c) => c.channel === 'settings.set')).toBe(false);

    // a good one clears the message and saves
    await fireEvent.input(hotkey, { target: { value: 'CommandOrControl+Shift+2' } });
    expect(error.textContent?.trim()).toBe('');
    expect(hotkey.getAttribute('aria-invalid')).toBeNull();
    await fireEvent.click(save);
    await screen.findByText('Saved.');
    expect(calls.filter((c) => c.channel === 'settings.set').map((c) => c.arg)).toEqual([
      { hotkey: 'CommandOrControl+Shift+2' },
    ]);
  });

  it('shows a refused hotkey next to its field, and keeps the change', async () => {
    const refusal = 'the system refused Alt+Shift+S: another app may hold it; choose another in Settings';
    setup({
      'settings.set': () => {
        throw appError('hotkey-refused', refusal);
      },
    });
    const hotkey = (await screen.findByLabelText('Screenshot-and-ask hotkey')) as HTMLInputElement;
    await fireEvent.input(hotkey, { target: { value: 'Alt+Shift+S' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent?.trim()).toBe(refusal);
    expect(hotkey.getAttribute('aria-describedby')?.split(' ')).toContain(alert.id);
    expect(hotkey.getAttribute('aria-invalid')).toBe('true');
    expect(hotkey.value).toBe('Alt+Shift+S');
    expect(screen.getByText('Nothing was saved: choose another hotkey first.')).toBeTruthy();

    // Editing the hotkey clears the refusal.
    await fireEvent.input(hotkey, { target: { value: 'Alt+F8' } });
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('shows other save errors', async () => {
    setup({
      'settings.set': () => {
        throw appError('engine-down', 'The engine is restarting; try again in a moment.');
      },
    });
    await fireEvent.input(await screen.findByLabelText('Screenshot-and-ask hotkey'), { target: { value: 'Alt+F9' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect((await screen.findByRole('alert')).textContent).toContain(
      'The engine is restarting; try again in a moment.',
    );
  });

  it('applies the tag threshold from the slider at once', async () => {
    const { calls } = setup();
    const slider = (await screen.findByLabelText('Tag threshold')) as HTMLInputElement;
    expect(slider.type).toBe('range');
    expect([slider.min, slider.max, slider.step]).toEqual(['0', '0.2', '0.005']);
    await fireEvent.input(slider, { target: { value: '0.05' } });
    await fireEvent.change(slider);
    await screen.findByText('Applied.');
    expect(calls.filter((c) => c.channel === 'tags.setThreshold').map((c) => c.arg)).toEqual([{ value: 0.05 }]);
    expect(calls.some((c) => c.channel === 'settings.set')).toBe(false);
    expect(screen.getByText('0.050', { selector: 'output' })).toBeTruthy();
  });

  it('says when the threshold cannot be applied, and puts the slider back', async () => {
    setup({
      'tags.setThreshold': () => {
        throw appError('no-library', 'Add a photo folder first.');
      },
    });
    const slider = (await screen.findByLabelText('Tag threshold')) as HTMLInputElement;
    await fireEvent.input(slider, { target: { value: '0.1' } });
    await fireEvent.change(slider);
    expect((await screen.findByRole('alert')).textContent).toContain('Add a photo folder first.');
    await waitFor(() => expect(slider.value).toBe('0.03'));
  });

  it('states that nothing leaves the computer', async () => {
    setup();
    expect(
      screen.getByText(
        'Glance runs every model on this computer. Nothing leaves it but the model downloads you start.',
      ),
    ).toBeTruthy();
  });
});
