// The Library view's folder panel says how much space Glance's cache takes for each folder (decimal units, as the
// rest of the app), against a fake window.glance.
import { cleanup, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, expect, it } from 'vitest';
import type { FolderView, SettingsView } from '../../electron/ipc/contract.ts';
import LibraryView from '../../renderer/src/views/LibraryView.svelte';
import { fakeGlance, SETTINGS } from './fake-glance.ts';

afterEach(() => cleanup());

const settings: SettingsView = { ...SETTINGS };

it("shows each folder's photos and the space its cache takes", async () => {
  const folders: FolderView[] = [
    { id: 1, path: '/home/ana/Pictures', photos: 1203, cacheBytes: 12_345_678 },
    { id: 2, path: '/media/old', photos: 1, cacheBytes: 999 },
  ];
  const f = fakeGlance({ 'library.folders': folders, 'settings.get': settings, 'library.search': [] });
  render(LibraryView, { api: f.api });
  const panel = await waitFor(() => screen.getByRole('region', { name: 'Folders' }));
  await waitFor(() => expect(panel.textContent).toMatch(/1,203 photos · 12\.3 MB in the cache/));
  expect(panel.textContent).toMatch(/old 1 photo · 999 bytes in the cache/);
});
