// The chat view against a fake window.glance: streaming, stop, regenerate, edit, attachments, errors, Markdown.
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelArg, ConversationView, MessageView, ModelView } from '../../electron/ipc/contract.ts';
import { ChatState, helpFor } from '../../renderer/src/state/chat.svelte.ts';
import ChatView from '../../renderer/src/views/ChatView.svelte';
import { fakeGlance } from './fake-glance.ts';

afterEach(() => cleanup());

const msg = (id: number, role: MessageView['role'], text: string, extra: Partial<MessageView> = {}): MessageView => ({
  id,
  role,
  text,
  images: [],
  stats: null,
  createdAt: 1_700_000_000_000 + id,
  ...extra,
});

const conversation = (id: number, messages: MessageView[] = [], title = 'A chat'): ConversationView => ({
  id,
  title,
  systemPrompt: null,
  model: null,
  messages,
});

const models: ModelView[] = [
  {
    id: 'llava-small',
    kind: 'chat',
    name: 'LLaVA small',
    goodAt: '',
    licence: '',
    size: 1,
    installed: true,
    readsText: false,
    languages: [],
  },
  {
    id: 'llava-big',
    kind: 'chat',
    name: 'LLaVA big',
    goodAt: '',
    licence: '',
    size: 1,
    installed: false,
    readsText: false,
    languages: [],
  },
  {
    id: 'clip-b32',
    kind: 'clip',
    name: 'CLIP',
    goodAt: '',
    licence: '',
    size: 1,
    installed: true,
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

const apiError = (code: string, message: string) => Object.assign(new Error(message), { code });

const callsTo = (f: ReturnType<typeof fakeGlance>, channel: string) =>
  f.calls.filter((c) => c.channel === channel).map((c) => c.arg);

const textbox = () => screen.getByRole('textbox', { name: 'Message' });

async function type(text: string) {
  await fireEvent.input(textbox(), { target: { value: text } });
}

/** Opens the conversation named `title` from the list. */
async function openConversation(title: string) {
  await fireEvent.click(await screen.findByRole('button', { name: new RegExp(`^${title}`) }));
}

describe('ChatView', () => {
  it('streams tokens into a live bubble, then shows the stored message in its place', async () => {
    const send = deferred<MessageView>();
    const stored = conversation(1, [msg(10, 'user', 'What is in the picture?'), msg(11, 'assistant', 'A **cat**.')]);
    const f = fakeGlance({
      'chat.list': [],
      'models.list': models,
      'chat.create': conversation(1, [], ''),
      'chat.send': () => send.promise,
      'chat.get': stored,
    });
    render(ChatView, { props: { api: f.api } });

    await type('What is in the picture?');
    await fireEvent.keyDown(textbox(), { key: 'Enter' });
    await waitFor(() => expect(callsTo(f, 'chat.send')).toHaveLength(1));
    expect(callsTo(f, 'chat.send')[0]).toEqual({ conversationId: 1, text: 'What is in the picture?' });

    // The question shows at once, the composer is empty, Stop replaces Send.
    const log = screen.getByRole('log', { name: 'Messages' });
    expect(log.getAttribute('aria-live')).toBe('polite');
    expect(within(log).getByText('What is in the picture?')).toBeTruthy();
    expect((textbox() as HTMLTextAreaElement).value).toBe('');
    expect(screen.getByRole('button', { name: 'Stop' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Send' })).toBeNull();

    f.emit('chat.token', { conversationId: 1, token: 'A ', count: 1 });
    const live = await screen.findByRole('article', { name: 'Assistant, writing' });
    await waitFor(() => expect(live.textContent).toContain('A'));
    f.emit('chat.token', { conversationId: 1, token: '**ca', count: 1 });
    f.emit('chat.token', { conversationId: 999, token: 'NOT OURS', count: 1 });
    await waitFor(() => expect(live.textContent).toContain('**ca'));
    f.emit('chat.token', { conversationId: 1, token: 't**', count: 1 });
    await waitFor(() => expect(live.querySelector('strong')?.textContent).toBe('cat'));
    expect(log.textContent).not.toContain('NOT OURS');
    expect(log.getAttribute('aria-busy')).toBe('true');
    // Nothing in the log takes focus while it streams (no Edit buttons): the log itself does, so that the keyboard
    // can scroll it.
    expect(within(log).queryAllByRole('button')).toEqual([]);
    log.focus();
    expect(document.activeElement).toBe(log);

    send.resolve(
      msg(11, 'assistant', 'A **cat**.', {
        stats: { promptTokens: 9, generatedTokens: 4, tokensPerSecond: 20, timeToFirstTokenMs: 50 },
      }),
    );
    await waitFor(() => expect(screen.queryByRole('article', { name: 'Assistant, writing' })).toBeNull());
    const answers = within(log).getAllByRole('article', { name: 'Assistant' });
    expect(answers).toHaveLength(1);
    expect(answers[0]!.querySelector('strong')?.textContent).toBe('cat');
    expect(answers[0]!.textContent).toContain('A cat.');
    expect(log.getAttribute('aria-busy')).toBe('false');
    expect(screen.getByRole('button', { name: 'Send' })).toBeTruthy();
    // The stored question (with its real id) comes from the app: it can be edited now.
    await waitFor(() => expect(screen.getByRole('button', { name: 'Edit this message' })).toBeTruthy());
  });

  it('Stop calls chat.stop for the conversation being answered', async () => {
    const send = deferred<MessageView>();
    const f = fakeGlance({
      'chat.list': [],
      'models.list': [],
      'chat.create': conversation(7, [], ''),
      'chat.send': () => send.promise,
      'chat.stop': () => {
        send.resolve(
          msg(2, 'assistant', 'Partial', {
            stats: { promptTokens: 1, generatedTokens: 1, tokensPerSecond: 1, timeToFirstTokenMs: 1, stopped: true },
          }),
        );
        return true;
      },
    });
    render(ChatView, { props: { api: f.api } });
    await type('Describe it');
    await fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    f.emit('chat.token', { conversationId: 7, token: 'Partial', count: 1 });
    await fireEvent.click(await screen.findByRole('button', { name: 'Stop' }));
    expect(callsTo(f, 'chat.stop')).toEqual([{ conversationId: 7 }]);
    await waitFor(() => expect(screen.getByText('stopped')).toBeTruthy());
    expect(screen.queryByRole('button', { name: 'Stop' })).toBeNull();
  });

  it('Regenerate calls chat.regenerate with the conversation and the chosen model', async () => {
    const regen = deferred<MessageView>();
    const c = conversation(5, [msg(1, 'user', 'Hi'), msg(2, 'assistant', 'First answer')], 'Greeting');
    const f = fakeGlance({
      'chat.list': [{ id: 5, title: 'Greeting', updatedAt: Date.now(), messages: 2 }],
      'models.list': models,
      'chat.get': c,
      'chat.regenerate': () => regen.promise,
    });
    render(ChatView, { props: { api: f.api } });
    await openConversation('Greeting');
    await screen.findByText('First answer');

    // Only installed chat models are offered.
    const select = screen.getByLabelText('Model') as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(['Default (Settings)', 'LLaVA small']);
    await fireEvent.change(select, { target: { value: 'llava-small' } });

    await fireEvent.click(screen.getByRole('button', { name: 'Regenerate' }));
    expect(callsTo(f, 'chat.regenerate')).toEqual([{ conversationId: 5, model: 'llava-small' }]);
    // The old answer makes way for the new one.
    await waitFor(() => expect(screen.queryByText('First answer')).toBeNull());
    f.emit('chat.token', { conversationId: 5, token: 'Second', count: 1 });
    await screen.findByText('Second');
    regen.resolve(msg(3, 'assistant', 'Second answer'));
    await screen.findByText('Second answer');
  });

  it('Edit on a question calls chat.edit with its id and the new text', async () => {
    const c = conversation(
      3,
      [
        msg(1, 'user', 'Old question'),
        msg(2, 'assistant', 'Old answer'),
        msg(3, 'user', 'Later'),
        msg(4, 'assistant', 'x'),
      ],
      'Editable',
    );
    const f = fakeGlance({
      'chat.list': [{ id: 3, title: 'Editable', updatedAt: Date.now(), messages: 4 }],
      'models.list': [],
      'chat.get': c,
      'chat.edit': (a: ChannelArg<'chat.edit'>) => msg(5, 'assistant', `Answer to ${a.text}`),
    });
    render(ChatView, { props: { api: f.api } });
    await openConversation('Editable');
    await screen.findByText('Old question');

    const edits = screen.getAllByRole('button', { name: 'Edit this message' });
    expect(edits).toHaveLength(2);
    await fireEvent.click(edits[0]!);
    const box = screen.getByRole('textbox', { name: 'Edit your message' }) as HTMLTextAreaElement;
    expect(box.value).toBe('Old question');
    await fireEvent.input(box, { target: { value: 'New question' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save and resend' }));

    expect(callsTo(f, 'chat.edit')).toEqual([{ conversationId: 3, messageId: 1, text: 'New question' }]);
    await screen.findByText('Answer to New question');
    // Everything after the edited question is gone.
    expect(screen.queryByText('Old answer')).toBeNull();
    expect(screen.queryByText('Later')).toBeNull();
    expect(screen.getByText('New question')).toBeTruthy();
  });

  it('Escape cancels an edit without calling anything', async () => {
    const f = fakeGlance({
      'chat.list': [{ id: 3, title: 'Editable', updatedAt: Date.now(), messages: 2 }],
      'models.list': [],
      'chat.get': conversation(3, [msg(1, 'user', 'Question'), msg(2, 'assistant', 'Answer')], 'Editable'),
    });
    render(ChatView, { props: { api: f.api } });
    await openConversation('Editable');
    await fireEvent.click(await screen.findByRole('button', { name: 'Edit this message' }));
    await fireEvent.keyDown(screen.getByRole('textbox', { name: 'Edit your message' }), { key: 'Escape' });
    expect(screen.queryByRole('textbox', { name: 'Edit your message' })).toBeNull();
    expect(callsTo(f, 'chat.edit')).toEqual([]);
  });

  it('attaching a file sends its bytes', async () => {
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5]);
    const f = fakeGlance({
      'chat.list': [],
      'models.list': [],
      'chat.create': conversation(2, [], ''),
      'chat.send': msg(9, 'assistant', 'A tiny PNG.'),
    });
    const { container } = render(ChatView, { props: { api: f.api } });
    const input = container.querySelector('input[type=file]') as HTMLInputElement;
    expect(input.accept).toBe('image/*');
    expect(screen.getByRole('button', { name: 'Attach images' })).toBeTruthy();

    await fireEvent.change(input, { target: { files: [new File([bytes], 'cat.png', { type: 'image/png' })] } });
    const chips = await screen.findByRole('list', { name: 'Images to send' });
    expect(within(chips).getByText('cat.png')).toBeTruthy();

    // An image alone can be sent; Enter sends.
    await fireEvent.keyDown(textbox(), { key: 'Enter' });
    await waitFor(() => expect(callsTo(f, 'chat.send')).toHaveLength(1));
    const arg = callsTo(f, 'chat.send')[0] as ChannelArg<'chat.send'>;
    expect(arg.conversationId).toBe(2);
    expect(arg.images).toHaveLength(1);
    const image = arg.images![0]!;
    expect('bytes' in image).toBe(true);
    const sent = (image as { bytes: Uint8Array }).bytes;
    expect(sent).toBeInstanceOf(Uint8Array);
    expect([...sent]).toEqual([...bytes]);
    expect(Object.keys(image)).toEqual(['bytes']);
    await screen.findByText('A tiny PNG.');
    expect(screen.queryByRole('list', { name: 'Images to send' })).toBeNull();
  });

  it('refuses files that are not images, and removes a pending chip', async () => {
    const f = fakeGlance({ 'chat.list': [], 'models.list': [] });
    const { container } = render(ChatView, { props: { api: f.api } });
    const input = container.querySelector('input[type=file]') as HTMLInputElement;
    await fireEvent.change(input, {
      target: {
        files: [
          new File(['hello'], 'notes.txt', { type: 'text/plain' }),
          new File([new Uint8Array([1])], 'a.jpg', { type: 'image/jpeg' }),
        ],
      },
    });
    await screen.findByText('a.jpg');
    expect(screen.queryByText('notes.txt')).toBeNull();
    expect(screen.getByRole('alert').textContent).toContain('Only images can be attached');
    await fireEvent.click(screen.getByRole('button', { name: 'Remove a.jpg' }));
    expect(screen.queryByText('a.jpg')).toBeNull();
    expect(screen.getByRole('button', { name: 'Send' }).hasAttribute('disabled')).toBe(true);
  });

  it('pasting an image adds a pending chip; pasting text does not', async () => {
    const f = fakeGlance({ 'chat.list': [], 'models.list': [] });
    render(ChatView, { props: { api: f.api } });
    const image = new File([new Uint8Array([1, 2, 3])], 'image.png', { type: 'image/png' });
    await fireEvent.paste(textbox(), { clipboardData: { files: [], items: [], types: ['text/plain'] } });
    expect(screen.queryByRole('list', { name: 'Images to send' })).toBeNull();
    await fireEvent.paste(textbox(), {
      clipboardData: {
        files: [],
        items: [{ kind: 'file', type: 'image/png', getAsFile: () => image }],
        types: ['Files'],
      },
    });
    const chips = await screen.findByRole('list', { name: 'Images to send' });
    expect(within(chips).getByText('image.png')).toBeTruthy();
    expect(within(chips).getByRole('button', { name: 'Remove image.png' })).toBeTruthy();
  });

  it('dropping an image onto the composer adds a pending chip', async () => {
    const f = fakeGlance({ 'chat.list': [], 'models.list': [] });
    render(ChatView, { props: { api: f.api } });
    const form = screen.getByRole('form', { name: 'Write a message' });
    const file = new File([new Uint8Array([7])], 'dropped.webp', { type: 'image/webp' });
    await fireEvent.dragOver(form, { dataTransfer: { types: ['Files'], files: [] } });
    expect(screen.getByText('Drop to attach')).toBeTruthy();
    await fireEvent.drop(form, { dataTransfer: { types: ['Files'], files: [file] } });
    await screen.findByText('dropped.webp');
  });

  it('Shift+Enter does not send', async () => {
    const f = fakeGlance({ 'chat.list': [], 'models.list': [] });
    render(ChatView, { props: { api: f.api } });
    await type('line one');
    await fireEvent.keyDown(textbox(), { key: 'Enter', shiftKey: true });
    expect(callsTo(f, 'chat.create')).toEqual([]);
    expect(callsTo(f, 'chat.send')).toEqual([]);
  });

  it('no-chat-model shows what to do in place, and gives the message back to the composer', async () => {
    const f = fakeGlance({
      'chat.list': [],
      'models.list': [],
      'chat.create': conversation(4, [], ''),
      'chat.send': () => {
        throw apiError('no-chat-model', 'no chat model is installed');
      },
      'chat.get': conversation(4, [], ''),
    });
    render(ChatView, { props: { api: f.api } });
    await type('Hello?');
    await fireEvent.keyDown(textbox(), { key: 'Enter' });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Download a chat model in Models');
    expect(alert.getAttribute('data-code')).toBe('no-chat-model');
    expect(screen.queryByRole('button', { name: 'Try again' })).toBeNull();
    await waitFor(() => expect((textbox() as HTMLTextAreaElement).value).toBe('Hello?'));
    expect(within(screen.getByRole('log')).queryByText('Hello?')).toBeNull();
  });

  it('busy offers Try again, which answers the stored question', async () => {
    let attempts = 0;
    // What the app keeps: the question was stored before the queue refused it.
    const stored = conversation(6, [msg(1, 'user', 'Busy?')]);
    const f = fakeGlance({
      'chat.list': [],
      'models.list': [],
      'chat.create': conversation(6, [], ''),
      'chat.send': () => {
        throw apiError('busy', 'the model is busy with 4 requests waiting: try again in a moment');
      },
      'chat.get': () => structuredClone(stored),
      'chat.regenerate': () => {
        attempts++;
        const answer = msg(2, 'assistant', 'Not busy now.');
        stored.messages.push(answer);
        return answer;
      },
    });
    render(ChatView, { props: { api: f.api } });
    await type('Busy?');
    await fireEvent.keyDown(textbox(), { key: 'Enter' });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Try again in a moment');
    await fireEvent.click(await screen.findByRole('button', { name: 'Try again' }));
    await screen.findByText('Not busy now.');
    expect(attempts).toBe(1);
    expect(callsTo(f, 'chat.regenerate')).toEqual([{ conversationId: 6 }]);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('an image error says the image could not be read', async () => {
    const f = fakeGlance({
      'chat.list': [],
      'models.list': [],
      'chat.create': conversation(8, [], ''),
      'chat.send': () => {
        throw apiError('image-decode', 'image 1: not an image Glance can read');
      },
    });
    const { container } = render(ChatView, { props: { api: f.api } });
    const input = container.querySelector('input[type=file]') as HTMLInputElement;
    await fireEvent.change(input, {
      target: { files: [new File([new Uint8Array([0])], 'broken.png', { type: 'image/png' })] },
    });
    await screen.findByText('broken.png');
    await fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The image could not be read');
    // The image waits in the composer again.
    await screen.findByText('broken.png');
  });

  it('renders answers as Markdown without <script> or onerror=', async () => {
    const hostile = [
      '**Bold** answer.',
      '',
      '<script>window.__pwned = true</script>',
      '',
      '<img src=x onerror="window.__pwned = true">',
      '',
      '[link](javascript:alert(1)) and [ok](https://example.com)',
    ].join('\n');
    const f = fakeGlance({
      'chat.list': [{ id: 9, title: 'Hostile', updatedAt: Date.now(), messages: 2 }],
      'models.list': [],
      'chat.get': conversation(9, [msg(1, 'user', '<b>not bold</b>'), msg(2, 'assistant', hostile)], 'Hostile'),
    });
    const { container } = render(ChatView, { props: { api: f.api } });
    await openConversation('Hostile');
    const answer = await screen.findByRole('article', { name: 'Assistant' });
    expect(answer.querySelector('strong')?.textContent).toBe('Bold');
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('[onerror]')).toBeNull();
    expect(answer.querySelector('img')).toBeNull();
    expect(answer.innerHTML).not.toMatch(/<script|onerror|javascript:/i);
    const links = [...answer.querySelectorAll('a')];
    expect(links.filter((a) => a.hasAttribute('href')).map((a) => a.getAttribute('href'))).toEqual([
      'https://example.com',
    ]);
    expect(links.find((a) => a.hasAttribute('href'))?.getAttribute('rel')).toBe('noreferrer noopener');
    expect((window as unknown as { __pwned?: boolean }).__pwned).toBeUndefined();
    // The person's own text is shown as text, never as HTML.
    const question = screen.getByRole('article', { name: 'You' });
    expect(question.textContent).toContain('<b>not bold</b>');
    expect(question.querySelector('b')).toBeNull();
  });

  it('shows message images from their attachment URLs', async () => {
    const f = fakeGlance({
      'chat.list': [{ id: 1, title: 'Pics', updatedAt: Date.now(), messages: 1 }],
      'models.list': [],
      'chat.get': conversation(
        1,
        [msg(1, 'user', 'Look', { images: [{ url: 'glance://attachment/abc123', width: 640, height: 480 }] })],
        'Pics',
      ),
    });
    render(ChatView, { props: { api: f.api } });
    await openConversation('Pics');
    const img = (await screen.findByAltText('Image 1 of 1')) as HTMLImageElement;
    expect(img.getAttribute('src')).toBe('glance://attachment/abc123');
  });

  it('New chat starts empty; delete asks first, then calls chat.delete', async () => {
    const f = fakeGlance({
      'chat.list': [{ id: 12, title: 'Old one', updatedAt: Date.now(), messages: 2 }],
      'models.list': [],
      'chat.get': conversation(12, [msg(1, 'user', 'Q'), msg(2, 'assistant', 'A')], 'Old one'),
      'chat.delete': null,
    });
    render(ChatView, { props: { api: f.api } });
    await openConversation('Old one');
    await screen.findByText('Q');
    expect(screen.getByRole('heading', { level: 3, name: 'Old one' })).toBeTruthy();

    await fireEvent.click(screen.getByRole('button', { name: 'Delete “Old one”' }));
    expect(callsTo(f, 'chat.delete')).toEqual([]);
    await fireEvent.click(
      within(screen.getByRole('group', { name: 'Delete “Old one”?' })).getByRole('button', { name: 'Delete' }),
    );
    expect(callsTo(f, 'chat.delete')).toEqual([{ conversationId: 12 }]);
    await waitFor(() => expect(screen.queryByText('Q')).toBeNull());
    expect(screen.getByText('No conversations yet.')).toBeTruthy();

    await fireEvent.click(screen.getByRole('button', { name: 'New chat' }));
    expect(screen.getByRole('heading', { level: 3, name: 'New conversation' })).toBeTruthy();
  });
});

describe('ChatState', () => {
  it('sends a library photo by id, and the chosen model', async () => {
    const f = fakeGlance({
      'chat.list': [],
      'models.list': models,
      'chat.create': conversation(3, [], ''),
      'chat.send': msg(2, 'assistant', 'A beach.'),
    });
    const chat = new ChatState(f.api);
    await chat.load();
    expect(chat.models.map((m) => m.id)).toEqual(['llava-small']);
    chat.model = 'llava-small';
    chat.attachPhoto(42, 'beach.jpg');
    chat.draft = 'Where is this?';
    await chat.send();
    expect(callsTo(f, 'chat.send')).toEqual([
      { conversationId: 3, text: 'Where is this?', images: [{ photoId: 42 }], model: 'llava-small' },
    ]);
    expect(chat.current?.messages.map((m) => m.text)).toEqual(['Where is this?', 'A beach.']);
    chat.dispose();
  });

  it('refuses a ninth image', async () => {
    const chat = new ChatState(fakeGlance().api);
    for (let i = 1; i <= 9; i++) chat.attachPhoto(i);
    expect(chat.pending).toHaveLength(8);
    expect(chat.attachError?.code).toBe('too-many-images');
  });

  it('says what to do for each error code', () => {
    expect(helpFor('no-chat-model')).toContain('Download a chat model in Models');
    expect(helpFor('busy')).toContain('Try again');
    expect(helpFor('image-decode')).toContain('The image could not be read');
    expect(helpFor('image-too-large')).toContain('64 MB');
    expect(helpFor('mmproj-missing')).toContain('Models');
    expect(helpFor('something-new', 'the raw message')).toBe('the raw message');
  });
});
