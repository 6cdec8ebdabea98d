// Replies that cross a process boundary are results, never thrown errors: a stack trace is no message for a
// person, and structured cloning drops an error's own fields (its code) anyway.
export interface ErrorInfo {
  code: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (code: string, message: string): Result<never> => ({ ok: false, error: { code, message } });
