// What issue 10's accessibility and licence review asked of the components: licence notes where a person chooses a
// model, headings in order, a main landmark and h1 in the ask window, focus moved into a view when it is shown.
// (axe-core over every view, in Chromium, is test/e2e/accessibility.test.ts.)
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { AskContextView, FolderView, ModelView, SettingsView } from '../../electron/ipc/contract.ts';
import App from '../../renderer/src/App.svelte';
import AskWindow from '../../renderer/src/views/AskWindow.svelte';
import ChatView from '../../renderer/src/views/ChatView.svelte';
import LibraryView from '../../renderer/src/views/LibraryView.svelte';
import LookView from '../../renderer/src/views/LookView.svelte';
import ModelsView from '../../renderer/src/views/ModelsView.svelte';
import { fakeGlance, SETTINGS } from './fake-glance.ts';

afterEach(() => cleanup());

const QWEN_NOTE = 'Research and non-commercial use only.';
const CLIP_NOTE = 'Deployed use is out of scope.';
const model = (m: Partial<ModelView> & Pick<ModelView, 'id' | 'kind' | 'name'>): ModelView => ({
  goodAt: '',
  licence: 'Some licence',
  size: 1_000_000,
  installed: false,
  readsText: false,
  languages: [],
  ...m,
});
const clip = model({
  id: 'clip-vit-base-patch32',
  kind: 'clip',
  name: 'CLIP ViT-B/32',
  licence: 'MIT',
  licenceNote: CLIP_NOTE,
});
const qwen = model({
  id: 'qwen2.5-vl-3b',
  kind: 'chat',
  name: 'Qwen2.5-VL 3B',
  readsText: true,
  licenceNote: QWEN_NOTE,
});
const smol = model({ id: 'smolvlm-500m', kind: 'chat', name: 'SmolVLM 500M', licence: 'Apache-2.0' });
const settings: SettingsView = { ...SETTINGS };
const folder: FolderView = { id: 1, path: '/home/ana/Pictures', photos: 3 };

/** Heading levels in document order. */
const levels = (root: ParentNode = document) =>
  [...root.querySelectorAll('h1, h2, h3, h4, h5, h6')].map((h) => Number(h.tagName[1]));
/** No heading more than one level below the one before it. */
const skips = (ls: number[]) => ls.filter((l, i) => i > 0 && l > ls[i - 1]! + 1);

describe('licence notes where a person chooses a model', () => {
  it('Models: the card of a model with a note shows it and ties it to its Download button', async () => {
    const f = fakeGlance({ 'models.list': [clip, qwen, smol], 'engine.status': { state: 'ready', restarts: 0 } });
    render(ModelsView, { props: { api: f.api } });
    const card = await screen.findByRole('article', { name: 'Qwen2.5-VL 3B' });
    expect(within(card).getByText(QWEN_NOTE)).toBeTruthy();
    const download = within(card).getByRole('button', { name: 'Download Qwen2.5-VL 3B' });
    expect(download.getAttribute('aria-describedby')).toBe(within(card).getByText(QWEN_NOTE).id);
    expect(within(screen.getByRole('article', { name: 'CLIP ViT-B/32' })).getByText(CLIP_NOTE)).toBeTruthy();
    // a model without a note shows none
    const plain = screen.getByRole('article', { name: 'SmolVLM 500M' });
    expect(plain.querySelector('.licence-note')).toBeNull();
    expect(within(plain).getByRole('button', { name: 'Download SmolVLM 500M' }).hasAttribute('aria-describedby')).toBe(
      false,
    );
  });

  it('Library first run: the CLIP download says what its licence means', async () => {
    const f = fakeGlance({
      'library.folders': [],
      'settings.get': settings,
      'library.search': [],
      'models.list': [clip],
    });
    render(LibraryView, { api: f.api });
    const download = await screen.findByRole('button', { name: 'Download the CLIP model' });
    const note = screen.getByText(CLIP_NOTE);
    expect(download.getAttribute('aria-describedby')).toBe(note.id);
  });

  it('ask window: the note of the model that will answer, following the menu', async () => {
    const context: AskContextView = {
      imageUrl: 'glance://capture/7',
      width: 400,
      height: 300,
      models: [
        { id: 'smolvlm-500m', name: 'SmolVLM 500M', readsText: false },
        { id: 'qwen2.5-vl-3b', name: 'Qwen2.5-VL 3B', readsText: true, licenceNote: QWEN_NOTE },
      ],
      model: 'qwen2.5-vl-3b',
      conversationId: null,
    };
    render(AskWindow, { api: fakeGlance({ 'ask.context': context }).api });
    expect(await screen.findByText(QWEN_NOTE)).toBeTruthy();
    await fireEvent.change(screen.getByLabelText('Model'), { target: { value: 'smolvlm-500m' } });
    await waitFor(() => expect(screen.queryByText(QWEN_NOTE)).toBeNull());
  });

  it('chat: the note of the chosen model', async () => {
    const f = fakeGlance({ 'chat.list': [], 'models.list': [model({ ...qwen, installed: true }), smol] });
    render(ChatView, { props: { api: f.api } });
    const select = (await screen.findByLabelText('Model')) as HTMLSelectElement;
    await waitFor(() => expect([...select.options].map((o) => o.value)).toContain('qwen2.5-vl-3b'));
    expect(screen.queryByText(QWEN_NOTE)).toBeNull();
    await fireEvent.change(select, { target: { value: 'qwen2.5-vl-3b' } });
    expect(await screen.findByText(QWEN_NOTE)).toBeTruthy();
  });
});

