// The library view against a fake window.glance: search, the virtualized grid, the photo panel and its tags,
// index progress, errors, and the first run.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type {
  ChannelArg,
  ChannelResult,
  FolderView,
  IndexProgressView,
  ModelView,
  PhotoDetail,
  PhotoTagView,
  SettingsView,
} from '../../electron/ipc/contract.ts';
import ThumbnailGrid from '../../renderer/src/components/library/ThumbnailGrid.svelte';
import { BROWSE_LIMIT, parseQuery, SEARCH_LIMIT } from '../../renderer/src/state/library.svelte.ts';
import LibraryView from '../../renderer/src/views/LibraryView.svelte';
import { fakeGlance, photoHit as hit, SETTINGS } from './fake-glance.ts';

afterEach(() => cleanup());

const folder: FolderView = { id: 1, path: '/home/ana/Pictures', photos: 3 };
const settings: SettingsView = { ...SETTINGS };
const clip = (installed: boolean): ModelView => ({
  id: 'clip-vit-base-patch32',
  kind: 'clip',
  name: 'CLIP ViT-B/32',
  goodAt: 'tagging and search',
  licence: 'MIT',
  size: 605_000_000,
  installed,
  readsText: false,
  languages: [],
});
const progress = (p: Partial<IndexProgressView>): IndexProgressView => ({
  phase: 'indexing',
  found: 0,
  total: 0,
  done: 0,
  unchanged: 0,
  indexed: 0,
  moved: 0,
  removed: 0,
  errors: 0,
  filesPerSecond: 0,
  etaSeconds: null,
  current: null,
  ...p,
});
const tagView = (name: string, source: PhotoTagView['source'], score: number | null): PhotoTagView => ({
  name,
  category: null,
  source,
  score,
});

const searches = (calls: { channel: string; arg: unknown }[]) =>
  calls.filter((c) => c.channel === 'library.search').map((c) => c.arg as ChannelArg<'library.search'>);

describe('parseQuery', () => {
  it('splits words, tag: tokens (quoted or not) and like:ID', () => {
    expect(parseQuery('dog on a beach tag:holiday TAG:"red car"')).toEqual({
      text: 'dog on a beach',
      tags: ['holiday', 'red car'],
      likePhotoId: undefined,
      problem: undefined,
    });
    expect(parseQuery('like:42 tag:cat')).toMatchObject({ text: undefined, tags: ['cat'], likePhotoId: 42 });
    expect(parseQuery('   ')).toMatchObject({ text: undefined, tags: [] });
    expect(parseQuery('tag: dog')).toMatchObject({ text: 'dog', tags: [] });
    expect(parseQuery('like:abc').problem).toMatch(/not a photo/);
    expect(parseQuery('like:3 sunset').problem).toMatch(/not both/);
  });
});

