import { readKey } from './key-storage';

/**
 * A failed call, with the server's error code and message when it sent one. `status` is 0
 * when the service could not be reached at all, so callers can show every failure the same way.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The message of anything thrown, for the page: failures are shown, never logged. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorOf(status: number, body: unknown): ApiError {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const { error } = body as { error: { code?: unknown; message?: unknown } };
    const code = typeof error.code === 'string' ? error.code : 'error';
    const message = typeof error.message === 'string' ? error.message : `HTTP ${status}`;
    return new ApiError(status, code, message);
  }
  return new ApiError(status, 'error', `HTTP ${status}`);
}

async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * One JSON call, sent as `key` when it is not empty. The answer is trusted to have the shape
 * `T`: the server validates every answer against its schema.
 */
export async function request<T>(
  method: string,
  path: string,
  body: unknown,
  key: string | null,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (error) {
    throw new ApiError(0, 'network', `cannot reach the service: ${messageOf(error)}`);
  }
  const answer = await bodyOf(response).catch(() => undefined);
  if (!response.ok) throw errorOf(response.status, answer);
  return answer as T;
}

/** Calls the service as the admin key in session storage (none in anonymous mode). */
export function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  return request<T>(method, path, body, readKey());
}

/** A path segment, escaped: ids and SKUs are user input. */
export const seg = (value: string): string => encodeURIComponent(value);

/** A query string of the defined parameters only, with its `?` when not empty. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
