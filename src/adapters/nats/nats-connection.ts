import { jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { RetryableError } from '../../domain/errors.js';
import type { Clock } from '../../ports/clock.js';
import type { NatsNames } from './nats-subjects.js';

/** JetStream API calls and publish acks: short, so that an outage answers 503 within a second or so. */
export const API_TIMEOUT_MS = 2_000;
export const PUBLISH_TIMEOUT_MS = 1_000;
const CONNECT_TIMEOUT_MS = 2_000;
const RECONNECT_FIRST_MS = 100;
const RECONNECT_CAP_MS = 2_000;
const DRAIN_TIMEOUT_MS = 5_000;

/** What every part of the NATS event log works with. */
export interface NatsContext {
  readonly link: NatsLink;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: NatsNames;
  readonly clock: Clock;
}

/**
 * The connection: reconnects forever (backoff capped at 2 s) and knows whether it is up,
 * so that calls fail at once while it is down instead of queueing in the client's
 * reconnect buffer until a timeout.
 */
export class NatsLink {
  private up = true;

  private constructor(
    readonly nc: NatsConnection,
    private readonly reconnects: { attempt: number },
  ) {
    void this.watch();
  }

  static async open(url: string, name: string): Promise<NatsLink> {
    const reconnects = { attempt: 0 };
    try {
      const nc = await connect({
        ...natsServerOptions(url),
        name,
        timeout: CONNECT_TIMEOUT_MS,
        maxReconnectAttempts: -1,
        reconnectDelayHandler: () =>
          Math.min(RECONNECT_CAP_MS, RECONNECT_FIRST_MS * 2 ** reconnects.attempt++),
        // A server that stops answering (rather than closing the socket) is noticed in ~20 s.
        pingInterval: 10_000,
        maxPingOut: 2,
      });
      return new NatsLink(nc, reconnects);
    } catch (error) {
      throw unavailable(error);
    }
  }

  async manager(): Promise<JetStreamManager> {
    try {
      return await jetstreamManager(this.nc, { timeout: API_TIMEOUT_MS });
    } catch (error) {
      throw unavailable(error);
    }
  }

  get isUp(): boolean {
    return this.up && !this.nc.isClosed();
  }

  /** Throws a RetryableError at once while the server is unreachable. */
  assertUp(): void {
    if (!this.isUp) throw unavailable(new errors.ConnectionError('not connected'));
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    if (!this.isUp) return this.nc.close();
    const drained = this.nc.drain().catch(() => undefined);
    const timer = new Promise<void>((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS).unref());
    await Promise.race([drained, timer]);
    if (!this.nc.isClosed()) await this.nc.close();
  }

  private async watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') this.up = false;
      else if (status.type === 'reconnect') {
        this.up = true;
        this.reconnects.attempt = 0;
      }
    }
  }
}

/**
 * The servers of `ORDERFLOW_NATS_URL` and the credentials in it: the client reads no user
 * from a URL, so `nats://user:password@host:4222` (a least-privilege user) is split here
 * into the servers and `user` / `pass`, or `token` for `nats://token@host`. Several servers
 * may be listed with commas; the first one carrying credentials gives them.
 */
export function natsServerOptions(url: string): {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
} {
  let credentials: { user: string; pass: string } | undefined;
  const servers = url.split(',').map((server) => {
    const trimmed = server.trim();
    let parsed: URL;
    try {
      parsed = new URL(trimmed.includes('://') ? trimmed : `nats://${trimmed}`);
    } catch {
      return trimmed;
    }
    if (parsed.username === '' && parsed.password === '') return trimmed;
    credentials ??= {
      user: decodeURIComponent(parsed.username),
      pass: decodeURIComponent(parsed.password),
    };
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  });
  if (!credentials) return { servers };
  if (credentials.pass === '') return { servers, token: credentials.user };
  return { servers, ...credentials };
}

/** The client's errors for a server that cannot be reached or does not answer in time. */
const TRANSIENT = [
  errors.ConnectionError,
  errors.ClosedConnectionError,
  errors.DrainingConnectionError,
  errors.TimeoutError,
  errors.RequestError,
  errors.NoRespondersError,
];

/**
 * A failure to reach JetStream as the rest of orderflow understands it: retryable, so the
 * HTTP layer answers 503 + Retry-After and the runner retries. Anything else (an API
 * error, a misconfiguration) stays what it is.
 */
export function unavailable(error: unknown): unknown {
  if (!TRANSIENT.some((type) => error instanceof type)) return error;
  // A refusal by the user's permissions comes wrapped like a lost request: it is no outage.
  if (isPermissionViolation(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new RetryableError('event_log_unavailable', `NATS is unavailable: ${reason}`, 1_000, {
    cause: error,
  });
}

/** The server refused a publish or subscribe to this user (its `permissions`), however wrapped. */
export function isPermissionViolation(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; depth += 1) {
    if (cause instanceof errors.PermissionViolationError) return true;
    cause = cause.cause;
  }
  return false;
}

/** Background work (acks, outcome records, dead letters) to wait for before stopping. */
export class PendingWork {
  private readonly running = new Set<Promise<void>>();

  add(work: Promise<unknown>): void {
    const tracked: Promise<void> = work.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(tracked);
    void tracked.then(() => this.running.delete(tracked));
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