describe('LibraryView', () => {
  it('searches with the parsed query and shows the hits as thumbnails', async () => {
    const f = fakeGlance({
      'library.folders': [folder],
      'settings.get': settings,
      'library.search': (a) => (a.text ? [hit(7), hit(8)] : [hit(1), hit(2), hit(3)]),
    });
    render(LibraryView, { api: f.api });

    // First the newest photos, no query.
    await waitFor(() => expect(screen.getAllByRole('img')).toHaveLength(3));
    expect(searches(f.calls)[0]).toEqual({ limit: BROWSE_LIMIT }); // browsing lists the whole library

    const box = screen.getByRole('searchbox', { name: 'Search photos' });
    await fireEvent.input(box, { target: { value: 'dog on a beach tag:holiday' } });
    await fireEvent.submit(box.closest('form')!);

    await waitFor(() => expect(screen.getAllByRole('img')).toHaveLength(2));
    expect(searches(f.calls).at(-1)).toEqual({ text: 'dog on a beach', tags: ['holiday'], limit: SEARCH_LIMIT });
    const imgs = screen.getAllByRole('img');
    expect(imgs.map((i) => i.getAttribute('src'))).toEqual(['glance://thumb/7', 'glance://thumb/8']);
    expect(imgs.map((i) => i.getAttribute('alt'))).toEqual(['IMG_7.jpg', 'IMG_8.jpg']);
    expect(screen.getByText('2 photos')).toBeTruthy();
  });

  it('shows an ApiError as a message, not an exception', async () => {
    const f = fakeGlance({
      'library.folders': [folder],
      'settings.get': settings,
      'library.search': () => {
        throw Object.assign(new Error('The CLIP model is not installed: download it in Models.'), {
          code: 'model-missing',
        });
      },
    });
    render(LibraryView, { api: f.api });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The CLIP model is not installed: download it in Models.');
    await fireEvent.click(within(alert).getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('filters by folder and date range as soon as they change', async () => {
    const f = fakeGlance({
      'library.folders': [folder, { id: 2, path: '/media/photos/2024', photos: 10 }],
      'settings.get': settings,
      'library.search': [hit(1)],
    });
    render(LibraryView, { api: f.api });
    await screen.findByRole('button', { name: 'IMG_1.jpg' });
    await fireEvent.input(screen.getByRole('searchbox'), { target: { value: 'tag:cat' } });
    const select = screen.getByRole('combobox', { name: 'Folder' }) as HTMLSelectElement;
    select.selectedIndex = 2; // the second folder
    await fireEvent.change(select);
    await waitFor(() => expect(searches(f.calls).at(-1)).toEqual({ tags: ['cat'], folderId: 2, limit: BROWSE_LIMIT }));
    await fireEvent.input(screen.getByLabelText('From'), { target: { value: '2024-06-01' } });
    await fireEvent.change(screen.getByLabelText('From'));
    await fireEvent.input(screen.getByLabelText('To'), { target: { value: '2024-06-30' } });
    await fireEvent.change(screen.getByLabelText('To'));
    await waitFor(() =>
      expect(searches(f.calls).at(-1)).toEqual({
        tags: ['cat'],
        folderId: 2,
        from: new Date(2024, 5, 1).getTime(),
        to: new Date(2024, 6, 1).getTime() - 1,
        limit: BROWSE_LIMIT,
      }),
    );
  });

  it('offers to try again when the folders cannot be read', async () => {
    let fail = true;
    const f = fakeGlance({
      'library.folders': () => {
        if (fail) throw Object.assign(new Error('The engine is restarting.'), { code: 'engine-restarting' });
        return [folder];
      },
      'settings.get': settings,
      'library.search': [hit(1)],
    });
    render(LibraryView, { api: f.api });
    expect((await screen.findByRole('alert')).textContent).toContain('The engine is restarting.');
    fail = false;
    await fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    await screen.findByRole('button', { name: 'IMG_1.jpg' });
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('opens a photo with its tags; adds and removes tags through the tag channels', async () => {
    let tags = [tagView('beach', 'auto', 0.08), tagView('dog', 'auto', 0.05)];
    const candidates = [tagView('sunset', 'auto', 0.02)];
    const detail = (): PhotoDetail => ({
      id: 1,
      name: 'IMG_1.jpg',
      path: '/home/ana/Pictures/IMG_1.jpg',
      width: 4032,
      height: 3024,
      takenAt: Date.UTC(2024, 6, 14, 10, 30),
      tags,
      candidates: candidates.filter((c) => !tags.some((t) => t.name === c.name)),
      caption: null,
    });
    const f = fakeGlance({
      'library.folders': [folder],
      'settings.get': settings,
      'library.search': [hit(1), hit(2)],
      'library.photo': () => detail(),
      'tags.add': (a) => {
        tags = [...tags, tagView(a.tag, 'user', null)];
        return null;
      },
      'tags.remove': (a) => {
        tags = tags.filter((t) => t.name !== a.tag);
        return null;
      },
    });
    render(LibraryView, { api: f.api });

    await fireEvent.click(await screen.findByRole('button', { name: 'IMG_1.jpg' }));
    const dialog = await screen.findByRole('dialog', { name: 'IMG_1.jpg' });
    expect(f.calls.find((c) => c.channel === 'library.photo')?.arg).toEqual({ photoId: 1 });
    const tagNames = () =>
      within(within(dialog).getByRole('list', { name: 'Tags' }))
        .getAllByRole('listitem')
        .map((li) => li.querySelector('.name')?.textContent);
    expect(tagNames()).toEqual(['beach', 'dog']);
    expect(within(dialog).getByRole('img').getAttribute('src')).toBe('glance://thumb/1');
    expect(within(dialog).getByText('4032 × 3024')).toBeTruthy();

    // Add one of your own.
    const input = within(dialog).getByLabelText('Add a tag') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'grandma' } });
    await fireEvent.submit(input.closest('form')!);
    await waitFor(() => expect(tagNames()).toEqual(['beach', 'dog', 'grandma']));
    expect(f.calls.filter((c) => c.channel === 'tags.add').map((c) => c.arg)).toEqual([{ photoId: 1, tag: 'grandma' }]);
    await waitFor(() => expect(input.value).toBe(''));

    // Remove one.
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Remove tag dog' }));
    await waitFor(() => expect(tagNames()).toEqual(['beach', 'grandma']));
    expect(f.calls.filter((c) => c.channel === 'tags.remove').map((c) => c.arg)).toEqual([{ photoId: 1, tag: 'dog' }]);

    // A candidate below the threshold is one click away.
    await fireEvent.click(within(dialog).getByRole('button', { name: /^Add tag sunset\b/ }));
    await waitFor(() => expect(tagNames()).toContain('sunset'));

    // More like this: a search by the photo, the panel closes.
    await fireEvent.click(within(dialog).getByRole('button', { name: 'More like this' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(searches(f.calls).at(-1)).toEqual({ likePhotoId: 1, limit: SEARCH_LIMIT });
    expect((screen.getByRole('searchbox') as HTMLInputElement).value).toBe('like:1');
  });

  it('closes the photo with Escape', async () => {
    const f = fakeGlance({
      'library.folders': [folder],
      'settings.get': settings,
      'library.search': [hit(1)],
      'library.photo': {
        id: 1,
        name: 'IMG_1.jpg',
        path: '/p/IMG_1.jpg',
        width: null,
        height: null,
        takenAt: null,
        tags: [],
        candidates: [],
        caption: null,
      },
    });
    render(LibraryView, { api: f.api });
    await fireEvent.click(await screen.findByRole('button', { name: 'IMG_1.jpg' }));
    const dialog = await screen.findByRole('dialog');
    expect(within(dialog).getByText('No tags yet.')).toBeTruthy();
    await fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('shows index progress from library.progress events, with pause, resume and the final count', async () => {
    let folders = [folder];
    const f = fakeGlance({
      'library.folders': () => folders,
      'settings.get': settings,
      'library.search': [hit(1)],
      'library.pause': null,
      'library.resume': null,
    });
    render(LibraryView, { api: f.api });
    await screen.findByRole('button', { name: 'IMG_1.jpg' });
    expect(screen.queryByRole('progressbar', { name: 'Indexing progress' })).toBeNull();

    f.emit(
      'library.progress',
      progress({ phase: 'indexing', total: 200, done: 50, filesPerSecond: 12.5, etaSeconds: 12 }),
    );
    const bar = await screen.findByRole('progressbar', { name: 'Indexing progress' });
    expect(bar.getAttribute('value')).toBe('50');
    expect(bar.getAttribute('max')).toBe('200');
    expect(screen.getByText('50 of 200 files · 12.5 files/s · about 12 s left')).toBeTruthy();

    f.emit(
      'library.progress',
      progress({ phase: 'indexing', total: 200, done: 120, filesPerSecond: 14, etaSeconds: 150 }),
    );
    await waitFor(() => expect(bar.getAttribute('value')).toBe('120'));
    expect(screen.getByText('120 of 200 files · 14.0 files/s · about 3 min left')).toBeTruthy();

    await fireEvent.click(screen.getByRole('button', { name: 'Pause' }));
    expect(f.calls.some((c) => c.channel === 'library.pause')).toBe(true);
    f.emit('library.progress', progress({ phase: 'paused', total: 200, done: 120 }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Resume' }));
    expect(f.calls.some((c) => c.channel === 'library.resume')).toBe(true);

    // Done: the folders (their counts) and the results are reread.
    folders = [{ ...folder, photos: 203 }];
    const before = f.calls.filter((c) => c.channel === 'library.folders').length;
    f.emit('library.progress', progress({ phase: 'done', total: 200, done: 200, indexed: 200 }));
    await screen.findByText('203 photos');
    expect(f.calls.filter((c) => c.channel === 'library.folders').length).toBe(before + 1);
    expect(screen.getByText('Up to date')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Pause' })).toBeNull();
  });

  it('finds duplicates at the chosen threshold', async () => {
    const f = fakeGlance({
      'library.folders': [folder],
      'settings.get': settings,
      'library.search': [hit(1)],
      'library.duplicates': [{ similarity: 0.987, photos: [hit(4), hit(5)] }],
    });
    render(LibraryView, { api: f.api });
    await screen.findByRole('button', { name: 'IMG_1.jpg' });
    await fireEvent.click(screen.getByRole('button', { name: 'Duplicates' }));
    await fireEvent.input(screen.getByLabelText('Alike at least'), { target: { value: '0.9' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Find duplicates' }));
    const group = await screen.findByRole('listitem', { name: 'Group 1: 98.7% alike, 2 photos' });
    expect(f.calls.find((c) => c.channel === 'library.duplicates')?.arg).toEqual({ threshold: 0.9 });
    expect(
      within(group)
        .getAllByRole('img')
        .map((i) => i.getAttribute('src')),
    ).toEqual(['glance://thumb/4', 'glance://thumb/5']);
  });

  it('shows a duplicates search’s progress; Cancel stops it calmly and keeps the groups found before', async () => {
    let finish: (g: ChannelResult<'library.duplicates'>) => void = () => {};
    let fail: (err: Error) => void = () => {};
    let cancels = 0;
    let first = true;
    const f = fakeGlance({
      'library.folders': [folder],
      'settings.get': settings,
      'library.search': [hit(1)],
      'library.duplicates': () => {
        if (first) {
          first = false;
          return [{ similarity: 0.987, photos: [hit(4), hit(5)] }];
        }
        return new Promise((resolve, reject) => {
          finish = resolve;
          fail = reject;
        });
      },
      // the engine's answer to a cancel: the search's own call fails with code 'cancelled'
      'library.cancelDuplicates': () => {
        cancels++;
        fail(Object.assign(new Error('finding duplicates was cancelled'), { code: 'cancelled' }));
        return true;
      },
    });
    render(LibraryView, { api: f.api });
    await screen.findByRole('button', { name: 'IMG_1.jpg' });
    await fireEvent.click(screen.getByRole('button', { name: 'Duplicates' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Find duplicates' }));
    await screen.findByRole('listitem', { name: 'Group 1: 98.7% alike, 2 photos' });
    expect(screen.queryByRole('button', { name: 'Cancel' })).toBeNull();

    // A second search: progress while it runs, no second search while it does.
    await fireEvent.input(screen.getByLabelText('Alike at least'), { target: { value: '0.9' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Find duplicates' }));
    const running = await screen.findByRole('group', { name: 'Finding duplicates' });
    expect(within(running).getByRole('status').textContent?.trim()).toBe('Looking for duplicates…');
    f.emit('library.duplicatesProgress', { done: 30, total: 120 });
    await within(running).findByText('Looking for duplicates… 25%');
    const bar = within(running).getByLabelText('Duplicates progress');
    expect([bar.getAttribute('value'), bar.getAttribute('max')]).toEqual(['30', '120']);
    const find = screen.getByRole('button', { name: 'Looking…' }) as HTMLButtonElement;
    expect(find.disabled).toBe(true);
    await fireEvent.submit(find.closest('form')!); // Enter in the form: refused while one runs
    expect(f.calls.filter((c) => c.channel === 'library.duplicates')).toHaveLength(2);

    // Cancel: the call goes out, the progress goes, the earlier groups stay, and no error banner.
    await fireEvent.click(within(running).getByRole('button', { name: 'Cancel' }));
    expect(cancels).toBe(1);
    await screen.findByText('Stopped looking for duplicates.');
    expect(screen.queryByRole('group', { name: 'Finding duplicates' })).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByRole('listitem', { name: 'Group 1: 98.7% alike, 2 photos' })).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Find duplicates' }) as HTMLButtonElement).disabled).toBe(false);

    // A later search that finishes replaces the groups and the notice; a late progress event shows nothing.
    await fireEvent.click(screen.getByRole('button', { name: 'Find duplicates' }));
    await screen.findByRole('group', { name: 'Finding duplicates' });
    expect(screen.queryByText('Stopped looking for duplicates.')).toBeNull();
    finish([{ similarity: 0.91, photos: [hit(6), hit(7), hit(8)] }]);
    await screen.findByRole('listitem', { name: 'Group 1: 91.0% alike, 3 photos' });
    f.emit('library.duplicatesProgress', { done: 120, total: 120 });
    await tick();
    expect(screen.queryByRole('group', { name: 'Finding duplicates' })).toBeNull();
    expect(cancels).toBe(1);
  });

  it('a duplicates search that fails (not cancelled) says why in the error banner', async () => {
    const f = fakeGlance({
      'library.folders': [folder],
      'settings.get': settings,
      'library.search': [hit(1)],
      'library.duplicates': () => {
        throw Object.assign(new Error('the library is closed'), { code: 'internal' });
      },
    });
    render(LibraryView, { api: f.api });
    await screen.findByRole('button', { name: 'IMG_1.jpg' });
    await fireEvent.click(screen.getByRole('button', { name: 'Duplicates' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Find duplicates' }));
    expect((await screen.findByRole('alert')).textContent).toContain('the library is closed');
    expect(screen.queryByText('Stopped looking for duplicates.')).toBeNull();
    expect(screen.queryByRole('group', { name: 'Finding duplicates' })).toBeNull();
  });

  it('first run: downloads the CLIP model, then adds a folder and starts indexing', async () => {
    let folders: FolderView[] = [];
    let installed = false;
    let finishDownload = () => {};
    const f = fakeGlance({
      'library.folders': () => folders,
      'settings.get': settings,
      'library.search': [],
      'models.list': () => [clip(installed)],
      'models.download': () =>
        new Promise((resolve) => {
          finishDownload = () => {
            installed = true;
            resolve(null);
          };
        }),
      'library.addFolder': () => {
        folders = [folder];
        return folder;
      },
      'library.index': () => new Promise(() => {}), // still running
    });
    render(LibraryView, { api: f.api });

    const download = await screen.findByRole('button', { name: 'Download the CLIP model' });
    const add = screen.getByRole('button', { name: 'Add a photo folder…' }) as HTMLButtonElement;
    expect(add.disabled).toBe(true);

    await fireEvent.click(download);
    expect(f.calls.find((c) => c.channel === 'models.download')?.arg).toEqual({ id: 'clip-vit-base-patch32' });
    f.emit('models.progress', {
      id: 'clip-vit-base-patch32',
      file: 'onnx/vision_model.onnx',
      received: 50 * 1024 * 1024,
      total: 200 * 1024 * 1024,
      bytesPerSecond: 10 * 1024 * 1024,
      etaSeconds: 15,
    });
    await waitFor(() =>
      expect(screen.getByRole('progressbar', { name: 'Download progress' }).getAttribute('value')).toBe(
        String(50 * 1024 * 1024),
      ),
    );
    // decimal units, as the Models view and the hub count (binary units showed "50.0 MB of 200 MB")
    expect(screen.getByText(/52\.4 MB of 210 MB · 10\.5 MB\/s/)).toBeTruthy();

    finishDownload();
    await screen.findByText('✓ The CLIP model is installed.');
    expect(add.disabled).toBe(false);

    await fireEvent.click(add);
    await waitFor(() => expect(f.calls.some((c) => c.channel === 'library.index')).toBe(true));
    expect(f.calls.some((c) => c.channel === 'library.addFolder')).toBe(true);
    // The library replaces the first run, indexing under way.
    await screen.findByRole('progressbar', { name: 'Indexing progress' });
    expect(screen.queryByText('Welcome to Glance')).toBeNull();
    // (the folder list itself: "Describe photos" in the same side panel names the folder in its picker too)
    const aside = screen.getByRole('complementary', { name: 'Library folders' });
    expect(within(within(aside).getByRole('region', { name: 'Folders' })).getByText('Pictures')).toBeTruthy();
  });

  it('first run with the model installed goes straight to adding a folder', async () => {
    const f = fakeGlance({
      'library.folders': [],
      'settings.get': settings,
      'models.list': [clip(true)],
      'library.addFolder': null, // the person cancels the picker
    });
    render(LibraryView, { api: f.api });
    const add = (await screen.findByRole('button', { name: 'Add a photo folder…' })) as HTMLButtonElement;
    await waitFor(() => expect(add.disabled).toBe(false));
    expect(screen.queryByRole('button', { name: 'Download the CLIP model' })).toBeNull();
    await fireEvent.click(add);
    await tick();
    expect(f.calls.some((c) => c.channel === 'library.index')).toBe(false);
    expect(screen.queryByRole('alert')).toBeNull();
  });
});

describe('ThumbnailGrid', () => {
  const many = Array.from({ length: 100_000 }, (_, i) => hit(i + 1));
  const renderedIds = (root: HTMLElement) =>
    [...root.querySelectorAll<HTMLElement>('[data-photo-id]')].map((el) => Number(el.dataset.photoId));

  it('renders only a window of cells for 100,000 hits, and scrolling moves the window', async () => {
    const onopen = vi.fn();
    const { container } = render(ThumbnailGrid, {
      hits: many,
      onopen,
      cellSize: 160,
      viewportWidth: 800, // 5 columns
      viewportHeight: 640, // 4 rows in view
    });
    const grid = screen.getByRole('grid', { name: 'Photos' });
    expect(grid.getAttribute('aria-rowcount')).toBe('20000');
    const spacer = grid.firstElementChild as HTMLElement;
    expect(spacer.style.height).toBe(`${20_000 * 160}px`);

    const cells = container.querySelectorAll('[role="gridcell"]');
    expect(cells.length).toBeGreaterThan(0);
    expect(cells.length).toBeLessThan(200);
    expect(renderedIds(container)).toContain(1);
    expect(renderedIds(container)).not.toContain(50_001);

    grid.scrollTop = 10_000 * 160; // row 10,000: photos 50,001 to 50,005
    await fireEvent.scroll(grid);
    const ids = renderedIds(container);
    expect(ids).toContain(50_001);
    expect(ids).not.toContain(1);
    expect(container.querySelectorAll('[role="gridcell"]').length).toBeLessThan(200);
    expect(container.querySelectorAll('img').length).toBe(ids.length);
  });

  it('moves focus with the arrow keys and opens with Enter', async () => {
    const onopen = vi.fn();
    const { container } = render(ThumbnailGrid, {
      hits: many,
      onopen,
      cellSize: 160,
      viewportWidth: 800,
      viewportHeight: 640,
    });
    const first = container.querySelector<HTMLElement>('[data-index="0"]')!;
    expect(first.tabIndex).toBe(0);
    first.focus();
    await fireEvent.keyDown(first, { key: 'ArrowRight' });
    await tick();
    expect((document.activeElement as HTMLElement).dataset.index).toBe('1');
    await fireEvent.keyDown(document.activeElement!, { key: 'ArrowDown' });
    await tick();
    expect((document.activeElement as HTMLElement).dataset.index).toBe('6');
    expect(first.tabIndex).toBe(-1);

    // Far down: the grid scrolls so the focused cell is rendered.
    await fireEvent.keyDown(document.activeElement!, { key: 'End', ctrlKey: true });
    await tick();
    expect((document.activeElement as HTMLElement).dataset.photoId).toBe('100000');

    await fireEvent.keyDown(document.activeElement!, { key: 'Enter' });
    expect(onopen).toHaveBeenCalledWith(many[99_999], 99_999);
  });
});
