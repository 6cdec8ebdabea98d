// Captions in the library view against a fake window.glance: "Describe photos" (start, progress from
// captions.progress events, pause/resume/cancel, failures) and the photo view's caption (shown with its model and
// date, edited, restored).
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  CaptionProgressView,
  CaptionView,
  ChannelArg,
  FolderView,
  PhotoDetail,
  SettingsView,
} from '../../electron/ipc/contract.ts';
import LibraryView from '../../renderer/src/views/LibraryView.svelte';
import { fakeGlance, photoHit as hit, SETTINGS } from './fake-glance.ts';

afterEach(() => cleanup());

const folders: FolderView[] = [
  { id: 1, path: '/home/ana/Pictures', photos: 3 },
  { id: 2, path: '/media/photos/2024', photos: 300 },
];
const settings: SettingsView = { ...SETTINGS };
const progress = (p: Partial<CaptionProgressView>): CaptionProgressView => ({
  state: 'running',
  done: 0,
  total: 300,
  failed: 0,
  photosPerSecond: 0,
  etaSeconds: null,
  current: null,
  model: 'smolvlm-500m',
  ...p,
});
const callsTo = (f: ReturnType<typeof fakeGlance>, channel: string) =>
  f.calls.filter((c) => c.channel === channel).map((c) => c.arg);

async function openLibrary(extra: Parameters<typeof fakeGlance>[0] = {}) {
  const f = fakeGlance({
    'library.folders': folders,
    'settings.get': settings,
    'library.search': [hit(1), hit(2)],
    'captions.status': null,
    ...extra,
  });
  render(LibraryView, { api: f.api });
  const panel = await screen.findByRole('region', { name: 'Describe photos' });
  return { f, panel };
}

