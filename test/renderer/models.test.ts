// The Models view: the catalog grouped by kind with sizes, downloads following models.progress while
// models.download is pending, cancel, verify, remove after a confirmation, errors in the app's words, engine status.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelView } from '../../electron/ipc/contract.ts';
import { formatBytes, formatEta } from '../../renderer/src/state/models.svelte.ts';
import ModelsView from '../../renderer/src/views/ModelsView.svelte';
import { fakeGlance } from './fake-glance.ts';

afterEach(cleanup);

const CATALOG: ModelView[] = [
  {
    id: 'clip-vit-b32',
    kind: 'clip',
    name: 'CLIP ViT-B/32',
    goodAt: 'Fast tagging and search',
    licence: 'MIT',
    size: 605_000_000,
    installed: true,
    readsText: false,
    languages: [],
  },
  {
    id: 'smolvlm-500m',
    kind: 'chat',
    name: 'SmolVLM 500M',
    goodAt: 'Light and quick answers',
    licence: 'Apache-2.0',
    size: 550_000_000,
    installed: false,
    readsText: true,
    languages: [],
  },
  {
    id: 'llava-1.5-7b',
    kind: 'chat',
    name: 'LLaVA 1.5 7B',
    goodAt: 'Describing photos in detail',
    licence: 'Llama 2 Community Licence',
    size: 4_100_000_000,
    installed: false,
    readsText: false,
    languages: [],
  },
];

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const appError = (code: string, message: string) => Object.assign(new Error(message), { code });

/** A fake app whose catalog changes as the test downloads and removes. */
function setup(overrides: Parameters<typeof fakeGlance>[0] = {}) {
  const catalog = structuredClone(CATALOG);
  const download = deferred<null>();
  const fake = fakeGlance({
    'models.list': () => structuredClone(catalog),
    'models.download': async ({ id }) => {
      await download.promise;
      const m = catalog.find((c) => c.id === id)!;
      m.installed = true;
      m.size = 4_096_000_000;
      return null;
    },
    'models.cancel': () => true,
    'engine.status': { state: 'ready', restarts: 0 },
    ...overrides,
  });
  render(ModelsView, { props: { api: fake.api } });
  return { ...fake, catalog, download };
}

const card = (name: string) => screen.getByRole('article', { name });

