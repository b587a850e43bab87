import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, EXIT, type ErrorInfo } from './cli-error.js';

/** Where a running instance listens unless `--url` says: `http://127.0.0.1:${PORT:-3000}`. */
export function defaultUrl(env: NodeJS.ProcessEnv = process.env): string {
  const port = env['PORT']?.trim();
  return `http://127.0.0.1:${port ? port : '3000'}`;
}

/** `path?name=value&…` for the parameters that are set. */
export function withQuery(
  path: string,
  params: Readonly<Record<string, string | number | undefined>>,
): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) query.set(name, String(value));
  const text = query.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** How many times a `429 rate_limited` is waited out (its `Retry-After`, at most 5 s) before it counts. */
const RATE_LIMIT_ATTEMPTS = 3;
const RETRY_AFTER_CAP_MS = 5_000;

/**
 * The running service's HTTP API as an operator's client sees it: JSON in and out, the admin
 * key (`ORDERFLOW_ADMIN_KEY`) as a bearer token, and every failure turned into a `CliError`
 * that says in plain words what happened, with the exit code of its kind (a 4xx: rejected;
 * no answer or a 5xx: unavailable).
 */
export class AdminClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly key: string | undefined,
    private readonly timeoutMs: number,
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path);
  }

  /** The resource, or undefined when the service answers `404`. */
  async find<T>(path: string): Promise<T | undefined> {
    try {
      return await this.send<T>('GET', path);
    } catch (error) {
      if (error instanceof CliError && error.info.status === 404) return undefined;
      throw error;
    }
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.send<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>('PUT', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.send<T>('DELETE', path);
  }

  private async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { timeoutMs } = this;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.key !== undefined) headers['authorization'] = `Bearer ${this.key}`;
    // No content type without a body: the API refuses an empty JSON body.
    if (body !== undefined) headers['content-type'] = 'application/json';
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let text: string;
      let retryAfter: string | null;
      try {
        const response = await fetch(this.base + path, {
          method,
          headers,
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = response.status;
        retryAfter = response.headers.get('retry-after');
        text = await response.text();
      } catch (error) {
        throw this.unreachable(error, timeoutMs);
      }
      if (status === 429 && attempt < RATE_LIMIT_ATTEMPTS) {
        await sleep(Math.min(RETRY_AFTER_CAP_MS, Math.max(1, Number(retryAfter) || 1) * 1000));
        continue;
      }
      return this.answer<T>(method, path, status, text);
    }
  }

  private answer<T>(method: string, path: string, status: number, text: string): T {
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      const message = `${this.base} answered ${method} ${path} with HTTP ${status} but not with JSON: is --url an orderflow instance?`;
      throw new CliError(message, EXIT.unavailable, { code: 'not_json', message, status });
    }
    if (status >= 200 && status < 300) return json as T;
    const info = { ...errorOf(json, status), status };
    if (status >= 400 && status < 500)
      throw new CliError(rejectedMessage(info), EXIT.rejected, info);
    const message = `the service failed: ${info.message} (HTTP ${status}, ${info.code}); try again later`;
    throw new CliError(message, EXIT.unavailable, info);
  }

  private unreachable(error: unknown, timeoutMs: number): CliError {
    const why = networkReason(error, timeoutMs);
    const message = `could not reach orderflow at ${this.base}: ${why}. Is it running? Give its address with --url.`;
    return new CliError(message, EXIT.unavailable, { code: 'unreachable', message });
  }
}

function errorOf(json: unknown, status: number): ErrorInfo {
  const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return {
    code: typeof error?.code === 'string' ? error.code : `http_${status}`,
    message: typeof error?.message === 'string' ? error.message : `HTTP ${status}`,
  };
}

function rejectedMessage(info: ErrorInfo & { status: number }): string {
  const base = `${info.message} (HTTP ${info.status}, ${info.code})`;
  if (info.status === 401)
    return `${base}: set ORDERFLOW_ADMIN_KEY to an admin key of this instance`;
  if (info.status === 403) return `${base}: ORDERFLOW_ADMIN_KEY lacks the scope this needs`;
  return base;
}

/** What went wrong on the way, in words: fetch reports it as a TypeError with a cause. */
function networkReason(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return `no answer within ${timeoutMs / 1000} s`;
  const cause = error instanceof Error ? error.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'nothing is listening there (connection refused)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was cut';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'the connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'the host is unreachable';
    default:
      // fetch will not connect to the ports browsers block (1, 25, 6000, …).
      if (cause instanceof Error && cause.message === 'bad port')
        return 'fetch refuses that port (one of those browsers block)';
      return cause instanceof Error ? cause.message : String(error);
  }
}
