// The app deletes a conversation whose first turn fails (nothing is left behind): the chat view then takes the
// message back and sends it again in a new conversation, never to the one that is gone.
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, expect, it } from 'vitest';
import type { ConversationView, MessageView } from '../../electron/ipc/contract.ts';
import ChatView from '../../renderer/src/views/ChatView.svelte';
import { fakeGlance } from './fake-glance.ts';

afterEach(() => cleanup());

const conversation = (id: number, messages: MessageView[] = []): ConversationView => ({
  id,
  title: '',
  systemPrompt: null,
  model: null,
  messages,
});
const apiError = (code: string, message: string) => Object.assign(new Error(message), { code });
const textbox = () => screen.getByRole('textbox', { name: 'Message' }) as HTMLTextAreaElement;

it('after a failed first turn, Try again sends the message in a new conversation', async () => {
  let created = 0;
  const sentTo: number[] = [];
  const f = fakeGlance({
    'chat.list': [],
    'models.list': [],
    'chat.create': () => conversation(++created),
    'chat.send': (a: { conversationId: number }) => {
      sentTo.push(a.conversationId);
      if (sentTo.length === 1)
        throw apiError('busy', 'the model is busy with 4 requests waiting: try again in a moment');
      return {
        id: 2,
        role: 'assistant',
        text: 'Here now.',
        images: [],
        stats: null,
        createdAt: 1,
      } satisfies MessageView;
    },
    // the first conversation was deleted with its failed turn
    'chat.get': (a: { conversationId: number }) => {
      if (a.conversationId === 1) throw apiError('not-found', 'there is no conversation 1');
      return conversation(a.conversationId, [
        { id: 1, role: 'user', text: 'Hello?', images: [], stats: null, createdAt: 0 },
        { id: 2, role: 'assistant', text: 'Here now.', images: [], stats: null, createdAt: 1 },
      ]);
    },
  });
  render(ChatView, { props: { api: f.api } });
  await fireEvent.input(textbox(), { target: { value: 'Hello?' } });
  await fireEvent.keyDown(textbox(), { key: 'Enter' });
  await screen.findByRole('alert');
  await waitFor(() => expect(textbox().value).toBe('Hello?'));
  await fireEvent.click(await screen.findByRole('button', { name: 'Try again' }));
  await screen.findByText('Here now.');
  expect(sentTo).toEqual([1, 2]);
  expect(created).toBe(2);
});
