// "Ask each" in the library view against a fake window.glance: one ask.short call at a time, the answer column
// filling as each returns, an error in its own row, Stop, unticked photos left out, and yes/no answers kept as tags.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelArg, SettingsView, ShortAnswerView } from '../../electron/ipc/contract.ts';
import { tagNameFor } from '../../renderer/src/state/ask-each.svelte.ts';
import LibraryView from '../../renderer/src/views/LibraryView.svelte';
import { fakeGlance, photoHit as hit, SETTINGS } from './fake-glance.ts';

afterEach(() => cleanup());

const settings: SettingsView = { ...SETTINGS };

/** ask.short calls that answer only when the test says so, in the order they were made. */
function heldAnswers() {
  const pending: { arg: ChannelArg<'ask.short'>; answer: (a: ShortAnswerView) => void; fail: (e: Error) => void }[] =
    [];
  const handler = (arg: ChannelArg<'ask.short'>) =>
    new Promise<ShortAnswerView>((answer, fail) => {
      pending.push({ arg, answer, fail });
    });
  return { pending, handler };
}

async function openAskEach(answers: Parameters<typeof fakeGlance>[0]) {
  const f = fakeGlance({
    'library.folders': [{ id: 1, path: '/home/ana/Pictures', photos: 3 }],
    'settings.get': settings,
    'library.search': [hit(1), hit(2), hit(3)],
    'captions.status': null,
    ...answers,
  });
  render(LibraryView, { api: f.api });
  await screen.findByRole('button', { name: 'IMG_1.jpg' });
  await fireEvent.click(screen.getByRole('button', { name: 'Ask each' }));
  const section = await screen.findByRole('region', { name: 'Ask each photo' });
  const ui = within(section);
  const answerOf = (name: string) => {
    const row = ui.getByRole('rowheader', { name }).closest('tr')!;
    return row.querySelector('td.answer')!.textContent!.replace(/\s+/g, ' ').trim();
  };
  return { f, ui, answerOf };
}

async function ask(ui: ReturnType<typeof within>, question: string) {
  await fireEvent.input(ui.getByRole('textbox', { name: 'Question' }), { target: { value: question } });
  await fireEvent.click(ui.getByRole('button', { name: 'Ask each' }));
}

