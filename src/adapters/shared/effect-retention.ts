import type { RetentionPolicy } from '../../ports/retention.js';

/** How long a done effect is remembered without a retention: far past any redelivery. */
export const DEFAULT_EFFECT_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * How long the `once` ledger remembers a done effect (an e-mail sent for an order's status):
 * as long as an event that would repeat it can still be delivered — while it is in the log
 * (the log retention) or its order in the cache (the order retention), whichever is longer.
 * With either kept for good, the default. A dead letter redriven after that could repeat it.
 */
export function effectTtlMs(policy: RetentionPolicy | undefined): number {
  if (!policy || policy.logMs <= 0 || policy.orderMs <= 0) return DEFAULT_EFFECT_TTL_MS;
  return Math.max(policy.logMs, policy.orderMs);
}
