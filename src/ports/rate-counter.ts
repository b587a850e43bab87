/** One request taken from its key's bucket, in the terms of a counter of `max` a window. */
export interface RateCount {
  /**
   * How full the key's bucket is after this request, from 1 to `max`; `max + 1` when the
   * request was refused (the bucket was full, nothing was taken).
   */
  readonly count: number;
  /** Refused: milliseconds until one request fits again. Taken: until the bucket is empty. */
  readonly resetMs: number;
}

/**
 * Request rates per key (an API key id, an IP) as token buckets that hold `max` requests and
 * drain at `max` per `windowMs` (GCRA: one timestamp per key, no window boundaries, so a
 * caller never gets more than `max` at once and then the rate). Every process that shares the
 * store shares the buckets, so the limit holds for the deployment, not per process.
 */
export interface RateCounter {
  /** Takes one request for `key` from a bucket of `max` that drains at `max` per `windowMs`. */
  hit(key: string, windowMs: number, max: number): Promise<RateCount>;
}
