/**
 * The one error model. Two families decide what happens next, each with a stable string
 * `code` that callers (the consumer runner, the HTTP layer's catalog) go by:
 *
 * - a `TerminalError` will fail the same way again: a consumer dead-letters its event at
 *   once, a request is refused (a 4xx where the HTTP catalog knows the code) — a refusal by
 *   a limit that resets says when the caller may ask again (`retryAfterMs`);
 * - a `RetryableError` may succeed later — a backend or provider outage, a key in use, a
 *   limit that resets — after `retryAfterMs` when it says so: a consumer retries with
 *   backoff, a request is told to come back (503, or the catalog's status, with Retry-After).
 *
 * Anything else is a bug or an unclassified failure: retried a few times, then dead-lettered;
 * a 500 in HTTP. Every adapter turns its driver's transient failures into RetryableError.
 */
export interface ErrorOptions {
  readonly cause?: unknown;
  /** Machine-readable detail a client may be shown (which SKUs are unknown, say). */
  readonly details?: unknown;
}

export interface TerminalErrorOptions extends ErrorOptions {
  /** A refusal by a limit that resets (declines per hour): when asking again may succeed. */
  readonly retryAfterMs?: number;
}

export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  readonly details: unknown;
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly code: string,
    message: string,
    options: TerminalErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  readonly details: unknown;
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
    options: ErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.details = options.details;
  }
}

/** A coded error of either family. */
export function isCoded(error: unknown): error is TerminalError | RetryableError {
  return error instanceof TerminalError || error instanceof RetryableError;
}
