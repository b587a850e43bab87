import type { Money } from './money.js';
import type { OrderStatus } from './status.js';

export interface OrderLine {
  readonly sku: string;
  readonly qty: number;
  readonly unitPrice: Money;
}

export interface StatusChange {
  readonly status: OrderStatus;
  /** ISO 8601 time of the change. */
  readonly at: string;
}

/** The order as the hot store keeps it: what the API shows and the saga drives. */
export interface Order {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly customerId: string;
  readonly email: string;
  readonly items: readonly OrderLine[];
  readonly total: Money;
  readonly paymentMethod: string;
  /** The API key name that created the order: a client key sees only its own orders. */
  readonly owner: string;
  /** The caller's IP, for the card-testing defence. */
  readonly clientIp: string;
  readonly history: readonly StatusChange[];
  /** The provider's charge id once paid. */
  readonly paymentRef?: string;
  /** Why the order ended where it did (decline message, expiry, …). */
  readonly reason?: string;
  /**
   * When the stock hold of a RESERVED order expires, as the stock store has it (the first
   * hold's expiry, also after a crash and a retried reserve).
   */
  readonly reservedUntil?: number;
  /**
   * The order ended while a charge's outcome was unknown (a lost answer, a provider that
   * stayed down, a cancel while charging): the provider is asked what it holds for the
   * order, and anything captured is refunded.
   */
  readonly chargeUnknown?: boolean;
  /** Set by a cancel request; the saga honours it at its next step. */
  readonly cancelRequested?: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * What the source of truth keeps of a terminal order: what the API shows of it once it has
 * left the hot cache (past the order retention). It can no longer be moved: `archived`.
 */
export interface ArchivedOrder extends OrderFacts {
  readonly archived: true;
}

/**
 * What every order shows, in the cache or archived in the source of truth: what the fan-out
 * consumers and the source of truth's records read (a consumer that lags past the order
 * retention gets the archived order).
 */
export type OrderFacts = Pick<
  Order,
  | 'orderId'
  | 'status'
  | 'customerId'
  | 'email'
  | 'items'
  | 'total'
  | 'owner'
  | 'history'
  | 'paymentRef'
  | 'reason'
  | 'createdAt'
  | 'updatedAt'
>;

/** An order as a read finds it: in the hot cache, or archived in the source of truth. */
export type KnownOrder = Order | ArchivedOrder;

/** Whether the order was read from the source of truth: terminal, and never to move again. */
export function isArchived(order: KnownOrder): order is ArchivedOrder {
  return 'archived' in order;
}

/** What a status transition may record besides the status. */
export interface TransitionPatch {
  readonly paymentRef?: string;
  readonly reason?: string;
  readonly reservedUntil?: number;
  readonly chargeUnknown?: boolean;
}

/** Quantities per SKU, lines of one SKU summed: what a reservation holds. */
export function quantitiesBySku(
  lines: readonly { sku: string; qty: number }[],
): Map<string, number> {
  const bySku = new Map<string, number>();
  for (const { sku, qty } of lines) bySku.set(sku, (bySku.get(sku) ?? 0) + qty);
  return bySku;
}

export function newOrder(fields: Omit<Order, 'status' | 'history' | 'updatedAt'>): Order {
  return {
    ...fields,
    status: 'PENDING',
    history: [{ status: 'PENDING', at: fields.createdAt }],
    updatedAt: fields.createdAt,
  };
}

export function applyTransition(
  order: Order,
  to: OrderStatus,
  at: string,
  patch: TransitionPatch = {},
): Order {
  return {
    ...order,
    ...patch,
    status: to,
    history: [...order.history, { status: to, at }],
    updatedAt: at,
  };
}
