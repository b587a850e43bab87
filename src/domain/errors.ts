/**
 * Two error families decide retries. A TerminalError is never retried: the consumer
 * dead-letters the event at once. A RetryableError is retried with backoff, after
 * `retryAfterMs` when it says so. Anything else is retried a few times, then dead-lettered.
 */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The catalog of errors a client can see: stable string code → HTTP status. */
export const ERROR_CATALOG = {
  validation_error: 400,
  /** A webhook whose signature does not verify with the provider's webhook secret. */
  invalid_signature: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  request_timeout: 408,
  not_cancellable: 409,
  idempotency_key_in_use: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unknown_sku: 422,
  idempotency_key_reused: 422,
  rate_limited: 429,
  too_many_declines: 429,
  /** Over the cap of open event streams per API key or per IP. */
  too_many_streams: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** An error the API answers with its catalog status and code. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.status = ERROR_CATALOG[code];
  }
}
