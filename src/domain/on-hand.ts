import type { OrderStatus } from './status.js';

/**
 * What a status change does to the source of truth's `on_hand`, as a factor of the order's
 * quantities: `-1` takes them off, `1` gives them back, `0` leaves `on_hand` as it is.
 * A factor rather than a label because that is how it is applied: one
 * `on_hand + factor × qty` per SKU, for one order or a whole batch.
 */
export type OnHandEffect = -1 | 0 | 1;

/**
 * Whether the SoT's `on_hand` is without an order's quantities while the order is in
 * `status`. Only a sale takes stock off the shelf: COMPLETED. Before it the stock is only
 * held in the stock cache (a reservation), and an order that ends without a sale, or whose
 * sale is refunded, has nothing taken.
 */
export function takesOnHand(status: OrderStatus): boolean {
  return status === 'COMPLETED';
}

/**
 * The effect on `on_hand` of an order recorded at `from` (undefined: not recorded yet) now
 * recorded at `to`. It depends on the two statuses only, not on the path between them, so a
 * reader that sees copies of an order rather than each step (sync-out) still takes its
 * stock once and gives it back once: a new COMPLETED order takes, COMPLETED → REFUNDED gives
 * back, everything else leaves `on_hand` alone. Apply it only to changes that move the
 * record forward (`leadsTo`), so a stale copy cannot undo a newer one.
 */
export function onHandEffect(from: OrderStatus | undefined, to: OrderStatus): OnHandEffect {
  const taken = from !== undefined && takesOnHand(from);
  if (taken === takesOnHand(to)) return 0;
  return taken ? 1 : -1;
}
