import type { EventLog } from '../ports/event-log.js';
import type { OrderStore } from '../ports/order-store.js';
import type { RetentionPolicy } from '../ports/retention.js';
import type { StockStore } from '../ports/stock-store.js';

export interface RetentionDeps {
  readonly log: EventLog;
  readonly orders: OrderStore;
  readonly stock: StockStore;
}

/** What one retention pass removed from each hot store. */
export interface RetentionPass {
  readonly events: number;
  readonly orders: number;
  readonly reservations: number;
}

/** The most often a pass runs: a store's own sweep is cheap, but not free. */
const MIN_INTERVAL_MS = 1_000;
/** The least often: what is due leaves within a minute of being due. */
const MAX_INTERVAL_MS = 60_000;

/**
 * How often the retention pass runs for a policy: four times per the shortest retention,
 * within one second and one minute. The log's guard (a lagging group's events are kept)
 * relies on running well within the log retention.
 */
export function retentionIntervalMs(policy: RetentionPolicy): number {
  const windows = [policy.logMs, policy.orderMs].filter((ms) => ms > 0);
  if (windows.length === 0) return MAX_INTERVAL_MS;
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.min(...windows) / 4));
}

/**
 * One pass of retention over the hot stores: the log drops what every group has settled
 * past the replay window, the order cache the orders the source of truth has held past the
 * order retention, the stock cache their finished reservations. Each store removes in small
 * batches of its own, so a pass never holds the checkout up; the stores decide what is
 * still needed, so a pass that runs twice, or in two processes, removes nothing twice.
 */
export async function applyRetention(deps: RetentionDeps): Promise<RetentionPass> {
  const events = await deps.log.applyRetention();
  const orders = await deps.orders.evictSettled();
  const reservations = await deps.stock.evictSettled();
  return { events, orders, reservations };
}
