import { randomUUID } from 'node:crypto';
import { RetryableError } from '../domain/errors.js';
import type { Lease } from '../ports/lease.js';

/** One run's hold of the lock: its fencing token, and whether it may still write. */
export interface SyncHold {
  readonly token: number;
  /** Throws once the hold is lost (a pause past the TTL, a renewal refused). */
  assertHeld(): void;
}

export interface SyncLockOptions {
  /** How long a hold lasts unrenewed; it is renewed at a third of it. */
  readonly ttlMs: number;
  /** How long a run waits for another's to end before it fails. */
  readonly waitMs: number;
}

const POLL_FIRST_MS = 10;
const POLL_CAP_MS = 200;

/** The run was shut out by a newer one: nothing it read may be applied any more. */
export function superseded(): RetryableError {
  return new RetryableError(
    'sync_superseded',
    'this sync run lost the sync lease to a newer run; it applied nothing stale',
    1_000,
  );
}

/**
 * A lease held for one run at a time, across every process: taken before the run
 * (waiting, bounded, while another runs), renewed while it runs, given up after. Time is
 * the machine's own (timers), as the lease's TTL is the lease store's, not the app clock's.
 */
export class SyncLock {
  constructor(
    private readonly lease: Lease,
    private readonly name: string,
    private readonly options: SyncLockOptions,
  ) {}

  async run<T>(work: (hold: SyncHold) => Promise<T>): Promise<T> {
    const holder = `sync-run:${randomUUID()}`;
    const { token, sentAt } = await this.take(holder);
    const hold = new RenewedHold(this.lease, this.name, holder, this.options.ttlMs, token, sentAt);
    try {
      return await work(hold);
    } finally {
      await hold.end();
      await this.lease.release(this.name, holder).catch(() => undefined);
    }
  }

  private async take(holder: string): Promise<{ token: number; sentAt: number }> {
    const deadline = Date.now() + this.options.waitMs;
    for (let delay = POLL_FIRST_MS; ; delay = Math.min(POLL_CAP_MS, delay * 2)) {
      const sentAt = Date.now();
      const token = await this.lease.acquire(this.name, holder, this.options.ttlMs);
      if (token !== undefined) return { token, sentAt };
      if (Date.now() + delay > deadline) {
        throw new RetryableError('sync_busy', 'another sync run is still running', 1_000);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * A hold renewed at a third of its TTL while its run goes on. It is lost when a renewal
 * answers another token (the lease lapsed and was taken), or when no renewal was confirmed
 * for a whole TTL (a pause, or the lease store out of reach): the hold lasts a TTL from
 * when the request was sent, not from when it was answered.
 */
class RenewedHold implements SyncHold {
  private confirmedAt: number;
  private lost = false;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();

  constructor(
    private readonly lease: Lease,
    private readonly name: string,
    private readonly holder: string,
    private readonly ttlMs: number,
    readonly token: number,
    takenAt: number,
  ) {
    this.confirmedAt = takenAt;
    this.schedule();
  }

  assertHeld(): void {
    if (this.lost || Date.now() - this.confirmedAt >= this.ttlMs) throw superseded();
  }

  /** Stops renewing; resolves once no renewal is on its way (a release must come after). */
  async end(): Promise<void> {
    this.ended = true;
    clearTimeout(this.timer);
    await this.renewing;
  }

  private schedule(): void {
    this.timer = setTimeout(
      () => {
        this.renewing = this.renew();
      },
      Math.max(10, Math.floor(this.ttlMs / 3)),
    );
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const sentAt = Date.now();
    try {
      const renewed = await this.lease.acquire(this.name, this.holder, this.ttlMs);
      if (renewed === this.token) this.confirmedAt = sentAt;
      else this.lost = true;
    } catch {
      // Unanswered is not lost yet: a TTL without any confirmation is (see assertHeld).
    }
    if (!this.ended) this.schedule();
  }
}
