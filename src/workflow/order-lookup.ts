import type { KnownOrder } from '../domain/order.js';
import type { OrderStore } from '../ports/order-store.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';

export interface OrderLookupDeps {
  readonly orders: Pick<OrderStore, 'get'>;
  readonly sot: Pick<SourceOfTruth, 'order'>;
}

/**
 * The order from the hot cache, else from the source of truth (an order past the order
 * retention has left the cache); undefined when neither has it. Only a cache miss asks the
 * SoT, whose adapter answers an outage with a `RetryableError` (a 503, never a 404).
 */
export async function findOrder(
  { orders, sot }: OrderLookupDeps,
  orderId: string,
): Promise<KnownOrder | undefined> {
  return (await orders.get(orderId)) ?? (await sot.order(orderId));
}
