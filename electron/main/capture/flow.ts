// Screenshot-and-ask: capture the display under the pointer (on Wayland: the screen the person picks), let the person
// select a region on the overlay, crop it in physical pixels, open the ask window beside it (on Wayland wherever the
// desktop puts it) and send the crop with the question to the engine. Every Electron piece is injected (index.ts
// passes the real ones, capture/grab.ts takes the picture, tests pass fakes). At most the current capture and the
// current crop are held in memory; cancelling at any step closes what is open and forgets both.
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { Message } from '../../engine/chat/chat-service.ts';
import type { EngineSupervisor } from '../../engine/process/supervisor.ts';
import type { AskContextView, CaptureFrameView, MessageView } from '../../ipc/contract.ts';
import {
  ASK_WINDOW_SIZE,
  askWindowPosition,
  type CaptureDisplay,
  overlayToPhysical,
  type Rect,
  wholeDisplay,
} from './crop.ts';
import type { CaptureFlowApi } from './flow-api.ts';

export interface Grabbed {
  png: Uint8Array;
  width: number;
  height: number;
}

export interface CaptureFlowDeps {
  /** The picture at full physical size and the display it shows (capture/grab.ts: under the pointer, or picked). */
  grab(): Promise<Grabbed & { display: CaptureDisplay }>;
  openOverlay(display: CaptureDisplay): void;
  closeOverlay(): void;
  /** Opens the ask window at a position, or (null) where the desktop places it. */
  openAskWindow(position: { x: number; y: number } | null): void;
  closeAskWindow(): void;
  /** Shows the main window on a conversation. */
  showChat(conversationId: number): void;
  /** Cuts a region (physical pixels) out of a PNG; defaults to sharp. */
  crop?(png: Uint8Array, rect: Rect): Promise<Uint8Array>;
  engine: Pick<EngineSupervisor, 'call'>;
  platform?: NodeJS.Platform;
  /** systemPreferences.getMediaAccessStatus('screen'), macOS only. */
  mediaAccess?: () => string;
  /** Makes macOS ask for screen-recording permission (capture/grab.ts promptScreenAccess). */
  requestScreenAccess?: () => Promise<unknown>;
  /** Wayland: windows cannot be positioned, so the ask window goes where the desktop puts it. */
  wayland?: boolean;
  /** Says why the flow could not start (no permission, capture failed); a dialog in the app. */
  report?(message: string): void;
  /** Ids for glance://capture/<id>; random 32-hex by default. */
  newId?(): string;
  askWindowSize?: { width: number; height: number };
}

export interface CaptureFlow extends CaptureFlowApi {
  /** Resolves once the overlay is open (or the start was refused and reported). */
  start(): Promise<void>;
  /** The overlay window closed by itself (Escape, focus lost): a cancel unless a selection was already made. */
  overlayClosed(): void;
  /** The ask window closed by itself: the crop is forgotten. */
  askClosed(): void;
  readonly phase: Phase;
}

export type Phase = 'idle' | 'capturing' | 'overlay' | 'ask';

export const CAPTURE_ID = /^[0-9a-f]{32}$/;
export const captureUrl = (id: string) => `glance://capture/${id}`;

export const MAC_SCREEN_PERMISSION =
  'Glance may not record the screen yet. Open System Settings → Privacy & Security → Screen & System Audio Recording, turn Glance on, then quit and reopen Glance.';

/**
 * macOS: whether Glance may record the screen. When it may not (yet), asking for the screen once is what makes the
 * system prompt and list Glance in System Settings; the status is read again after that.
 */
async function screenAccess(deps: CaptureFlowDeps): Promise<boolean> {
  if ((deps.platform ?? process.platform) !== 'darwin' || !deps.mediaAccess) return true;
  if (deps.mediaAccess() === 'granted') return true;
  await deps.requestScreenAccess?.().catch(() => {}); // a refused request is the answer: the status says it
  return deps.mediaAccess() === 'granted';
}