describe('Ask each', () => {
  it('asks one photo at a time; each answer fills its row as it returns, an error stays in its row', async () => {
    const held = heldAnswers();
    const { ui, answerOf } = await openAskEach({ 'ask.short': held.handler });
    expect(ui.getAllByRole('row')).toHaveLength(4); // the header and the three photos of the search result

    await ask(ui, 'Is this a receipt?');
    await waitFor(() => expect(held.pending).toHaveLength(1));
    expect(held.pending[0]!.arg).toEqual({ image: { photoId: 1 }, question: 'Is this a receipt?' });
    expect([answerOf('IMG_1.jpg'), answerOf('IMG_2.jpg'), answerOf('IMG_3.jpg')]).toEqual([
      'Asking…',
      'Waiting',
      'Waiting',
    ]);

    held.pending[0]!.answer({ answer: 'yes', kind: 'yes-no' });
    await waitFor(() => expect(answerOf('IMG_1.jpg')).toBe('yes'));
    // only then the next photo is asked: never two calls at once
    await waitFor(() => expect(held.pending).toHaveLength(2));
    expect(held.pending[1]!.arg.image).toEqual({ photoId: 2 });
    expect(answerOf('IMG_2.jpg')).toBe('Asking…');

    held.pending[1]!.fail(
      Object.assign(new Error('the image could not be read: not a JPEG file'), { code: 'image-decode' }),
    );
    await waitFor(() => expect(answerOf('IMG_2.jpg')).toBe('the image could not be read: not a JPEG file'));
    await waitFor(() => expect(held.pending).toHaveLength(3));
    held.pending[2]!.answer({ answer: 'no', kind: 'yes-no' });
    await waitFor(() => expect(answerOf('IMG_3.jpg')).toBe('no'));

    expect(ui.getAllByRole('status')[0]!.textContent).toBe('2 of 3 answered · 1 failed');
    expect(ui.getByRole('textbox', { name: 'Question' })).toHaveProperty('disabled', false);
  });

  it('Stop ends the run after the answer being written; unticked photos are not asked', async () => {
    const held = heldAnswers();
    const { ui, answerOf } = await openAskEach({ 'ask.short': held.handler });
    await fireEvent.click(ui.getByRole('checkbox', { name: 'Ask IMG_2.jpg' }));
    await ask(ui, 'How many people are there?');
    await waitFor(() => expect(held.pending).toHaveLength(1));
    await fireEvent.click(ui.getByRole('button', { name: 'Stop' }));
    held.pending[0]!.answer({ answer: '3', kind: 'number' });
    await waitFor(() => expect(answerOf('IMG_1.jpg')).toBe('3'));
    await waitFor(() => expect(answerOf('IMG_3.jpg')).toBe('Not asked'));
    expect(answerOf('IMG_2.jpg')).toBe('Not asked');
    expect(held.pending).toHaveLength(1);
    // numbers are not yes/no: nothing to keep as tags
    expect(ui.queryByRole('form', { name: 'Keep the answers as tags' })).toBeNull();

    // asked again with IMG_2 unticked: IMG_1 and IMG_3 only
    await fireEvent.click(ui.getByRole('button', { name: 'Ask each' }));
    await waitFor(() => expect(held.pending).toHaveLength(2));
    held.pending[1]!.answer({ answer: '1', kind: 'number' });
    await waitFor(() => expect(held.pending).toHaveLength(3));
    held.pending[2]!.answer({ answer: '0', kind: 'number' });
    await waitFor(() => expect(answerOf('IMG_3.jpg')).toBe('0'));
    expect(held.pending.map((p) => p.arg.image)).toEqual([{ photoId: 1 }, { photoId: 1 }, { photoId: 3 }]);
  });

  it('keeps yes/no answers as tags through tags.add', async () => {
    const answers: Record<number, string> = { 1: 'yes', 2: 'no', 3: 'yes' };
    const { f, ui, answerOf } = await openAskEach({
      'ask.short': (a) => ({ answer: answers['photoId' in a.image ? a.image.photoId : 0]!, kind: 'yes-no' }),
      'tags.add': (a) => {
        if (a.photoId === 3) throw Object.assign(new Error('no photo with id 3 in the library'), { code: 'x' });
        return null;
      },
    });
    await ask(ui, 'Is this a receipt?');
    await waitFor(() => expect(answerOf('IMG_3.jpg')).toBe('yes'));
    const keep = ui.getByRole('form', { name: 'Keep the answers as tags' });
    const name = within(keep).getByRole('textbox', { name: 'Keep as tag' }) as HTMLInputElement;
    expect(name.value).toBe('receipt');

    await fireEvent.click(within(keep).getByRole('button', { name: 'Tag the “yes” photos' }));
    await waitFor(() => expect(ui.getByText('Tagged 1 photo; 1 could not be tagged (see the rows).')).toBeTruthy());
    const adds = f.calls.filter((c) => c.channel === 'tags.add').map((c) => c.arg);
    expect(adds).toEqual([
      { photoId: 1, tag: 'receipt: yes' },
      { photoId: 3, tag: 'receipt: yes' },
    ]);
    expect(answerOf('IMG_1.jpg')).toBe('yes · tagged “receipt: yes”');
    expect(answerOf('IMG_3.jpg')).toBe('yes · not tagged: no photo with id 3 in the library');

    await fireEvent.input(name, { target: { value: 'paper' } });
    await fireEvent.click(within(keep).getByRole('button', { name: 'Tag every answer' }));
    await waitFor(() => expect(f.calls.filter((c) => c.channel === 'tags.add')).toHaveLength(5));
    expect(
      f.calls
        .filter((c) => c.channel === 'tags.add')
        .map((c) => c.arg)
        .slice(2),
    ).toEqual([
      { photoId: 1, tag: 'paper: yes' },
      { photoId: 2, tag: 'paper: no' },
      { photoId: 3, tag: 'paper: yes' },
    ]);
  });

  it('proposes a tag name from the question', () => {
    expect(tagNameFor('Is this a receipt?')).toBe('receipt');
    expect(tagNameFor('Does the photo show a red car?')).toBe('red car');
    expect(tagNameFor('Are there people in it?')).toBe('people');
  });
});
