import type { ArchivedOrder, Order, OrderFacts } from '../domain/order.js';
import type { CatalogProduct } from './stock-store.js';

/**
 * The code of the `RetryableError` an adapter fails with when its database does not exist
 * (never created, or a wrong name in its URL). It is retried like an outage — creating the
 * database mends it — but it is a configuration error, which readiness reports, whereas an
 * outage is ridden out.
 */
export const SOT_DATABASE_MISSING = 'sot_database_missing';

/**
 * The code of the `RetryableError` an adapter fails with when its schema is behind this
 * version and the configured user may not migrate it (a least-privilege runtime user): a
 * configuration error too, mended by running `orderflow migrate` as the schema's owner.
 */
export const SOT_SCHEMA_BEHIND = 'sot_schema_behind';

/**
 * The shop's own database: the catalog with on-hand stock, the final orders, shipment
 * requests and sales figures. It may be down; callers keep their backlog and retry.
 */
export interface SourceOfTruth {
  products(): Promise<CatalogProduct[]>;

  product(sku: string): Promise<CatalogProduct | undefined>;

  /** Creates or replaces a product (name, price, on hand). */
  putProduct(product: CatalogProduct): Promise<void>;

  /**
   * Writes terminal orders and their items in one transaction, idempotent per order:
   * a new COMPLETED order takes its quantities off `on_hand`; a COMPLETED order now
   * REFUNDED gives them back; nothing is applied twice.
   */
  applyOrders(orders: readonly Order[]): Promise<void>;

  /**
   * A terminal order as `applyOrders` last wrote it, with its history: what the API shows of
   * an order that has left the hot cache. Undefined when the SoT does not hold it.
   */
  order(orderId: string): Promise<ArchivedOrder | undefined>;

  /** Records a shipment request for a COMPLETED order (once per order). */
  requestShipment(order: OrderFacts, at: number): Promise<void>;

  /** Counts the order and its total in its minute and status (once per order and status). */
  recordSale(order: OrderFacts, status: string, at: number): Promise<void>;

  ping(): Promise<boolean>;

  close(): Promise<void>;
}