describe('ModelsView', () => {
  it('shows the catalog grouped by kind, with sizes, licences, state and the reads-text badge', async () => {
    setup();
    const tagging = await screen.findByRole('region', { name: 'Tagging and search' });
    const chat = screen.getByRole('region', { name: 'Chat' });
    expect(
      within(tagging)
        .getAllByRole('article')
        .map((a) => a.dataset.model),
    ).toEqual(['clip-vit-b32']);
    expect(
      within(chat)
        .getAllByRole('article')
        .map((a) => a.dataset.model),
    ).toEqual(['smolvlm-500m', 'llava-1.5-7b']);

    const llava = card('LLaVA 1.5 7B');
    expect(within(llava).getByTestId('model-size').textContent).toBe('4.1 GB');
    expect(within(llava).getByText('Llama 2 Community Licence')).toBeTruthy();
    expect(within(llava).getByText('Describing photos in detail')).toBeTruthy();
    expect(within(llava).getByText('Not installed')).toBeTruthy();
    expect(within(llava).queryByText('Reads text well')).toBeNull();
    expect(within(llava).getByRole('button', { name: 'Download LLaVA 1.5 7B' })).toBeTruthy();

    const smol = card('SmolVLM 500M');
    expect(within(smol).getByText('Reads text well')).toBeTruthy();
    expect(within(smol).getByTestId('model-size').textContent).toBe('550 MB');

    const clip = card('CLIP ViT-B/32');
    expect(within(clip).getByText('Installed')).toBeTruthy();
    expect(within(clip).getByRole('button', { name: 'Verify CLIP ViT-B/32' })).toBeTruthy();
    expect(within(clip).getByRole('button', { name: 'Remove CLIP ViT-B/32' })).toBeTruthy();
  });

  it('shows a text model in "Search in your language", with the count of languages it reads', async () => {
    const languages = ['ar', 'de', 'en', 'es', 'fr', 'hi', 'it', 'ja', 'ko', 'zh'];
    const text: ModelView = {
      id: 'clip-vit-b-32-multilingual',
      kind: 'text',
      name: 'Multilingual CLIP text',
      goodAt: 'Searching in 50+ languages',
      licence: 'Apache-2.0',
      size: 540_000_000,
      installed: false,
      readsText: false,
      languages,
    };
    setup({ 'models.list': () => [...structuredClone(CATALOG), structuredClone(text)] });
    const group = await screen.findByRole('region', { name: 'Search in your language' });
    expect(
      within(group)
        .getAllByRole('article')
        .map((a) => a.dataset.model),
    ).toEqual(['clip-vit-b-32-multilingual']);
    const model = card('Multilingual CLIP text');
    const shown = within(model).getByTestId('model-languages');
    expect(shown.textContent).toMatch(/^10\b/);
    expect(shown.textContent).toContain('ar, de, en');
    expect(within(model).getByRole('button', { name: 'Download Multilingual CLIP text' })).toBeTruthy();
    // The other models read no language list.
    expect(within(card('CLIP ViT-B/32')).queryByTestId('model-languages')).toBeNull();
    expect(
      within(screen.getByRole('region', { name: 'Tagging and search' }))
        .getAllByRole('article')
        .map((a) => a.dataset.model),
    ).toEqual(['clip-vit-b32']);
  });

  it('shows the engine state and its restarts, and follows engine.status events', async () => {
    const { emit } = setup();
    const line = await screen.findByTestId('engine-line');
    await waitFor(() => expect(line.textContent).toMatch(/Engine: ready\s*· no restarts/));
    emit('engine.status', { state: 'restarting', restarts: 2, lastCrash: 'out of memory' });
    await waitFor(() =>
      expect(line.textContent).toMatch(/restarting after a crash\s*· restarted 2 times\s*· last crash: out of memory/),
    );
  });

  it('downloads: the progress follows models.progress events and the model ends installed', async () => {
    const { emit, download, calls } = setup();
    const llava = await screen.findByRole('article', { name: 'LLaVA 1.5 7B' });
    await fireEvent.click(within(llava).getByRole('button', { name: 'Download LLaVA 1.5 7B' }));
    expect(calls.filter((c) => c.channel === 'models.download').map((c) => c.arg)).toEqual([{ id: 'llava-1.5-7b' }]);
    await within(llava).findByText('Starting the download…');

    emit('models.progress', {
      id: 'llava-1.5-7b',
      file: 'llava-v1.5-7b-Q4_K.gguf',
      received: 1_000_000_000,
      total: 4_096_000_000,
      bytesPerSecond: 25_000_000,
      etaSeconds: 124,
    });
    await waitFor(() => expect(within(llava).getByTestId('download-bytes').textContent).toBe('1 GB of 4.1 GB'));
    const bar = within(llava).getByRole('progressbar', { name: 'Downloading LLaVA 1.5 7B' }) as HTMLProgressElement;
    expect(bar.value).toBe(1_000_000_000);
    expect(llava.textContent).toContain('24%');
    expect(llava.textContent).toContain('25 MB/s');
    expect(llava.textContent).toContain('2 min left');
    expect(llava.textContent).toContain('llava-v1.5-7b-Q4_K.gguf');

    // Another model's events do not move this bar.
    emit('models.progress', {
      id: 'smolvlm-500m',
      file: 'x.gguf',
      received: 9,
      total: 10,
      bytesPerSecond: 1,
      etaSeconds: 1,
    });
    emit('models.progress', {
      id: 'llava-1.5-7b',
      file: 'mmproj-model-f16.gguf',
      received: 4_000_000_000,
      total: 4_096_000_000,
      bytesPerSecond: 30_000_000,
      etaSeconds: 3,
    });
    await waitFor(() => expect(within(llava).getByTestId('download-bytes').textContent).toBe('4 GB of 4.1 GB'));
    expect(llava.textContent).toContain('3 s left');
    expect(card('SmolVLM 500M').querySelector('progress')).toBeNull();

    download.resolve(null);
    await within(llava).findByText('Installed');
    expect(within(llava).queryByRole('progressbar')).toBeNull();
    expect(within(llava).getByRole('status').textContent).toContain('LLaVA 1.5 7B is installed.');
    expect(within(llava).getByRole('button', { name: 'Verify LLaVA 1.5 7B' })).toBeTruthy();
    expect(within(llava).queryByRole('button', { name: /^Download/ })).toBeNull();
  });

  it('keeps a download shown when the view is left and opened again', async () => {
    const { emit, api, download } = setup();
    const smol = await screen.findByRole('article', { name: 'SmolVLM 500M' });
    await fireEvent.click(within(smol).getByRole('button', { name: 'Download SmolVLM 500M' }));
    cleanup();
    emit('models.progress', {
      id: 'smolvlm-500m',
      file: 'model.gguf',
      received: 275_000_000,
      total: 550_000_000,
      bytesPerSecond: 10_000_000,
      etaSeconds: 27,
    });
    render(ModelsView, { props: { api } });
    const again = await screen.findByRole('article', { name: 'SmolVLM 500M' });
    expect(within(again).getByTestId('download-bytes').textContent).toBe('275 MB of 550 MB');
    download.resolve(null);
    await within(again).findByText('Installed');
  });

  it('cancels: Cancel calls models.cancel and the cancelled download is reported, not as an error', async () => {
    const { download, calls } = setup();
    const smol = await screen.findByRole('article', { name: 'SmolVLM 500M' });
    await fireEvent.click(within(smol).getByRole('button', { name: 'Download SmolVLM 500M' }));
    await fireEvent.click(within(smol).getByRole('button', { name: 'Cancel the download of SmolVLM 500M' }));
    expect(calls.filter((c) => c.channel === 'models.cancel').map((c) => c.arg)).toEqual([{ id: 'smolvlm-500m' }]);

    const message =
      'The download of model.gguf was cancelled; what arrived is kept, and the next download resumes from there.';
    download.reject(appError('cancelled', message));
    await within(smol).findByText(message);
    expect(within(smol).queryByRole('alert')).toBeNull();
    expect(within(smol).queryByRole('progressbar')).toBeNull();
    expect(within(smol).getByRole('button', { name: 'Download SmolVLM 500M' })).toBeTruthy();
  });

  it('shows an error with what to do, in the app’s words, and the download can be tried again', async () => {
    const message = 'The disk filled up while downloading llava-v1.5-7b-Q4_K.gguf: free up space and try again.';
    setup({ 'models.download': () => Promise.reject(appError('no-space', message)) });
    const llava = await screen.findByRole('article', { name: 'LLaVA 1.5 7B' });
    await fireEvent.click(within(llava).getByRole('button', { name: 'Download LLaVA 1.5 7B' }));
    const alert = await within(llava).findByRole('alert');
    expect(alert.textContent).toContain(message);
    expect(within(llava).getByRole('button', { name: 'Download LLaVA 1.5 7B' })).toBeTruthy();
    await fireEvent.click(within(alert).getByRole('button', { name: 'Dismiss' }));
    expect(within(llava).queryByRole('alert')).toBeNull();
  });

  it('verifies: a broken file is named with its reason, and can be downloaded again', async () => {
    const reason = '/data/models/clip-vit-b32/model.onnx is corrupt (SHA-256 ab12, expected cd34): download it again';
    const { calls } = setup({
      'models.verify': [
        { file: 'model.onnx', ok: false, reason },
        { file: 'tokenizer.json', ok: true },
      ],
    });
    const clip = await screen.findByRole('article', { name: 'CLIP ViT-B/32' });
    await fireEvent.click(within(clip).getByRole('button', { name: 'Verify CLIP ViT-B/32' }));
    expect(calls.filter((c) => c.channel === 'models.verify').map((c) => c.arg)).toEqual([{ id: 'clip-vit-b32' }]);
    const broken = await within(clip).findByRole('list', { name: 'Broken files' });
    expect(
      within(broken)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual([`model.onnx: ${reason}`]);
    expect(within(clip).getByText('1 broken file')).toBeTruthy();
    expect(within(clip).getByRole('button', { name: 'Download again CLIP ViT-B/32' })).toBeTruthy();
  });

  it('verifies: intact files say so', async () => {
    setup({ 'models.verify': [{ file: 'model.onnx', ok: true }] });
    const clip = await screen.findByRole('article', { name: 'CLIP ViT-B/32' });
    await fireEvent.click(within(clip).getByRole('button', { name: 'Verify CLIP ViT-B/32' }));
    await within(clip).findByText('All 1 files of CLIP ViT-B/32 are intact.');
    expect(within(clip).getByText('Verified')).toBeTruthy();
  });

  it('removes only after a confirmation', async () => {
    const { calls, catalog } = setup({ 'models.remove': () => true });
    const clip = await screen.findByRole('article', { name: 'CLIP ViT-B/32' });
    await fireEvent.click(within(clip).getByRole('button', { name: 'Remove CLIP ViT-B/32' }));
    const confirm = within(clip).getByRole('group', { name: 'Confirm removing CLIP ViT-B/32' });
    expect(document.activeElement).toBe(within(confirm).getByRole('button', { name: 'Keep it' }));
    expect(calls.some((c) => c.channel === 'models.remove')).toBe(false);

    await fireEvent.click(within(confirm).getByRole('button', { name: 'Keep it' }));
    expect(calls.some((c) => c.channel === 'models.remove')).toBe(false);

    await fireEvent.click(within(clip).getByRole('button', { name: 'Remove CLIP ViT-B/32' }));
    catalog[0]!.installed = false;
    await fireEvent.click(within(clip).getByRole('button', { name: 'Yes, remove' }));
    expect(calls.filter((c) => c.channel === 'models.remove').map((c) => c.arg)).toEqual([{ id: 'clip-vit-b32' }]);
    await within(clip).findByText('Not installed');
    expect(within(clip).getByText('CLIP ViT-B/32 was removed.')).toBeTruthy();
  });

  it('says when the catalog cannot be read', async () => {
    setup({ 'models.list': () => Promise.reject(appError('engine-down', 'The engine is not running.')) });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The engine is not running.');
    expect(within(alert).getByRole('button', { name: 'Try again' })).toBeTruthy();
  });
});

describe('formatting', () => {
  it('formats bytes in decimal units and times left', () => {
    expect(formatBytes(4_100_000_000)).toBe('4.1 GB');
    expect(formatBytes(999)).toBe('999 bytes');
    expect(formatBytes(4_081_000_000)).toBe('4.08 GB');
    expect(formatBytes(605_000_000)).toBe('605 MB');
    expect(formatEta(null)).toBe('');
    expect(formatEta(42)).toBe('42 s left');
    expect(formatEta(3900)).toBe('1 h 5 min left');
  });
});

describe('hardware', () => {
  it('shows the backends found and what runs the loaded chat model', async () => {
    setup({
      'engine.runtime': {
        backends: ['cuda', 'cpu'],
        chat: { backend: 'cuda', device: 'NVIDIA RTX 4070', gpuLayers: 33, chatTemplate: 'vicuna', notes: [] },
      },
    });
    const line = await screen.findByTestId('runtime-line');
    expect(line.textContent).toMatch(/Hardware found: CUDA, CPU/);
    expect(line.textContent).toMatch(/runs on CUDA \(NVIDIA RTX 4070\),\s+33 GPU layers/);
  });
});
