import type { Order } from '../domain/order.js';
import type { Clock } from '../ports/clock.js';
import { DECLINE_WINDOW_MS, type DeclineCounter } from '../ports/decline-counter.js';

/** What the guard needs of a counter: the shared store's, or this process's memory. */
export type DeclineCounts = Pick<DeclineCounter, 'add' | 'counts'>;

/** Who a payment came from, as far as the card-testing defence can tell. */
export interface DeclineSubject {
  readonly customerId: string;
  /** The payment method as the client sent it (`pm_…`). */
  readonly paymentMethod: string;
  /** The end user's IP (the trusted proxy header's, else the connection's peer). */
  readonly ip: string;
  /**
   * The card behind the payment method, when the provider told it with a decline: one card
   * tried through many payment methods counts as one.
   */
  readonly cardFingerprint?: string;
}

/**
 * The card-testing defence: counts declined payments per customer, per payment method
 * (per card, when the provider names it) and per end-user IP over the last hour; from
 * `limit` (0 = off) on, new orders from any of them are refused. The IP is the end user's
 * only when a trusted proxy header is configured: without one, behind a shop's back end,
 * every customer shares the back end's IP.
 */
export class DeclineGuard {
  private readonly counter: DeclineCounts;

  constructor(
    private readonly limit: number,
    clock: Clock,
    counter?: DeclineCounts,
  ) {
    this.counter = counter ?? new MemoryDeclineCounter({ clock });
  }

  /** Counts one declined payment of the subject. */
  async record(subject: DeclineSubject): Promise<void> {
    if (this.limit === 0) return;
    await this.counter.add(keysOf(subject));
  }

  /** Whether a new order from this customer, payment method, card or IP is refused. */
  async blocked(subject: DeclineSubject): Promise<boolean> {
    if (this.limit === 0) return false;
    const counts = await this.counter.counts(keysOf(subject));
    return counts.some((count) => count >= this.limit);
  }
}

/** The subject of an order's payment (an order carries no card fingerprint). */
export function declineSubjectOf(order: Order): DeclineSubject {
  return { customerId: order.customerId, paymentMethod: order.paymentMethod, ip: order.clientIp };
}

function keysOf(subject: DeclineSubject): string[] {
  const keys = [
    `customer:${subject.customerId}`,
    `method:${subject.paymentMethod}`,
    `ip:${subject.ip}`,
  ];
  if (subject.cardFingerprint !== undefined) keys.push(`card:${subject.cardFingerprint}`);
  return keys;
}

export interface MemoryDeclineCounterOptions {
  readonly clock: Clock;
  /** Default DECLINE_WINDOW_MS. */
  readonly windowMs?: number;
  /** Most keys kept; past it the ones with the oldest last decline go first. Default 100,000. */
  readonly maxKeys?: number;
  /** Most declines kept per key (a count beyond any sane limit is not needed). Default 1,000. */
  readonly maxPerKey?: number;
}

/** Decline times per key in this process's memory, bounded in keys and in times per key. */
export class MemoryDeclineCounter implements DeclineCounts {
  private readonly times = new Map<string, number[]>();
  private readonly clock: Clock;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly maxPerKey: number;

  constructor(options: MemoryDeclineCounterOptions) {
    this.clock = options.clock;
    this.windowMs = options.windowMs ?? DECLINE_WINDOW_MS;
    this.maxKeys = options.maxKeys ?? 100_000;
    this.maxPerKey = options.maxPerKey ?? 1_000;
  }

  /** Keys held now (for tests of the bound). */
  get size(): number {
    return this.times.size;
  }

  add(keys: readonly string[]): Promise<void> {
    const now = this.clock.now();
    for (const key of keys) {
      const times = this.recent(key, now);
      times.push(now);
      if (times.length > this.maxPerKey) times.splice(0, times.length - this.maxPerKey);
      // Re-inserted last: the map stays ordered by each key's latest decline.
      this.times.delete(key);
      this.times.set(key, times);
    }
    if (this.times.size > this.maxKeys) this.evict();
    return Promise.resolve();
  }

  counts(keys: readonly string[]): Promise<readonly number[]> {
    const now = this.clock.now();
    return Promise.resolve(keys.map((key) => this.recent(key, now).length));
  }

  /** The key's declines within the window; a key with none is dropped. */
  private recent(key: string, now: number): number[] {
    const times = this.times.get(key);
    if (!times) return [];
    const since = now - this.windowMs;
    const first = times.findIndex((at) => at > since);
    if (first === -1) {
      this.times.delete(key);
      return [];
    }
    if (first > 0) times.splice(0, first);
    return times;
  }

  /** Drops the keys whose latest decline is oldest (the map's first ones). */
  private evict(): void {
    for (const key of this.times.keys()) {
      if (this.times.size <= this.maxKeys) return;
      this.times.delete(key);
    }
  }
}
