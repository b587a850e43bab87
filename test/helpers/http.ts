import http from 'node:http';

/** The API keys the e2e services are started with, by role. One place to change them. */
export const DEFAULT_KEYS = { client: 'ck_test', admin: 'ak_test' } as const;
export const DEFAULT_API_KEYS_ENV = `client:${DEFAULT_KEYS.client},admin:${DEFAULT_KEYS.admin}`;

/** `'client'` / `'admin'`: the default keys; `'none'`: no header; anything else: that literal key. */
export type KeyChoice = 'client' | 'admin' | 'none' | (string & {});

/** How a key travels. The one place that knows the header's name and scheme. */
export function authHeaders(key: KeyChoice): Record<string, string> {
  if (key === 'none') return {};
  const literal =
    key === 'client' ? DEFAULT_KEYS.client : key === 'admin' ? DEFAULT_KEYS.admin : key;
  return { authorization: `Bearer ${literal}` };
}

export interface RequestOptions {
  /** Serialized with JSON.stringify and sent as application/json. */
  readonly body?: unknown;
  /** Sent as-is (wins over `body`); set the content type with `contentType` or `headers`. */
  readonly raw?: string | Buffer;
  readonly contentType?: string;
  /** Defaults to 'client'. */
  readonly key?: KeyChoice;
  readonly headers?: Record<string, string>;
  /** Whole exchange, headers and body; default 30 s. */
  readonly timeoutMs?: number;
}

export interface HttpResponse<T = unknown> {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The parsed body, or `undefined` when the body is not JSON. */
  readonly json: T;
  readonly text: string;
}

/** A real socket request (node:http), read to its end; bounded by `timeoutMs`. */
export function httpRequest<T = unknown>(
  agent: http.Agent,
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<HttpResponse<T>> {
  const url = new URL(path, baseUrl);
  const headers: Record<string, string> = { ...authHeaders(options.key ?? 'client') };
  let payload: string | Buffer | undefined;
  if (options.raw !== undefined) {
    payload = options.raw;
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  } else if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] = options.contentType ?? 'application/json';
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  Object.assign(headers, options.headers);
  const timeoutMs = options.timeoutMs ?? 30_000;

  return new Promise<HttpResponse<T>>((resolve, reject) => {
    let settled = false;
    let responded = false;
    const finish = (error: Error | undefined, value?: HttpResponse<T>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(value as HttpResponse<T>);
    };
    const req = http.request(url, { method, headers, agent }, (res) => {
      responded = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => finish(error));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text.length > 0 ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        finish(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          json: json as T,
          text,
        });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(new Error(`${method} ${path}: no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (error) => {
      // A server may answer early (413) and close while the body is still being written:
      // the answer counts, the write error does not.
      if (responded) return;
      finish(new Error(`${method} ${path}: ${error.message}`, { cause: error }));
    });
    req.end(payload);
  });
}

export interface SseEvent {
  readonly event?: string;
  readonly id?: string;
  readonly data: string;
}

/** Parses a whole text/event-stream body into its events (comments and retry lines skipped). */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n')) {
    let event: string | undefined;
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) events.push({ event, id, data: data.join('\n') });
  }
  return events;
}

/** The statuses an SSE body carries, in order: each `data` is a JSON object with `status`, or the bare status. */
export function sseStatuses(text: string): string[] {
  const statuses: string[] = [];
  for (const event of parseSse(text)) {
    let status: unknown = event.data.trim();
    try {
      const parsed: unknown = JSON.parse(event.data);
      if (typeof parsed === 'object' && parsed !== null && 'status' in parsed)
        status = parsed.status;
      else status = parsed;
    } catch {
      // a bare status string
    }
    if (typeof status === 'string' && status.length > 0) statuses.push(status);
  }
  return statuses;
}

/** A response read as it streams (Server-Sent Events). */
export interface Stream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** Everything received so far. */
  text(): string;
  /** Resolves with the whole body once the server ends the stream. */
  readonly ended: Promise<string>;
  destroy(): void;
}

/** Opens the event stream over a real socket; resolves once the response has started. */
export function openStream(
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL(path, baseUrl), { headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<string>((resolveEnd, rejectEnd) => {
        response.on('end', () => resolveEnd(text));
        response.on('error', rejectEnd);
      });
      ended.catch(() => undefined);
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        text: () => text,
        ended,
        destroy: () => request.destroy(),
      });
    });
    request.on('error', reject);
  });
}
