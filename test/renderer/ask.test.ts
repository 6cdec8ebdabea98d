// The ask window against a fake window.glance: the crop, the question box focused, the answer streaming in from
// chat.token events, the model chosen (readsText first), Continue in chat, errors in place.
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, expect, it } from 'vitest';
import type { AskContextView, MessageView } from '../../electron/ipc/contract.ts';
import { orderModels } from '../../renderer/src/state/ask.svelte.ts';
import AskWindow from '../../renderer/src/views/AskWindow.svelte';
import { fakeGlance } from './fake-glance.ts';

afterEach(() => cleanup());

const context: AskContextView = {
  imageUrl: 'glance://capture/7',
  width: 400,
  height: 300,
  models: [
    { id: 'llava-small', name: 'LLaVA small', readsText: false },
    { id: 'qwen-vl', name: 'Qwen VL', readsText: true },
  ],
  model: 'qwen-vl',
  conversationId: null,
};

const answer = (text: string): MessageView => ({
  id: 2,
  role: 'assistant',
  text,
  images: [],
  stats: null,
  createdAt: 1_700_000_000_000,
});

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

it('orders the models that read text first', () => {
  expect(orderModels(context.models).map((m) => m.id)).toEqual(['qwen-vl', 'llava-small']);
});

it('shows the crop with the cursor in the question box, and streams the answer', async () => {
  const reply = deferred<MessageView>();
  const fake = fakeGlance({ 'ask.context': context, 'ask.send': () => reply.promise });
  render(AskWindow, { api: fake.api });
  const img = await screen.findByRole('img');
  expect(img.getAttribute('src')).toBe('glance://capture/7');
  const box = screen.getByLabelText('Question about the capture');
  await waitFor(() => expect(document.activeElement).toBe(box));
  const select = (await screen.findByLabelText('Model')) as HTMLSelectElement;
  expect([...select.options].map((o) => o.value)).toEqual(['qwen-vl', 'llava-small']);
  expect(select.value).toBe('qwen-vl');

  await fireEvent.input(box, { target: { value: 'What does it say?' } });
  await fireEvent.keyDown(box, { key: 'Enter' });
  await waitFor(() => expect(fake.calls.some((c) => c.channel === 'ask.send')).toBe(true));
  expect(fake.calls.find((c) => c.channel === 'ask.send')?.arg).toEqual({
    text: 'What does it say?',
    model: 'qwen-vl',
  });
  fake.emit('chat.token', { conversationId: 5, token: 'It says ', count: 1 });
  fake.emit('chat.token', { conversationId: 9, token: 'NOT THIS', count: 1 });
  fake.emit('chat.token', { conversationId: 5, token: '**hello**', count: 1 });
  await waitFor(() => expect(document.querySelector('.answer strong')?.textContent).toBe('hello'));
  expect(document.querySelector('.answer')?.textContent?.trim()).toBe('It says hello');
  reply.resolve(answer('It says **hello**.'));
  await waitFor(() => expect(screen.getByText(/Answered by Qwen VL/)).toBeTruthy());
  expect(document.querySelector('.answer')?.textContent?.trim()).toBe('It says hello.');
});

it('sends the model chosen, and continues in chat', async () => {
  const fake = fakeGlance({
    'ask.context': context,
    'ask.send': answer('A cat.'),
    'ask.continueInChat': { conversationId: 5 },
  });
  render(AskWindow, { api: fake.api });
  const select = (await screen.findByLabelText('Model')) as HTMLSelectElement;
  await fireEvent.change(select, { target: { value: 'llava-small' } });
  const box = screen.getByLabelText('Question about the capture');
  await fireEvent.input(box, { target: { value: 'What is this?' } });
  await fireEvent.click(screen.getByRole('button', { name: 'Ask' }));
  await waitFor(() => expect(screen.getByText(/Answered by LLaVA small/)).toBeTruthy());
  expect(fake.calls.find((c) => c.channel === 'ask.send')?.arg).toEqual({
    text: 'What is this?',
    model: 'llava-small',
  });
  await fireEvent.click(screen.getByRole('button', { name: 'Continue in chat' }));
  await waitFor(() => expect(fake.calls.some((c) => c.channel === 'ask.continueInChat')).toBe(true));
});

it('shows errors in place and keeps the question', async () => {
  const fake = fakeGlance({
    'ask.context': { ...context, models: [], model: null },
    'ask.send': () => {
      throw Object.assign(new Error('No chat model.'), { code: 'no-chat-model' });
    },
  });
  render(AskWindow, { api: fake.api });
  await screen.findByText(/No chat model installed/);
  const box = screen.getByLabelText('Question about the capture') as HTMLTextAreaElement;
  await fireEvent.input(box, { target: { value: 'Hi?' } });
  await fireEvent.keyDown(box, { key: 'Enter' });
  expect((await screen.findByRole('alert')).textContent).toContain('Download a chat model in Models');
  expect(fake.calls.find((c) => c.channel === 'ask.send')?.arg).toEqual({ text: 'Hi?' });
  await waitFor(() => expect(box.value).toBe('Hi?'));
});

it('says so when the context cannot be had', async () => {
  const fake = fakeGlance({});
  render(AskWindow, { api: fake.api });
  expect((await screen.findByRole('alert')).textContent).toContain('not faked');
});
