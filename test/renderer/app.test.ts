// The app shell: views switch, an engine restart is announced, and "Ask about this photo" carries a library photo
// into the chat.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import App from '../../renderer/src/App.svelte';
import { ASK_ABOUT_PHOTO } from '../../renderer/src/lib/events.ts';
import { fakeGlance, SETTINGS } from './fake-glance.ts';

const base = {
  'engine.status': { state: 'ready' as const, restarts: 0 },
  'library.folders': [],
  'models.list': [],
  'chat.list': [],
  'library.search': [],
  'settings.get': { ...SETTINGS, hotkey: 'CommandOrControl+Shift+Space' },
};
const nav = (name: string) => within(screen.getByRole('navigation', { name: 'Glance' })).getByRole('button', { name });
const alerts = async () => (await screen.findAllByRole('alert')).map((a) => a.textContent ?? '').join(' | ');

afterEach(cleanup);

describe('the app shell', () => {
  it('switches views from the navigation', async () => {
    const f = fakeGlance(base);
    render(App, { api: f.api });
    await fireEvent.click(nav('Settings'));
    expect(nav('Settings').getAttribute('aria-current')).toBe('page');
  });

  it('announces an engine crash and its recovery', async () => {
    const f = fakeGlance(base);
    render(App, { api: f.api });
    f.emit('engine.status', {
      state: 'restarting',
      restarts: 1,
      lastCrash: 'the engine stopped unexpectedly (killed by SIGSEGV)',
    });
    expect(await alerts()).toMatch(/restarting.*SIGSEGV/);
    f.emit('engine.status', { state: 'ready', restarts: 1 });
    expect(await alerts()).toMatch(/The engine restarted/);
  });

  it('"Ask about this photo" attaches the photo to the chat and shows the chat', async () => {
    const f = fakeGlance(base);
    const { container } = render(App, { api: f.api });
    container
      .querySelector('.shell')!
      .dispatchEvent(new CustomEvent(ASK_ABOUT_PHOTO, { bubbles: true, detail: { photoId: 7, name: 'dog.jpg' } }));
    await screen.findByRole('log', { name: 'Messages' }).catch(() => null);
    expect(nav('Chat').getAttribute('aria-current')).toBe('page');
    expect(await screen.findByRole('button', { name: 'Remove dog.jpg' })).toBeTruthy();
  });
});

describe('continue in chat', () => {
  it('a chat.open event shows that conversation in the chat view', async () => {
    const f = fakeGlance({
      ...base,
      'chat.get': { id: 5, title: 'From a screenshot', systemPrompt: null, model: null, messages: [] },
    });
    render(App, { api: f.api });
    f.emit('chat.open', { conversationId: 5 });
    await waitFor(() => expect(nav('Chat').getAttribute('aria-current')).toBe('page'));
    await waitFor(() => expect(f.calls.some((c) => c.channel === 'chat.get')).toBe(true));
  });
});
