// The vocabulary editor against a fake window.glance: it loads and shows the labels, filters them, sends the edited
// structure on Save and says how many photos were re-tagged, resets to the default, and shows errors in place.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelArg, SettingsView, VocabularyView } from '../../electron/ipc/contract.ts';
import VocabularyEditor from '../../renderer/src/components/library/VocabularyEditor.svelte';
import { fromDraft, LibraryState, toDraft } from '../../renderer/src/state/library.svelte.ts';
import LibraryView from '../../renderer/src/views/LibraryView.svelte';
import { fakeGlance, SETTINGS } from './fake-glance.ts';

afterEach(() => cleanup());

const vocabulary = (custom = false): VocabularyView => ({
  custom,
  neutral: ['a photo.', 'a picture.'],
  categories: [
    {
      name: 'Animals',
      labels: [
        { name: 'dog', prompts: ['a photo of a dog.', 'a dog.'] },
        { name: 'cat', prompts: ['a photo of a cat.'], threshold: 0.05 },
      ],
    },
    { name: 'Places', labels: [{ name: 'beach', prompts: ['a photo of a beach.'] }] },
  ],
});

function setup(answers: Parameters<typeof fakeGlance>[0] = {}) {
  const fake = fakeGlance({ 'tags.vocabulary': vocabulary(), ...answers });
  const lib = new LibraryState(fake.api);
  render(VocabularyEditor, { lib });
  return { ...fake, lib };
}

const labelNames = () => screen.getAllByLabelText('Label').map((i) => (i as HTMLInputElement).value);

