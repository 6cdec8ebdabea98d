// Typed errors of the model runtimes. Every message is written for the person at the keyboard: what is wrong and
// what to do. The `code` is for programs (IPC results, JSON output, tests).

export type ModelErrorCode =
  | 'model-folder-missing'
  | 'model-file-missing'
  | 'model-file-corrupt'
  | 'model-config-invalid'
  | 'model-io-mismatch'
  | 'model-run-failed';

export class ModelError extends Error {
  override readonly name = 'ModelError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type ImageErrorCode =
  | 'image-not-found'
  | 'image-empty'
  | 'image-not-an-image'
  | 'image-truncated'
  | 'image-too-large'
  | 'image-unreadable';

export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The `{code, message}` pair that crosses process and IPC boundaries; unknown errors keep their message only. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof Error) {
    // every typed error of the project carries a string code (ModelError, ImageError, DownloadError, ...)
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : 'internal', message: err.message };
  }
  return { code: 'internal', message: String(err) };
}
