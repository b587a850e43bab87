import type { Order } from '../domain/order.js';
import type { Clock } from '../ports/clock.js';

const HOUR_MS = 3_600_000;

/**
 * The card-testing defence: counts declined payments per customer and per IP over the
 * last hour; past `limit` (0 = off) new orders from them are refused. Counts live in the
 * process that runs the saga and answers the API (the embedded default).
 */
export class DeclineGuard {
  private readonly declines = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly clock: Clock,
  ) {}

  record(order: Order): void {
    if (this.limit === 0 || order.status !== 'PAYMENT_FAILED') return;
    const now = this.clock.now();
    for (const key of [`customer:${order.customerId}`, `ip:${order.clientIp}`]) {
      const times = this.recent(key, now);
      times.push(now);
      this.declines.set(key, times);
    }
  }

  /** Whether a new order from this customer or IP is refused. */
  blocked(customerId: string, ip: string): boolean {
    if (this.limit === 0) return false;
    const now = this.clock.now();
    return [`customer:${customerId}`, `ip:${ip}`].some(
      (key) => this.recent(key, now).length >= this.limit,
    );
  }

  private recent(key: string, now: number): number[] {
    const times = (this.declines.get(key) ?? []).filter((at) => at > now - HOUR_MS);
    if (times.length === 0) this.declines.delete(key);
    else this.declines.set(key, times);
    return times;
  }
}