export async function sharpCrop(png: Uint8Array, r: Rect): Promise<Uint8Array> {
  const out = await sharp(png).extract({ left: r.x, top: r.y, width: r.width, height: r.height }).png().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

const messageView = (m: Message): MessageView => ({
  id: m.id,
  role: m.role,
  text: m.text,
  images: m.images.map((i) => ({ url: `glance://attachment/${i.hash}`, width: i.width, height: i.height })),
  stats: m.stats
    ? {
        promptTokens: m.stats.promptTokens,
        generatedTokens: m.stats.generatedTokens,
        tokensPerSecond: m.stats.tokensPerSecond,
        timeToFirstTokenMs: m.stats.timeToFirstTokenMs,
        ...(m.stats.stopped !== undefined ? { stopped: m.stats.stopped } : {}),
      }
    : null,
  createdAt: m.createdAt,
});

interface Held extends Grabbed {
  id: string;
}

export function createCaptureFlow(deps: CaptureFlowDeps): CaptureFlow {
  const newId = deps.newId ?? (() => randomBytes(16).toString('hex'));
  const crop = deps.crop ?? sharpCrop;
  let phase: Phase = 'idle';
  let generation = 0; // bumped by every cancel: work started before it is dropped when it finishes
  let display: CaptureDisplay | null = null;
  let capture: Held | null = null;
  let cropped: Held | null = null;
  let conversationId: number | null = null;
  let sentImage = false;

  const forget = () => {
    display = null;
    capture = null;
    cropped = null;
    conversationId = null;
    sentImage = false;
  };

  const cancel = () => {
    generation++;
    const was = phase;
    phase = 'idle';
    if (was === 'overlay') deps.closeOverlay();
    if (was === 'ask') deps.closeAskWindow();
    forget();
  };

  const models = async () => {
    const [list, settings] = await Promise.all([
      deps.engine.call('modelsList'),
      deps.engine.call('settingsGet').catch(() => null),
    ]);
    const installed = list
      .filter((m) => m.installed && m.entry.kind === 'chat')
      .map((m) => ({
        id: m.entry.id,
        name: m.entry.name,
        readsText: m.entry.kind === 'chat' && m.entry.readsText,
        licenceNote: m.entry.licenceNote,
      }));
    // Text readers first, the catalog's order kept within each group.
    installed.sort((a, b) => Number(b.readsText) - Number(a.readsText));
    const chosen = settings?.chatModel ? installed.find((m) => m.id === settings.chatModel) : undefined;
    // Screenshots are mostly text: the chosen model when it reads text, else the first that does, else any.
    const model = chosen?.readsText ? chosen : (installed.find((m) => m.readsText) ?? chosen ?? installed[0]);
    return { models: installed, model: model?.id ?? null };
  };

  const flow: CaptureFlow = {
    get phase() {
      return phase;
    },

    async start() {
      if (phase === 'capturing' || phase === 'overlay') return; // the shortcut pressed twice
      if (phase === 'ask') cancel(); // a new screenshot replaces the last one
      const mine = ++generation;
      phase = 'capturing';
      if (!(await screenAccess(deps))) {
        if (mine === generation) {
          phase = 'idle';
          deps.report?.(MAC_SCREEN_PERMISSION);
        }
        return;
      }
      if (mine !== generation) return; // cancelled while the system asked
      let d: CaptureDisplay;
      let grabbed: Grabbed;
      try {
        const got = await deps.grab();
        d = got.display;
        grabbed = { png: got.png, width: got.width, height: got.height };
      } catch (err) {
        if (mine === generation) {
          phase = 'idle';
          forget();
          deps.report?.(`Glance could not capture the screen: ${err instanceof Error ? err.message : String(err)}`);
        }
        return;
      }
      if (mine !== generation) return; // cancelled while capturing
      display = d;
      capture = { ...grabbed, id: newId() };
      phase = 'overlay';
      deps.openOverlay(d);
    },

    async frame(): Promise<CaptureFrameView | null> {
      if (!capture || !display) return null;
      return {
        imageUrl: captureUrl(capture.id),
        width: capture.width,
        height: capture.height,
        scaleFactor: display.scaleFactor,
      };
    },

    async select(rect) {
      if (phase !== 'overlay' || !capture || !display) {
        throw Object.assign(new Error('there is no screen capture in progress'), { code: 'no-capture' });
      }
      const mine = generation;
      const selection = rect ?? wholeDisplay(display);
      const region = overlayToPhysical(selection, display, capture);
      const png = await crop(capture.png, region);
      if (mine !== generation) return; // cancelled while cropping
      const d = display;
      capture = null; // only the crop is needed from here
      cropped = { id: newId(), png, width: region.width, height: region.height };
      conversationId = null;
      sentImage = false;
      phase = 'ask'; // before closing: the overlay's 'closed' is then not a cancel
      deps.closeOverlay();
      deps.openAskWindow(deps.wayland ? null : askWindowPosition(selection, d, deps.askWindowSize ?? ASK_WINDOW_SIZE));
    },

    cancel,

    overlayClosed() {
      if (phase === 'overlay') {
        generation++;
        phase = 'idle';
        forget();
      }
    },

    askClosed() {
      if (phase === 'ask') {
        generation++;
        phase = 'idle';
        forget();
      }
    },

    async askContext(): Promise<AskContextView | null> {
      if (!cropped) return null;
      const { models: list, model } = await models();
      return {
        imageUrl: captureUrl(cropped.id),
        width: cropped.width,
        height: cropped.height,
        models: list,
        model,
        conversationId,
      };
    },

    async askSend(text, model) {
      const c = cropped;
      if (!c) throw Object.assign(new Error('there is no screenshot to ask about'), { code: 'no-capture' });
      const catalogId = model ?? (await models()).model;
      if (!catalogId) {
        throw Object.assign(new Error('no chat model is installed: download one in Settings → Models'), {
          code: 'no-model',
        });
      }
      if (conversationId === null) {
        const conv = await deps.engine.call('chatCreate', { title: 'About a screenshot' });
        if (cropped !== c) throw Object.assign(new Error('the screenshot was closed'), { code: 'no-capture' });
        conversationId = conv.id;
      }
      // The picture goes with the first question; the conversation keeps it for the next ones.
      const images = sentImage ? [] : [c.png];
      sentImage = true;
      try {
        const m = await deps.engine.call('chatSend', {
          conversationId,
          text,
          images,
          model: { catalogId },
        });
        return messageView(m);
      } catch (err) {
        if (images.length && cropped === c) sentImage = false;
        throw err;
      }
    },

    async continueInChat() {
      if (phase !== 'ask' || conversationId === null) return null;
      const id = conversationId;
      deps.showChat(id);
      cancel(); // closes the ask window, forgets the crop
      return { conversationId: id };
    },

    async image(id) {
      if (!CAPTURE_ID.test(id)) return null;
      if (capture?.id === id) return capture.png;
      if (cropped?.id === id) return cropped.png;
      return null;
    },
  };
  return flow;
}
