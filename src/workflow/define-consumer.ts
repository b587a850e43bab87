import type { OrderFacts } from '../domain/order.js';
import type { OrderStatus } from '../domain/status.js';
import type { StartAt } from '../ports/event-log.js';

/**
 * A fan-out consumer: its own consumer group on the log, told of every order that
 * reaches one of the statuses in `on`. Delivery is at least once, so `handle` must be
 * idempotent; `ctx.once` helps with effects that cannot be (an email, a credit).
 * Adding one touches nothing in checkout.
 */
export interface ConsumerDefinition {
  /** The consumer group's name: letters, digits, `-` and `_`. */
  readonly name: string;
  /** The statuses this consumer wants to hear about. */
  readonly on: readonly OrderStatus[];
  readonly handle: (ctx: ConsumerContext) => Promise<void>;
  /** Events handled at once (different orders); default 16. */
  readonly concurrency?: number;
  /**
   * Where the consumer starts the first time it runs: `now` (the default: orders that reach
   * a status from then on) or `beginning` (every status change still in the log: a backfill).
   * Once it has run it goes on from where it left off.
   */
  readonly from?: StartAt;
  /** How a failing `handle` is retried before its event goes to the dead-letter queue. */
  readonly retry?: ConsumerRetry;
}

export interface ConsumerRetry {
  /** Attempts of one event before it is dead-lettered (default 3). */
  readonly attempts?: number;
  /** The first retry's delay; each next one doubles, with jitter (default 100 ms). */
  readonly baseDelayMs?: number;
  /** No retry waits longer than this (default 30 s). */
  readonly maxDelayMs?: number;
}

export interface ConsumerContext {
  /** The status that was reached. */
  readonly status: OrderStatus;
  /** When it was reached (ISO 8601). */
  readonly at: string;
  /** The order as it is now (it may have moved on since). */
  readonly order: OrderFacts;
  /** The log's sequence number of the event: replays repeat it. */
  readonly seq: number;
  /**
   * Runs `effect` unless an effect with this key already ran to completion. A crash
   * between the effect and its record runs it again: at least once, at most once per
   * successful run.
   */
  readonly once: (key: string, effect: () => Promise<void>) => Promise<void>;
}

export function defineConsumer(definition: ConsumerDefinition): ConsumerDefinition {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(definition.name)) {
    throw new TypeError(`consumer name "${definition.name}": 1–64 letters, digits, - or _`);
  }
  if (definition.on.length === 0) throw new TypeError(`consumer ${definition.name}: "on" is empty`);
  const { attempts, baseDelayMs, maxDelayMs } = definition.retry ?? {};
  if (attempts !== undefined && (!Number.isInteger(attempts) || attempts < 1))
    throw new TypeError(`consumer ${definition.name}: retry.attempts must be an integer ≥ 1`);
  for (const [what, ms] of [
    ['baseDelayMs', baseDelayMs],
    ['maxDelayMs', maxDelayMs],
  ] as const) {
    if (ms !== undefined && !(Number.isFinite(ms) && ms >= 0))
      throw new TypeError(`consumer ${definition.name}: retry.${what} must be ≥ 0`);
  }
  if (definition.from !== undefined && definition.from !== 'now' && definition.from !== 'beginning')
    throw new TypeError(`consumer ${definition.name}: from must be 'now' or 'beginning'`);
  return definition;
}