describe('Describe photos', () => {
  it('starts a job for the chosen folder, then shows its progress from the events', async () => {
    const { f, panel } = await openLibrary({ 'captions.start': progress({ total: 300 }) });
    await fireEvent.change(within(panel).getByLabelText('Photos of'), { target: { value: '2' } });
    await fireEvent.click(within(panel).getByRole('checkbox', { name: 'Describe again' }));
    await fireEvent.click(within(panel).getByRole('button', { name: 'Describe photos' }));
    await waitFor(() => expect(callsTo(f, 'captions.start')).toEqual([{ folderIds: [2], redo: true }]));

    f.emit(
      'captions.progress',
      progress({
        done: 12,
        photosPerSecond: 0.8,
        etaSeconds: 360,
        current: { photoId: 13, name: 'IMG_13.jpg' },
        failed: 1,
      }),
    );
    const group = await within(panel).findByRole('group', { name: 'Describing photos' });
    await waitFor(() =>
      expect(within(group).getByText('12 of 300 photos · 0.80 photos/s · about 6 min left')).toBeTruthy(),
    );
    expect(within(group).getByRole('status').textContent).toBe('Describing photos');
    expect(within(group).getByText('Now: IMG_13.jpg')).toBeTruthy();
    expect(within(group).getByText('1 photo could not be described')).toBeTruthy();
    const bar = within(group).getByRole('progressbar', { name: 'Describing progress' }) as HTMLProgressElement;
    expect([bar.value, bar.max]).toEqual([12, 300]);
    // while it runs, no second start is offered
    expect(within(panel).queryByRole('button', { name: 'Describe photos' })).toBeNull();
  });

  it('pauses, resumes and cancels through their channels, following the state the events report', async () => {
    const { f, panel } = await openLibrary({
      'captions.status': progress({ done: 5, photosPerSecond: 1.5, etaSeconds: 200 }),
      'captions.pause': null,
      'captions.resume': null,
      'captions.cancel': null,
    });
    // a job started before the view opened is shown at once
    const group = await within(panel).findByRole('group', { name: 'Describing photos' });
    await fireEvent.click(within(group).getByRole('button', { name: 'Pause' }));
    await waitFor(() => expect(callsTo(f, 'captions.pause')).toHaveLength(1));

    f.emit('captions.progress', progress({ state: 'paused', done: 6 }));
    await fireEvent.click(await within(group).findByRole('button', { name: 'Resume' }));
    await waitFor(() => expect(callsTo(f, 'captions.resume')).toHaveLength(1));
    expect(within(group).getByRole('status').textContent).toBe('Paused');
    // paused: no speed or time left, they would be stale
    expect(within(group).getByText('6 of 300 photos')).toBeTruthy();

    f.emit('captions.progress', progress({ state: 'running', done: 7, photosPerSecond: 1.2 }));
    await fireEvent.click(await within(group).findByRole('button', { name: 'Pause' }));
    await fireEvent.click(within(group).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(callsTo(f, 'captions.cancel')).toHaveLength(1));
    expect(callsTo(f, 'captions.pause')).toHaveLength(2);

    f.emit('captions.progress', progress({ state: 'cancelled', done: 7 }));
    await waitFor(() => expect(within(group).getByRole('status').textContent).toBe('Cancelled'));
    expect(within(group).queryByRole('button', { name: 'Pause' })).toBeNull();
    // a new job can be started (it goes on where this one stopped: the engine skips described photos)
    expect(within(panel).getByRole('button', { name: 'Describe photos' })).toBeTruthy();
  });

  it('after an engine restart, shows the job the engine has (none), not one that looks as if it still ran', async () => {
    let status: CaptionProgressView | null = progress({ done: 5 });
    const { f, panel } = await openLibrary({ 'captions.status': () => status });
    await within(panel).findByRole('group', { name: 'Describing photos' });
    status = null;
    f.emit('engine.status', { state: 'ready', restarts: 1 });
    await waitFor(() => expect(within(panel).queryByRole('group', { name: 'Describing photos' })).toBeNull());
    expect(within(panel).getByRole('button', { name: 'Describe photos' })).toBeTruthy();
  });

  it('lists the photos that failed, and says what to do when no model can describe', async () => {
    const { f, panel } = await openLibrary({
      'captions.start': () => {
        throw Object.assign(new Error('no chat model is installed'), { code: 'no-chat-model' });
      },
    });
    await fireEvent.click(within(panel).getByRole('button', { name: 'Describe photos' }));
    expect((await within(panel).findByRole('alert')).textContent).toMatch(/Download one in Models/);
    expect(callsTo(f, 'captions.start')).toEqual([{}]); // all folders, not again

    f.emit(
      'captions.progress',
      progress({
        state: 'done',
        done: 300,
        failed: 2,
        failures: [
          { name: 'broken.jpg', path: '/home/ana/Pictures/broken.jpg', message: 'not a JPEG file' },
          { name: 'empty.png', path: '/home/ana/Pictures/empty.png', message: 'the file is empty' },
        ],
      }),
    );
    const toggle = await within(panel).findByRole('button', { name: '2 photos could not be described' });
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    await fireEvent.click(toggle);
    const list = within(panel).getByRole('list', { name: 'Photos that could not be described' });
    expect(
      within(list)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual(['broken.jpg: not a JPEG file', 'empty.png: the file is empty']);
  });
});

describe('the photo view’s caption', () => {
  const detail = (caption: CaptionView | null): PhotoDetail => ({
    id: 1,
    name: 'IMG_1.jpg',
    path: '/home/ana/Pictures/IMG_1.jpg',
    width: null,
    height: null,
    takenAt: null,
    tags: [],
    candidates: [],
    caption,
  });
  const model: CaptionView = {
    text: 'A dog running on a beach.',
    model: 'smolvlm-500m',
    createdAt: Date.UTC(2026, 10, 30, 9, 0),
    edited: false,
  };

  it('shows the model and date, saves an edit as yours, and an empty edit brings the model’s back', async () => {
    const { f } = await openLibrary({
      'library.photo': detail(model),
      'captions.set': (a: ChannelArg<'captions.set'>) =>
        a.text ? { text: a.text, model: 'person', createdAt: Date.UTC(2026, 11, 1), edited: true } : model,
    });
    await fireEvent.click(await screen.findByRole('button', { name: 'IMG_1.jpg' }));
    const section = await screen.findByRole('region', { name: 'Caption' });
    expect(within(section).getByText('A dog running on a beach.')).toBeTruthy();
    expect(within(section).getByText(/^By smolvlm-500m · /)).toBeTruthy();

    await fireEvent.click(within(section).getByRole('button', { name: 'Edit caption' }));
    const box = within(section).getByRole('textbox', { name: 'Caption' }) as HTMLTextAreaElement;
    expect(box.value).toBe('A dog running on a beach.');
    expect(document.activeElement).toBe(box);
    await fireEvent.input(box, { target: { value: '  Rex at Brighton, summer 2024  ' } });
    await fireEvent.click(within(section).getByRole('button', { name: 'Save caption' }));
    await waitFor(() => expect(within(section).getByText('Rex at Brighton, summer 2024')).toBeTruthy());
    expect(callsTo(f, 'captions.set')).toEqual([{ photoId: 1, text: 'Rex at Brighton, summer 2024' }]);
    expect(within(section).getByText(/^Your edit · /)).toBeTruthy();
    // focus goes back to the button that opened the editor
    await waitFor(() =>
      expect(document.activeElement).toBe(within(section).getByRole('button', { name: 'Edit caption' })),
    );

    await fireEvent.click(within(section).getByRole('button', { name: 'Edit caption' }));
    await fireEvent.input(within(section).getByRole('textbox', { name: 'Caption' }), { target: { value: '   ' } });
    await fireEvent.click(within(section).getByRole('button', { name: 'Save caption' }));
    await waitFor(() => expect(within(section).getByText('A dog running on a beach.')).toBeTruthy());
    expect(callsTo(f, 'captions.set').at(-1)).toEqual({ photoId: 1, text: '' });
    expect(within(section).getByText(/^By smolvlm-500m/)).toBeTruthy();
  });

  it('shows the caption the job has just written for the open photo', async () => {
    let caption: CaptionView | null = null;
    const { f } = await openLibrary({ 'library.photo': () => detail(caption) });
    await fireEvent.click(await screen.findByRole('button', { name: 'IMG_1.jpg' }));
    const section = await screen.findByRole('region', { name: 'Caption' });
    expect(within(section).getByText(/No caption yet/)).toBeTruthy();

    f.emit('captions.progress', progress({ current: { photoId: 1, name: 'IMG_1.jpg' } }));
    caption = model;
    // the job moves on to the next photo: photo 1 is described, its caption is read again
    f.emit('captions.progress', progress({ done: 1, current: { photoId: 2, name: 'IMG_2.jpg' } }));
    await waitFor(() => expect(within(section).getByText('A dog running on a beach.')).toBeTruthy());
    expect(callsTo(f, 'library.photo')).toHaveLength(2);
    // another photo finishing does not reread this one
    f.emit('captions.progress', progress({ done: 2, current: { photoId: 3, name: 'IMG_3.jpg' } }));
    expect(callsTo(f, 'library.photo')).toHaveLength(2);
  });

  it('Escape leaves the editor without saving and without closing the photo; a failed save says why', async () => {
    const { f } = await openLibrary({
      'library.photo': detail(null),
      'captions.set': () => {
        throw Object.assign(new Error('no photo with id 1 in the library'), { code: 'photo-not-indexed' });
      },
    });
    await fireEvent.click(await screen.findByRole('button', { name: 'IMG_1.jpg' }));
    const section = await screen.findByRole('region', { name: 'Caption' });
    expect(within(section).getByText(/No caption yet/)).toBeTruthy();
    await fireEvent.click(within(section).getByRole('button', { name: 'Write a caption' }));
    const box = within(section).getByRole('textbox', { name: 'Caption' });
    await fireEvent.input(box, { target: { value: 'Receipt from the bakery' } });
    await fireEvent.keyDown(box, { key: 'Escape' });
    expect(within(section).queryByRole('textbox')).toBeNull();
    expect(screen.getByRole('dialog')).toBeTruthy();
    expect(callsTo(f, 'captions.set')).toEqual([]);

    await fireEvent.click(within(section).getByRole('button', { name: 'Write a caption' }));
    await fireEvent.input(within(section).getByRole('textbox', { name: 'Caption' }), {
      target: { value: 'Receipt from the bakery' },
    });
    await fireEvent.click(within(section).getByRole('button', { name: 'Save caption' }));
    expect((await within(section).findByRole('alert')).textContent).toBe('no photo with id 1 in the library');
    // the draft stays for another try
    expect((within(section).getByRole('textbox', { name: 'Caption' }) as HTMLTextAreaElement).value).toBe(
      'Receipt from the bakery',
    );
  });
});
