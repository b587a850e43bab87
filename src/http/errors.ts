import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { TerminalError } from '../domain/errors.js';
import { isCoded, RetryableError } from '../domain/errors.js';
import { RequestValidationError } from './validation.js';

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

function isCatalogued(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOG, code);
}

/** What the client is told about a failure: `{"error":{"code","message","details"?}}`. */
export interface ErrorAnswer {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: unknown;
  /** Sent as `Retry-After` (whole seconds). */
  readonly retryAfterSeconds?: number;
  /** The failure is ours (5xx): log it. */
  readonly serverSide: boolean;
}

export interface ErrorBodyShape {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBodyShape {
  return details === undefined
    ? { error: { code, message } }
    : { error: { code, message, details } };
}

/** fastify's own errors, by their code. */
const FASTIFY_CODES: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['payload_too_large', 'the body is larger than 1 MiB'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['unsupported_media_type', 'the body must be application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [
    'validation_error',
    'Content-Length does not match the body',
  ],
  FST_ERR_CTP_INVALID_JSON_BODY: ['validation_error', 'the body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['validation_error', 'the JSON body is empty'],
};

/** Other client errors by status (a 4xx not here counts as a bad request). */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'validation_error',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'service_unavailable',
};

const seconds = (ms: number | undefined): number => Math.max(1, Math.ceil((ms ?? 1000) / 1000));

/** A RetryableError somewhere in `error`'s cause chain (an adapter's, wrapped by a caller). */
function retryableCause(error: unknown): RetryableError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof RetryableError) return current;
    current = current.cause;
  }
  return undefined;
}

function serviceUnavailable(retryAfterSeconds: number): ErrorAnswer {
  return {
    status: 503,
    code: 'service_unavailable',
    message: 'a backend is unavailable; retry shortly',
    retryAfterSeconds,
    serverSide: true,
  };
}

const INTERNAL: ErrorAnswer = {
  status: 500,
  code: 'internal_error',
  message: 'internal error',
  serverSide: true,
};

/**
 * A coded error by the catalog: a catalogued code answers with its status; any other
 * RetryableError (an adapter's outage) is a 503, any other TerminalError a 500.
 */
function describeCoded(error: TerminalError | RetryableError): ErrorAnswer {
  const retryable = error instanceof RetryableError;
  if (!isCatalogued(error.code)) {
    return retryable ? serviceUnavailable(seconds(error.retryAfterMs)) : INTERNAL;
  }
  const status = ERROR_CATALOG[error.code];
  // A retryable error, a refusal by a limit that resets and every 503 say when to come back.
  const { retryAfterMs } = error;
  const saysWhen = retryable || retryAfterMs !== undefined || status === 503;
  return {
    status,
    code: error.code,
    message: error.message,
    details: error.details,
    retryAfterSeconds: saysWhen ? seconds(retryAfterMs) : undefined,
    serverSide: status >= 500,
  };
}

/** Maps anything thrown while serving a request to its answer. Never leaks a stack. */
export function describeError(error: unknown): ErrorAnswer {
  if (isCoded(error)) return describeCoded(error);
  if (error instanceof RequestValidationError) {
    return {
      status: 400,
      code: 'validation_error',
      message: `invalid ${error.validationContext ?? 'request'}: ${error.message}`,
      details: { in: error.validationContext, issues: error.issues },
      serverSide: false,
    };
  }
  const retryable = retryableCause(error);
  if (retryable) return serviceUnavailable(seconds(retryable.retryAfterMs));
  const fastifyError = error as Partial<FastifyError> | undefined;
  const known =
    typeof fastifyError?.code === 'string' ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) {
    const [code, message] = known;
    return { status: ERROR_CATALOG[code], code, message, serverSide: false };
  }
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = CODE_BY_STATUS[status] ?? 'validation_error';
    return {
      status: ERROR_CATALOG[code],
      code,
      message: fastifyError?.message ?? code,
      serverSide: false,
    };
  }
  return INTERNAL;
}

/**
 * For calls whose only failure mode is a backend's: anything but a coded error becomes
 * `503 service_unavailable` with `Retry-After: 1`, the original kept as `cause` for the log.
 */
export async function orUnavailable<T>(work: Promise<T>, what: string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw asUnavailable(error, what);
  }
}

export function asUnavailable(error: unknown, what: string): unknown {
  if (isCoded(error)) return error;
  return new RetryableError('service_unavailable', `${what} is unavailable; retry shortly`, 1000, {
    cause: error,
  });
}

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
): FastifyReply {
  const answer = describeError(error);
  if (answer.serverSide)
    request.log.error({ err: error }, `${request.method} ${request.url}: ${answer.code}`);
  if (answer.retryAfterSeconds !== undefined)
    reply.header('retry-after', String(answer.retryAfterSeconds));
  if (answer.status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(answer.status).send(errorBody(answer.code, answer.message, answer.details));
}

/**
 * Errors of a connection before fastify has a request: a client whose request is not
 * complete in time (408), a malformed request or oversized headers. Answered in the
 * catalog's shape, then the connection is closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status: number;
  let body: ErrorBodyShape;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = ERROR_CATALOG.request_timeout;
    body = errorBody('request_timeout', 'the request was not complete in time');
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = ERROR_CATALOG.validation_error;
    body = errorBody('validation_error', 'the request headers are too large');
  } else {
    status = ERROR_CATALOG.validation_error;
    body = errorBody('validation_error', 'malformed HTTP request');
  }
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(error);
}
