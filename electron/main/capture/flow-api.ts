// What the backend needs of the screenshot-and-ask flow: the overlay's and the ask window's channels end here.
// The flow itself (shortcut, desktopCapturer, windows, crop) lives in capture/flow.ts.
import type { AskContextView, CaptureFrameView, MessageView, OverlayRect } from '../../ipc/contract.ts';

export interface CaptureFlowApi {
  /** Starts the flow: capture the display under the pointer, show the overlay. */
  start(): void;
  /** The frozen screen the overlay shows, or null when no capture is in progress. */
  frame(): Promise<CaptureFrameView | null>;
  /** The overlay's selection (null: the whole display): crops in physical pixels, opens the ask window. */
  select(rect: OverlayRect | null): Promise<void>;
  cancel(): void;
  askContext(): Promise<AskContextView | null>;
  askSend(text: string, model?: string): Promise<MessageView>;
  continueInChat(): Promise<{ conversationId: number } | null>;
  /** Bytes behind glance://capture/<id> (PNG), for the protocol handler. */
  image(id: string): Promise<Uint8Array | null>;
}
