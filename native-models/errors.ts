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
  /** The data ends early, or a decoder failed on the data with a warning (almost always the same thing). */
  | 'image-truncated'
  | 'image-too-large'
  | 'image-unreadable'
  /** The format is known, but its data is broken (a damaged header, a tag missing, bytes that decode to nothing). */
  | 'image-damaged'
  /** A FIFO, socket, device or folder where a file was expected: never opened, a read could block forever. */
  | 'image-not-a-file'
  /** SVG is a drawing that can load other files and web addresses, not a photo: refused, never rendered. */
  | 'image-svg';

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
