import type { Money } from '../domain/money.js';

/**
 * The stock cache: the catalog and, per SKU, what can be sold now (`available`) and what
 * is held for unpaid orders (`reserved`). Every method is one atomic operation in the
 * adapter (a conditional statement in a transaction, a Lua script), keyed by order id,
 * so calling it twice for one order does it once. `available` never goes below zero.
 */
export interface StockStore {
  /**
   * Holds every line of the order or none (lines of one SKU summed) until `expiresAt`.
   * Reserving again for the same order returns the first answer, with the first hold's
   * expiry: the hold's expiry is the stock store's, whatever a retried caller asked for.
   * A hold that was released is held anew (an order the intake abandoned, then resumed).
   */
  reserve(orderId: string, lines: readonly StockLine[], expiresAt: number): Promise<ReserveResult>;

  /** The held stock of the order becomes sold: it leaves `reserved` for good. */
  commit(orderId: string): Promise<void>;

  /**
   * Gives the order's stock back to `available`: a hold is released, a sale is returned
   * (a refund). Releasing twice, or an order never reserved, changes nothing.
   */
  release(orderId: string): Promise<void>;

  /**
   * Orders whose hold has passed its expiry and was not announced in the last
   * `reannounceMs`, oldest first; each one returned is marked announced at `now`. A hold
   * nobody can release (its order moved on elsewhere) so goes to the back of the line
   * instead of starving the newer ones, and is announced again later while it is held.
   */
  claimExpired(now: number, limit: number, reannounceMs: number): Promise<ExpiredHold[]>;

  /** Catalog and stock of these SKUs; unknown SKUs are absent from the map. */
  items(skus: readonly string[]): Promise<Map<string, StockItem>>;

  /**
   * Sync-in: takes the source of truth's products and sets, atomically per call,
   * `available = onHand − sold but not yet in the source of truth − held`.
   *
   * `fence` is the sync lease's token (see Lease). A call whose token is older than the
   * newest one this store has seen changes nothing and resolves false: a run that lost its
   * lease while paused cannot apply the `onHand` it read before a newer run changed the
   * source of truth. A fenced call with no products only records its token, which is how
   * a new run shuts the older ones out before it starts. Unfenced calls always apply.
   */
  reconcile(products: readonly CatalogProduct[], fence?: number): Promise<boolean>;

  /**
   * Sync-out tells the cache what the source of truth's `on_hand` now reflects for an
   * order: `consumed` when the order is there as COMPLETED (stock taken), else not.
   * Fenced like `reconcile`: false when refused.
   */
  markSynced(orderId: string, consumed: boolean, fence?: number): Promise<boolean>;

  /**
   * Removes the reservation records of orders marked synced longer than the order retention
   * ago (`RetentionPolicy.orderMs`; a store whose engine expires them itself counts 0);
   * resolves to how many it removed. A record still holding stock is never removed.
   */
  evictSettled(): Promise<number>;

  close(): Promise<void>;
}

export interface StockLine {
  readonly sku: string;
  readonly qty: number;
}

export type ReserveResult =
  | { readonly ok: true; readonly expiresAt: number }
  | { readonly ok: false; readonly shortSkus: readonly string[] };

export interface ExpiredHold {
  readonly orderId: string;
  readonly expiresAt: number;
}

export interface CatalogProduct {
  readonly sku: string;
  readonly name: string;
  readonly price: Money;
  readonly onHand: number;
}

export interface StockItem {
  readonly sku: string;
  readonly name: string;
  readonly price: Money;
  readonly available: number;
  readonly reserved: number;
}
