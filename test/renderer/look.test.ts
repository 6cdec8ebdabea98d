// The "Look" view against a fake window.glance: an image dropped, pasted or picked goes as bytes; its tags with
// margins; label probabilities drawn top first with the engine's numbers; labels remembered; a caption; short
// answers with errors in place.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChannelArg, LookView } from '../../electron/ipc/contract.ts';
import App from '../../renderer/src/App.svelte';
import { byProbability, LOOK_LABELS_KEY } from '../../renderer/src/state/look.svelte.ts';
import LookView_ from '../../renderer/src/views/LookView.svelte';
import { fakeGlance, SETTINGS } from './fake-glance.ts';

beforeEach(() => localStorage.clear());
afterEach(() => cleanup());

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
const file = (name = 'cat.png', bytes = png) => new File([bytes], name, { type: 'image/png' });

/** The engine's answer: the labels in the order asked, with probabilities that favour the second. */
const classify = (a: ChannelArg<'look.classify'>): LookView => {
  const weights = a.labels.map((_, i) => (i === 1 ? 6 : i + 1));
  const sum = weights.reduce((x, y) => x + y, 0);
  return {
    tags: [
      { name: 'cat', score: 0.262, margin: 0.012 },
      { name: 'indoor', score: 0.24, margin: 0.004 },
    ],
    labels: a.labels.map((label, i) => ({ label, probability: weights[i]! / sum })),
  };
};
const classifyCalls = (f: ReturnType<typeof fakeGlance>) =>
  f.calls.filter((c) => c.channel === 'look.classify').map((c) => c.arg as ChannelArg<'look.classify'>);

async function addLabels(text: string) {
  await fireEvent.input(screen.getByRole('textbox', { name: 'Add labels' }), { target: { value: text } });
  await fireEvent.click(screen.getByRole('button', { name: 'Add' }));
}

