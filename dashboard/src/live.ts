import { ApiError } from './api';
import { openSession, SESSION_RENEW_MS } from './session';
import type { RateSample, Snapshot } from './types';

/** What the live stream tells its owner. */
export interface LiveHandlers {
  history: (samples: RateSample[]) => void;
  snapshot: (snapshot: Snapshot) => void;
  /** True while the stream is open, false while it reconnects. */
  open: (isOpen: boolean) => void;
  /** The key no longer opens a session (revoked, or lost its scope): back to the login. */
  refused: (message: string) => void;
}

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15_000;

function parse<T>(data: unknown): T | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    return JSON.parse(data) as T;
  } catch {
    return undefined;
  }
}

/**
 * Keeps `/dashboard/live` open as `key` until the returned stop is called. The session
 * cookie is renewed every 10 minutes; any stream error (a 401 ends an EventSource for good)
 * closes it, renews the session and reopens it, backing off while the service is away.
 */
export function connectLive(key: string, handlers: LiveHandlers): () => void {
  let source: EventSource | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryMs = RETRY_MIN_MS;
  let stopped = false;

  const open = (): void => {
    const stream = new EventSource('/dashboard/live');
    source = stream;
    stream.onopen = () => {
      retryMs = RETRY_MIN_MS;
      handlers.open(true);
    };
    stream.onerror = () => {
      stream.close();
      if (source === stream) source = undefined;
      handlers.open(false);
      schedule();
    };
    stream.addEventListener('history', (event: MessageEvent) => {
      const body = parse<{ samples: RateSample[] }>(event.data);
      if (body) handlers.history(body.samples);
    });
    stream.addEventListener('snapshot', (event: MessageEvent) => {
      const body = parse<Snapshot>(event.data);
      if (body) handlers.snapshot(body);
    });
  };

  const renew = async (): Promise<boolean> => {
    try {
      await openSession(key);
      return true;
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        stopped = true;
        handlers.refused(error.message);
      }
      return false;
    }
  };

  /** Each failure in a row waits twice as long, whether the session or the stream failed. */
  const schedule = (): void => {
    if (stopped || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void renew().then((renewed) => {
        if (stopped) return;
        if (renewed) open();
        else schedule();
      });
    }, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  };

  const renewTimer = setInterval(() => void renew(), SESSION_RENEW_MS);
  open();

  return () => {
    stopped = true;
    clearInterval(renewTimer);
    clearTimeout(retryTimer);
    source?.close();
  };
}
