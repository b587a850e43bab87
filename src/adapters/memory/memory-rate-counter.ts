import type { Clock } from '../../ports/clock.js';
import type { RateCount, RateCounter } from '../../ports/rate-counter.js';

/**
 * Buckets in this process's memory (GCRA, as the Redis adapter): the embedded deployment,
 * where one process serves the API. Per key the time its bucket will be empty; at `maxKeys`
 * the empty ones go first, then the oldest (insertion order).
 */
export class MemoryRateCounter implements RateCounter {
  private readonly emptyAt = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly maxKeys = 100_000,
  ) {}

  hit(key: string, windowMs: number, max: number): Promise<RateCount> {
    const now = this.clock.now();
    const interval = windowMs / max;
    const known = this.emptyAt.get(key);
    if (known === undefined && this.emptyAt.size >= this.maxKeys) this.evict(now);
    const next = Math.max(known ?? now, now) + interval;
    if (next - now > windowMs) {
      return Promise.resolve({ count: max + 1, resetMs: Math.ceil(next - now - windowMs) });
    }
    this.emptyAt.set(key, next);
    return Promise.resolve({
      count: Math.ceil((next - now) / interval - 1e-9),
      resetMs: Math.ceil(next - now),
    });
  }

  private evict(now: number): void {
    for (const [key, at] of this.emptyAt) if (at <= now) this.emptyAt.delete(key);
    let excess = this.emptyAt.size - Math.floor(this.maxKeys * 0.9);
    for (const key of this.emptyAt.keys()) {
      if (excess-- <= 0) break;
      this.emptyAt.delete(key);
    }
  }
}
