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
   * Reserving again for the same order returns the first answer.
   */
  reserve(orderId: string, lines: readonly StockLine[], expiresAt: number): Promise<ReserveResult>;

  /** The held stock of the order becomes sold: it leaves `reserved` for good. */
  commit(orderId: string): Promise<void>;

  /**
   * Gives the order's stock back to `available`: a hold is released, a sale is returned
   * (a refund). Releasing twice, or an order never reserved, changes nothing.
   */
  release(orderId: string): Promise<void>;

  /** Orders whose hold has passed its expiry, oldest first. */
  expired(now: number, limit: number): Promise<string[]>;

  /** Catalog and stock of these SKUs; unknown SKUs are absent from the map. */
  items(skus: readonly string[]): Promise<Map<string, StockItem>>;

  /**
   * Sync-in: takes the source of truth's products and sets, atomically per call,
   * `available = onHand − sold but not yet in the source of truth − held`.
   */
  reconcile(products: readonly CatalogProduct[]): Promise<void>;

  /**
   * Sync-out tells the cache what the source of truth's `on_hand` now reflects for an
   * order: `consumed` when the order is there as COMPLETED (stock taken), else not.
   */
  markSynced(orderId: string, consumed: boolean): Promise<void>;

  close(): Promise<void>;
}

export interface StockLine {
  readonly sku: string;
  readonly qty: number;
}

export type ReserveResult =
  { readonly ok: true } | { readonly ok: false; readonly shortSkus: readonly string[] };

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
