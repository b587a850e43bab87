/** The external contract (DESIGN.md) as the tests see it: response shapes and request builders. */

export const ORDER_STATUSES = [
  'PENDING',
  'RESERVED',
  'PAID',
  'COMPLETED',
  'FAILED_NO_STOCK',
  'PAYMENT_FAILED',
  'CANCELLED',
  'REFUNDED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const TERMINAL_STATUSES: readonly OrderStatus[] = [
  'COMPLETED',
  'FAILED_NO_STOCK',
  'PAYMENT_FAILED',
  'CANCELLED',
  'REFUNDED',
];

/** Final: nothing moves an order out of these (COMPLETED can still become REFUNDED). */
export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export interface Money {
  readonly amount: number;
  readonly currency: string;
}

export interface AcceptedOrder {
  readonly orderId: string;
  readonly status: string;
  readonly total: Money;
}

export interface OrderView {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly customerId: string;
  readonly email: string;
  readonly items: readonly { sku: string; qty: number; unitPrice: Money }[];
  readonly total: Money;
  readonly history: readonly { status: OrderStatus; at: string }[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly paymentRef?: string | null;
  /** Why the order ended where it did. */
  readonly reason?: string;
}

export interface ProductView {
  readonly sku: string;
  readonly name: string;
  readonly price: Money;
  readonly available: number;
}

export interface AdminProductView extends ProductView {
  readonly onHand: number;
  readonly reserved: number;
}

export interface StatsView {
  readonly orders: Partial<Record<string, number>>;
  readonly consumers: Record<string, { lag?: number; inFlight?: number; dlq?: number }>;
  readonly sync: { backlog?: number; lastSyncAt?: string | number | null };
}

export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

export interface OrderLineInput {
  sku: string;
  qty: number;
}

export interface OrderInput {
  customerId: string;
  email: string;
  items: OrderLineInput[];
  paymentMethod: string;
}

export const VISA = 'pm_card_visa';
export const DECLINED = 'pm_card_chargeDeclined';

let customerSeq = 0;

/** A valid order body: one line of `sku` × `qty`, paid by card `paymentMethod`; fields overridable. */
export function orderBody(
  overrides: Partial<OrderInput> & { sku?: string; qty?: number } = {},
): OrderInput {
  const { sku = 'A123', qty = 1, ...rest } = overrides;
  const n = ++customerSeq;
  return {
    customerId: `cust-${process.pid}-${n}`,
    email: `buyer${n}@example.test`,
    items: [{ sku, qty }],
    paymentMethod: VISA,
    ...rest,
  };
}

/** The `error.code` of an error body, or undefined when the body has none. */
export function errorCode(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const error = (json as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Sum of the per-status order counts of `GET /v1/admin/stats`. */
export function totalOrders(stats: StatsView): number {
  return Object.values(stats.orders).reduce<number>((sum, n) => sum + (n ?? 0), 0);
}

export function historyStatuses(order: OrderView): string[] {
  return order.history.map((h) => h.status);
}
