// The engine process's RPC contract: what its caller (the CLI today, Electron's main process later) may call, and
// the events the engine pushes back. Every reply is a Result; the supervisor turns failures into EngineError.

import type { BackendInfo, VisionChatLoadOptions } from '../../../native-models/llava/vision-chat.ts';
import type { Result } from '../../ipc/result.ts';
import type { Conversation, ConversationSummary, Message, SendOptions } from '../chat/chat-service.ts';

/** Images cross the process boundary once, as a path the engine may read or as bytes. */
export type ImageArg = string | Uint8Array;

export interface EngineMethods {
  ping(): Promise<Result<{ pid: number }>>;
  chatCreate(args: { systemPrompt?: string; title?: string }): Promise<Result<Conversation>>;
  chatList(): Promise<Result<ConversationSummary[]>>;
  chatGet(args: { id: number }): Promise<Result<Conversation>>;
  chatDelete(args: { id: number }): Promise<Result<null>>;
  chatSend(args: {
    conversationId: number;
    text: string;
    images?: ImageArg[];
    model: VisionChatLoadOptions;
    options?: SendOptions;
  }): Promise<Result<Message>>;
  chatRegenerate(args: {
    conversationId: number;
    model: VisionChatLoadOptions;
    options?: SendOptions;
  }): Promise<Result<Message>>;
  chatEdit(args: {
    conversationId: number;
    messageId: number;
    text: string;
    model: VisionChatLoadOptions;
    options?: SendOptions;
  }): Promise<Result<Message>>;
  chatStop(args: { conversationId: number }): Promise<Result<boolean>>;
  modelInfo(): Promise<Result<BackendInfo | null>>;
  /** Stops generation, releases the model, closes the database, then exits. */
  shutdown(): Promise<Result<null>>;
}

export interface EngineEvents {
  /** New text of an answer being written: one token or a few that came within milliseconds (`count`). */
  chatToken(e: { conversationId: number; token: string; count: number }): void;
}
