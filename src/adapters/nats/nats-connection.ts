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
        servers: url,
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
  const reason = error instanceof Error ? error.message : String(error);
  return new RetryableError('event_log_unavailable', `NATS is unavailable: ${reason}`, 1_000, {
    cause: error,
  });
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