describe('structure and focus', () => {
  it('the ask window has a main landmark and an h1', async () => {
    render(AskWindow, { api: fakeGlance({ 'ask.context': null }).api });
    const main = await screen.findByRole('main');
    expect(within(main).getByRole('heading', { level: 1 })).toBeTruthy();
  });

  it('Library: headings go down one level at a time', async () => {
    const f = fakeGlance({ 'library.folders': [folder], 'settings.get': settings, 'library.search': [] });
    render(LibraryView, { api: f.api });
    await screen.findByRole('heading', { name: 'Folders' });
    expect(levels()[0]).toBe(2);
    expect(skips(levels())).toEqual([]);
  });

  it('Library, "Ask each": headings go down one level at a time', async () => {
    const f = fakeGlance({ 'library.folders': [folder], 'settings.get': settings, 'library.search': [] });
    render(LibraryView, { api: f.api });
    await fireEvent.click(await screen.findByRole('button', { name: 'Ask each' }));
    await screen.findByRole('heading', { name: 'Ask each photo' });
    expect(skips(levels())).toEqual([]);
  });

  it('Look: headings go down one level at a time, an image in it or not', async () => {
    const f = fakeGlance({ 'look.classify': { tags: [], labels: [] } });
    render(LookView, { api: f.api });
    expect(levels()).toEqual([2, 3]);
    await fireEvent.drop(screen.getByRole('button', { name: 'Choose an image' }), {
      dataTransfer: { types: ['Files'], files: [new File([new Uint8Array([1])], 'a.png', { type: 'image/png' })] },
    });
    await screen.findByRole('heading', { name: 'Tags' });
    expect(levels()[0]).toBe(2);
    expect(skips(levels())).toEqual([]);
  });

  it('Chat: headings go down one level at a time', async () => {
    const f = fakeGlance({ 'chat.list': [], 'models.list': [] });
    render(ChatView, { props: { api: f.api } });
    await screen.findByRole('heading', { name: 'Conversations' });
    expect(levels()[0]).toBe(2);
    expect(skips(levels())).toEqual([]);
  });

  it('switching views moves focus from the navigation to the view heading', async () => {
    const f = fakeGlance({
      'engine.status': { state: 'ready', restarts: 0 },
      'library.folders': [],
      'models.list': [],
      'chat.list': [],
      'library.search': [],
      'settings.get': settings,
    });
    render(App, { api: f.api });
    const nav = within(screen.getByRole('navigation', { name: 'Glance' }));
    for (const name of ['Models', 'Settings', 'Chat', 'Look', 'Library']) {
      const button = nav.getByRole('button', { name });
      button.focus();
      await fireEvent.click(button);
      await waitFor(() => expect(document.activeElement?.tagName).toBe('H2'));
      expect(document.activeElement?.textContent?.trim()).toBe(name);
    }
  });
});
