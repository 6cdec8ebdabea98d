// Download failures, each with a message for the person at the keyboard and a code for programs.

export type DownloadErrorCode =
  | 'network'
  | 'not-found'
  | 'unauthorized'
  | 'checksum-mismatch'
  /** GLANCE_HUB_ENDPOINT / HF_ENDPOINT (or a redirect) is plain http:// to a host other than this machine. */
  | 'insecure-endpoint'
  | 'size-mismatch'
  | 'no-space'
  | 'cancelled'
  | 'server';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message, options);
    this.retryable = options?.retryable ?? false;
  }
  /** Trying again later may succeed (a dropped connection, a busy server); the .part is kept for that. */
  readonly retryable: boolean;
}
