// Tokens go out as they come, but at most one message per conversation every few milliseconds: a small model
// writes a thousand tokens a second, and one IPC message per token would cost the generation CPU it needs. The
// first token of a burst leaves at once, so the time to first token is not delayed.
export const WINDOW_MS = 8;

export interface TokenBatch {
  conversationId: number;
  token: string;
  count: number;
}

export function tokenStream(send: (batch: TokenBatch) => void, windowMs = WINDOW_MS) {
  const pending = new Map<number, { text: string; count: number; timer: NodeJS.Timeout | null; last: number }>();
  const flush = (conversationId: number) => {
    const p = pending.get(conversationId);
    if (!p?.text) return;
    send({ conversationId, token: p.text, count: p.count });
    p.text = '';
    p.count = 0;
    p.timer = null;
    p.last = performance.now();
  };
  return {
    push(conversationId: number, token: string) {
      let p = pending.get(conversationId);
      if (!p) {
        p = { text: '', count: 0, timer: null, last: Number.NEGATIVE_INFINITY };
        pending.set(conversationId, p);
      }
      p.text += token;
      p.count++;
      if (p.timer) return;
      const wait = windowMs - (performance.now() - p.last);
      if (wait <= 0) flush(conversationId);
      else p.timer = setTimeout(() => flush(conversationId), wait);
    },
    /** Sends what is buffered: called before a turn's reply, so every token arrives before the message. */
    drain(conversationId: number) {
      const p = pending.get(conversationId);
      if (p?.timer) clearTimeout(p.timer);
      flush(conversationId);
      pending.delete(conversationId);
    },
  };
}
