import type {} from 'fastify';
import { RetryableError } from '../domain/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false`: this route is never rate limited (the health probes). */
    rateLimit?: boolean;
  }
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, ms. */
  at: number;
}

export interface RateLimiterOptions {
  /** Tokens per second; 0 turns the limiter off. */
  readonly ratePerSecond: number;
  /** Most buckets kept; beyond it idle (full) buckets go first, then the oldest. */
  readonly maxBuckets?: number;
  readonly now: () => number;
}

/**
 * Token buckets per name (an API key id or an IP), in memory: capacity twice the rate,
 * refilled continuously at the rate. A full bucket is the same as no bucket, so buckets
 * that have refilled are the first to be evicted when the map reaches its bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly capacity: number;
  private readonly maxBuckets: number;
  private readonly now: () => number;

  constructor(options: RateLimiterOptions) {
    this.rate = options.ratePerSecond;
    this.capacity = options.ratePerSecond * 2;
    this.maxBuckets = options.maxBuckets ?? 100_000;
    this.now = options.now;
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `name`; returns 0 when allowed, else the seconds to wait (≥ 1). */
  take(name: string): number {
    if (this.rate <= 0) return 0;
    const now = this.now();
    let bucket = this.buckets.get(name);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxBuckets) this.evict(now);
      bucket = { tokens: this.capacity, at: now };
      this.buckets.set(name, bucket);
    } else if (now > bucket.at) {
      bucket.tokens = Math.min(
        this.capacity,
        bucket.tokens + ((now - bucket.at) * this.rate) / 1000,
      );
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate));
  }

  private evict(now: number): void {
    const refillMs = (this.capacity / this.rate) * 1000;
    for (const [name, bucket] of this.buckets) {
      if (now - bucket.at >= refillMs) this.buckets.delete(name);
    }
    // Still full of busy callers: drop the oldest tenth (insertion order).
    let excess = this.buckets.size - Math.floor(this.maxBuckets * 0.9);
    for (const name of this.buckets.keys()) {
      if (excess-- <= 0) break;
      this.buckets.delete(name);
    }
  }
}

/** The answer to a caller over its rate: `429 rate_limited` with `Retry-After`. */
export function rateLimited(waitSeconds: number): RetryableError {
  return new RetryableError('rate_limited', 'too many requests; slow down', waitSeconds * 1000);
}