describe('the vocabulary editor', () => {
  it('loads the vocabulary and shows its categories and labels', async () => {
    setup();
    await waitFor(() => expect(labelNames()).toEqual(['dog', 'cat', 'beach']));
    expect(screen.getByText('3 labels in 2 categories')).toBeTruthy();
    expect(screen.getAllByLabelText('Category name').map((i) => (i as HTMLInputElement).value)).toEqual([
      'Animals',
      'Places',
    ]);
    expect(screen.getByRole('group', { name: 'Category Animals' })).toBeTruthy();
    expect((screen.getByLabelText('Prompts for dog, one a line') as HTMLTextAreaElement).value).toBe(
      'a photo of a dog.\na dog.',
    );
    expect((screen.getAllByLabelText('Threshold')[1] as HTMLInputElement).value).toBe('0.05');
    expect(screen.getByText(/This is the default vocabulary/)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Reset to default' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('the filter finds a label by name or prompt', async () => {
    setup();
    await waitFor(() => expect(labelNames()).toHaveLength(3));
    const filter = screen.getByLabelText('Find a label');
    await fireEvent.input(filter, { target: { value: 'BEA' } });
    expect(labelNames()).toEqual(['beach']);
    expect(screen.getByText('1 of 3 labels match')).toBeTruthy();
    expect(screen.queryByRole('group', { name: 'Category Animals' })).toBeNull();
    expect(screen.getByRole('group', { name: 'Category Places' })).toBeTruthy();
    await fireEvent.input(filter, { target: { value: 'a dog' } });
    expect(labelNames()).toEqual(['dog']);
    await fireEvent.input(filter, { target: { value: '' } });
    expect(labelNames()).toHaveLength(3);
  });

  it('edits a prompt, adds a label and saves the edited structure', async () => {
    let sent: ChannelArg<'tags.setVocabulary'> | undefined;
    const { calls } = setup({
      'tags.setVocabulary': (arg) => {
        sent = arg;
        return { labels: 4, retagged: 1234 };
      },
    });
    await waitFor(() => expect(labelNames()).toHaveLength(3));
    await fireEvent.input(screen.getByLabelText('Prompts for dog, one a line'), {
      target: { value: 'a photo of a dog.\n\n  a good dog.  \n' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Add label to Places' }));
    const names = screen.getAllByLabelText('Label');
    expect(document.activeElement).toBe(names[3]);
    await fireEvent.input(names[3]!, { target: { value: 'mountain' } });
    await fireEvent.input(screen.getByLabelText('Prompts for mountain, one a line'), {
      target: { value: 'a photo of a mountain.' },
    });
    await fireEvent.input(screen.getAllByLabelText('Threshold')[3]!, { target: { value: '0.1' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(screen.getByText(/Re-tagged 1,234 photos from stored embeddings/)).toBeTruthy());
    expect(calls.filter((c) => c.channel === 'tags.setVocabulary')).toHaveLength(1);
    expect(sent).toEqual({
      neutral: ['a photo.', 'a picture.'],
      categories: [
        {
          name: 'Animals',
          labels: [
            { name: 'dog', prompts: ['a photo of a dog.', 'a good dog.'] },
            { name: 'cat', prompts: ['a photo of a cat.'], threshold: 0.05 },
          ],
        },
        {
          name: 'Places',
          labels: [
            { name: 'beach', prompts: ['a photo of a beach.'] },
            { name: 'mountain', prompts: ['a photo of a mountain.'], threshold: 0.1 },
          ],
        },
      ],
    });
    expect(screen.getByText(/This is your own vocabulary/)).toBeTruthy();
  });

  it('removes a label and a category', async () => {
    const { lib } = setup();
    await waitFor(() => expect(labelNames()).toHaveLength(3));
    await fireEvent.click(screen.getByRole('button', { name: 'Remove label cat' }));
    expect(labelNames()).toEqual(['dog', 'beach']);
    await fireEvent.click(screen.getByRole('button', { name: 'Remove category Places' }));
    expect(labelNames()).toEqual(['dog']);
    await fireEvent.click(screen.getByRole('button', { name: 'Add category' }));
    expect(lib.vocabulary!.categories.map((c) => c.name)).toEqual(['Animals', 'New category']);
  });

  it('resets to the default vocabulary and reloads it', async () => {
    let custom = true;
    const { calls } = setup({
      'tags.vocabulary': () => (custom ? vocabulary(true) : { ...vocabulary(false), categories: [] }),
      'tags.resetVocabulary': () => {
        custom = false;
        return { labels: 700, retagged: 12 };
      },
    });
    await waitFor(() => expect(screen.getByText(/This is your own vocabulary/)).toBeTruthy());
    await fireEvent.click(screen.getByRole('button', { name: 'Reset to default' }));
    await waitFor(() =>
      expect(
        screen.getByText('Back to the default vocabulary. Re-tagged 12 photos from stored embeddings.'),
      ).toBeTruthy(),
    );
    await waitFor(() =>
      expect(calls.map((c) => c.channel)).toEqual(['tags.vocabulary', 'tags.resetVocabulary', 'tags.vocabulary']),
    );
    expect(screen.getByText(/This is the default vocabulary/)).toBeTruthy();
  });

  it('shows errors in place: a draft to fix first, and the app refusing it', async () => {
    const { calls } = setup({
      'tags.setVocabulary': () => {
        throw Object.assign(new Error('the vocabulary: label "x" appears twice'), { code: 'vocabulary-invalid' });
      },
    });
    await waitFor(() => expect(labelNames()).toHaveLength(3));
    await fireEvent.input(screen.getAllByLabelText('Label')[1]!, { target: { value: 'Dog' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByRole('alert').textContent).toContain('The label “Dog” appears twice.');
    expect(calls.some((c) => c.channel === 'tags.setVocabulary')).toBe(false);
    await fireEvent.input(screen.getAllByLabelText('Label')[1]!, { target: { value: 'puppy' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('appears twice'));
    expect(screen.getByRole('alert').textContent).toContain('label "x"');
    await fireEvent.click(within(screen.getByRole('alert')).getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('a failed load says why and offers to try again', async () => {
    setup({
      'tags.vocabulary': () => {
        throw Object.assign(new Error('the engine stopped'), { code: 'engine-stopped' });
      },
    });
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('the engine stopped'));
    expect(screen.getByRole('button', { name: 'Try again' })).toBeTruthy();
  });

  it('the draft round-trips, and empty prompts are caught', () => {
    expect(fromDraft(toDraft(vocabulary()))).toEqual({
      edit: { categories: vocabulary().categories, neutral: vocabulary().neutral },
    });
    const d = toDraft(vocabulary());
    d.categories[1]!.labels[0]!.prompts = '  \n ';
    expect(fromDraft(d)).toEqual({ problem: 'The label “beach” needs at least one prompt.' });
  });
});

describe('in the library view', () => {
  it('is the third tab, next to Photos and Duplicates', async () => {
    const settings: SettingsView = { ...SETTINGS };
    render(LibraryView, {
      api: fakeGlance({
        'library.folders': [{ id: 1, path: '/p', photos: 0 }],
        'library.search': [],
        'settings.get': settings,
        'tags.vocabulary': vocabulary(),
      }).api,
      gridSize: { width: 800, height: 600 },
    });
    const tab = await screen.findByRole('button', { name: 'Vocabulary' });
    await fireEvent.click(tab);
    expect(tab.getAttribute('aria-pressed')).toBe('true');
    await waitFor(() => expect(labelNames()).toEqual(['dog', 'cat', 'beach']));
  });
});
