import type { ArchivedOrder, StatusChange } from '../../domain/order.js';
import type { OrderStatus } from '../../domain/status.js';

/** An `orders` row of the source of truth as both engines read it (the same schema). */
export interface ArchivedOrderRow {
  readonly order_id: string;
  readonly customer_id: string;
  readonly email: string;
  readonly status: OrderStatus;
  readonly total_cents: number;
  readonly currency: string;
  readonly payment_ref: string | null;
  readonly owner: string;
  readonly reason: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

/** One `order_items` line, its price in the order's currency. */
export interface ArchivedItem {
  readonly sku: string;
  readonly qty: number;
  readonly unitCents: number;
}

/** The order the API shows, from its SoT row, lines and history. */
export function toArchivedOrder(
  row: ArchivedOrderRow,
  items: readonly ArchivedItem[],
  history: readonly StatusChange[],
): ArchivedOrder {
  const { currency } = row;
  return {
    orderId: row.order_id,
    status: row.status,
    customerId: row.customer_id,
    email: row.email,
    items: items.map(({ sku, qty, unitCents }) => ({
      sku,
      qty,
      unitPrice: { amount: Number(unitCents), currency },
    })),
    total: { amount: Number(row.total_cents), currency },
    owner: row.owner,
    history: history.map(({ status, at }) => ({ status, at })),
    ...(row.payment_ref !== null && { paymentRef: row.payment_ref }),
    ...(row.reason !== null && { reason: row.reason }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    archived: true,
  };
}