describe('Look', () => {
  it('classifies a dropped image: tags with margins, the labels’ probabilities top first, as the engine gave them', async () => {
    const f = fakeGlance({ 'look.classify': classify });
    render(LookView_, { api: f.api });
    await addLabels('a dog, a cat,  a car ');
    expect(
      within(screen.getByRole('list', { name: 'Your labels' }))
        .getAllByRole('listitem')
        .map((l) => l.textContent?.replace('×', '').trim()),
    ).toEqual(['a dog', 'a cat', 'a car']);
    // nothing to classify before an image
    expect(classifyCalls(f)).toEqual([]);

    const drop = screen.getByRole('button', { name: 'Choose an image' });
    await fireEvent.drop(drop, { dataTransfer: { types: ['Files'], files: [file()] } });
    const chart = await screen.findByRole('list', { name: 'Label probabilities, most probable first' });
    const [arg] = classifyCalls(f);
    expect(arg!.labels).toEqual(['a dog', 'a cat', 'a car']);
    expect(Object.keys(arg!.image)).toEqual(['bytes']);
    expect([...arg!.image.bytes]).toEqual([...png]);

    // weights 1, 6, 3 of 10: the cat first, then the car, then the dog
    const rows = within(chart)
      .getAllByRole('listitem')
      .map((li) => li.textContent!.replace(/\s+/g, ' ').trim());
    expect(rows).toEqual(['a cat 60.0%', 'a car 30.0%', 'a dog 10.0%']);
    const tags = screen.getByRole('list', { name: 'Tags with their margins over the threshold' });
    expect(
      within(tags)
        .getAllByRole('listitem')
        .map((li) => li.textContent!.replace(/\s+/g, ' ').trim()),
    ).toEqual(['cat +0.012', 'indoor +0.004']);
    expect(screen.getByRole('button', { name: 'Image: cat.png. Choose another image' })).toBeTruthy();
  });

  it('remembers the labels for the next visit; removing one asks again', async () => {
    const f = fakeGlance({ 'look.classify': classify });
    const first = render(LookView_, { api: f.api });
    await addLabels('beach, mountain');
    expect(JSON.parse(localStorage.getItem(LOOK_LABELS_KEY)!)).toEqual(['beach', 'mountain']);
    first.unmount();

    render(LookView_, { api: f.api });
    const labels = screen.getByRole('list', { name: 'Your labels' });
    expect(within(labels).getAllByRole('listitem')).toHaveLength(2);
    // a pasted image is looked at like a dropped one
    await fireEvent.paste(screen.getByRole('heading', { name: 'Look' }), {
      clipboardData: { files: [file('Pasted.png')], items: [], types: ['Files'] },
    });
    await screen.findByRole('list', { name: 'Label probabilities, most probable first' });
    expect(classifyCalls(f).at(-1)!.labels).toEqual(['beach', 'mountain']);

    await fireEvent.click(screen.getByRole('button', { name: 'Remove label mountain' }));
    // one label is nothing to choose between: the tags only
    await waitFor(() => expect(classifyCalls(f).at(-1)!.labels).toEqual([]));
    await waitFor(() =>
      expect(screen.queryByRole('list', { name: 'Label probabilities, most probable first' })).toBeNull(),
    );
    expect(screen.getByText('Add one more label to compare.')).toBeTruthy();
    expect(JSON.parse(localStorage.getItem(LOOK_LABELS_KEY)!)).toEqual(['beach']);
  });

  it('describes the image and answers short questions, each error in place', async () => {
    const f = fakeGlance({
      'look.classify': classify,
      'look.caption': { text: 'A cat asleep on a red sofa.' },
      'ask.short': (a) => {
        if (a.question.startsWith('How many'))
          throw Object.assign(new Error('no chat model'), { code: 'no-chat-model' });
        return { answer: 'yes', kind: 'yes-no' };
      },
    });
    const { container } = render(LookView_, { api: f.api });
    const input = container.querySelector('input[type=file]') as HTMLInputElement;
    await fireEvent.change(input, { target: { files: [file('sofa.png')] } });

    await fireEvent.click(await screen.findByRole('button', { name: 'Describe this image' }));
    await screen.findByText('A cat asleep on a red sofa.');
    const captionArg = f.calls.find((c) => c.channel === 'look.caption')!.arg as ChannelArg<'look.caption'>;
    expect([...(captionArg.image as { bytes: Uint8Array }).bytes]).toEqual([...png]);

    const box = screen.getByRole('textbox', { name: 'Question about the image' });
    await fireEvent.input(box, { target: { value: 'Is there a cat?' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Ask' }));
    await fireEvent.input(box, { target: { value: 'How many cats?' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Ask' }));
    await waitFor(() => expect(screen.getByText(/Download one in Models/)).toBeTruthy());
    const answers = screen
      .getAllByRole('listitem')
      .filter((li) => li.closest('ol.answers'))
      .map((li) => li.textContent!.replace(/\s+/g, ' ').trim());
    expect(answers[0]).toBe('Is there a cat? yes');
    expect(answers[1]).toMatch(/^How many cats\? No chat model is installed/);
    const asked = f.calls
      .filter((c) => c.channel === 'ask.short')
      .map((c) => (c.arg as ChannelArg<'ask.short'>).question);
    expect(asked).toEqual(['Is there a cat?', 'How many cats?']);
  });

  it('refuses what is not an image, saying so', async () => {
    const f = fakeGlance({ 'look.classify': classify });
    render(LookView_, { api: f.api });
    await fireEvent.drop(screen.getByRole('button', { name: 'Choose an image' }), {
      dataTransfer: { types: ['Files'], files: [new File(['hello'], 'notes.txt', { type: 'text/plain' })] },
    });
    expect((await screen.findByRole('alert')).textContent).toMatch(/not an image/);
    expect(classifyCalls(f)).toEqual([]);
  });

  it('orders ties by the engine’s order', () => {
    expect(
      byProbability([
        { label: 'a', probability: 0.25 },
        { label: 'b', probability: 0.5 },
        { label: 'c', probability: 0.25 },
      ]).map((l) => l.label),
    ).toEqual(['b', 'a', 'c']);
  });

  it('is a view of its own in the navigation', async () => {
    const f = fakeGlance({
      'engine.status': { state: 'ready', restarts: 0 },
      'library.folders': [],
      'models.list': [],
      'settings.get': { ...SETTINGS, dataFolder: '/d' },
      'chat.list': [],
    });
    render(App, { api: f.api });
    const nav = screen.getByRole('navigation', { name: 'Glance' });
    await fireEvent.click(within(nav).getByRole('button', { name: 'Look' }));
    const heading = await screen.findByRole('heading', { name: 'Look', level: 2 });
    expect(document.activeElement).toBe(heading);
    expect(within(nav).getByRole('button', { name: 'Look' }).getAttribute('aria-current')).toBe('page');
  });
});
