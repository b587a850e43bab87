import type { Clock } from '../ports/clock.js';
import type { OrderStore } from '../ports/order-store.js';
import { withDeadline } from './deadline.js';

/** The rate chart's window: 15 minutes of one sample a second. */
export const RATE_HISTORY_S = 900;
export const SAMPLE_EVERY_MS = 1_000;
/** A reading not answered within this is given up: the next one may start. */
export const READ_DEADLINE_MS = 5_000;

/** Orders accepted and completed per second. */
export interface Rates {
  readonly acceptedPerS: number;
  readonly completedPerS: number;
}

/** The rates over the second before `at`. */
export interface RateSample extends Rates {
  /** ms since the epoch. */
  readonly at: number;
}

interface Totals {
  readonly at: number;
  readonly accepted: number;
  readonly completed: number;
}

/**
 * Orders per second, accepted and completed, over the last `RATE_HISTORY_S` seconds. Read
 * from the order store's counts, which every process of a deployment shares: the rates are
 * the whole deployment's, whichever API process serves the dashboard. Accepted is the count
 * of orders in every status (evicted ones included), completed the count of PAID>COMPLETED
 * changes: both only grow, so the difference of two readings is what happened between them.
 * A reading that fails (the store is down) is skipped: the next one averages over the gap.
 */
export class RateHistory {
  private readonly samples: RateSample[] = [];
  private last: Totals | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The reading under way: one at a time, each given up after `READ_DEADLINE_MS`. */
  private reading: Promise<void> | undefined;

  constructor(
    private readonly orders: Pick<OrderStore, 'countByStatus' | 'countTransitions'>,
    private readonly clock: Clock,
    private readonly deadlineMs = READ_DEADLINE_MS,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), SAMPLE_EVERY_MS);
    this.timer.unref();
  }

  /** Stops sampling; a reading under way only updates memory, so it is not waited for. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The samples, oldest first. */
  history(): readonly RateSample[] {
    return [...this.samples];
  }

  /** The newest sample's rates; zeros before there is one. */
  latest(): Rates {
    const { acceptedPerS = 0, completedPerS = 0 } = this.samples.at(-1) ?? {};
    return { acceptedPerS, completedPerS };
  }

  /** Takes one reading now, or joins the one under way; resolves once it is in. */
  sample(): Promise<void> {
    this.reading ??= withDeadline(() => this.read(), this.deadlineMs)
      .catch(() => undefined)
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  private async read(): Promise<void> {
    const [byStatus, steps] = await Promise.all([
      this.orders.countByStatus(),
      this.orders.countTransitions(),
    ]);
    const now: Totals = {
      at: this.clock.now(),
      accepted: Object.values(byStatus).reduce((sum, n) => sum + n, 0),
      completed: steps['PAID>COMPLETED'] ?? 0,
    };
    const last = this.last;
    this.last = now;
    if (!last || now.at <= last.at) return;
    const seconds = (now.at - last.at) / 1000;
    this.samples.push({
      at: now.at,
      acceptedPerS: round(Math.max(0, now.accepted - last.accepted) / seconds),
      completedPerS: round(Math.max(0, now.completed - last.completed) / seconds),
    });
    if (this.samples.length > RATE_HISTORY_S) this.samples.shift();
  }
}

function round(perSecond: number): number {
  return Math.round(perSecond * 10) / 10;
}
