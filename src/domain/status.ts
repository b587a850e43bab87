/** Where an order is in its life. The saga moves it forward; nothing else writes it. */
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

/** Statuses an order may end in. COMPLETED is terminal unless a cancel refunds it. */
export const TERMINAL_STATUSES: readonly OrderStatus[] = [
  'COMPLETED',
  'FAILED_NO_STOCK',
  'PAYMENT_FAILED',
  'CANCELLED',
  'REFUNDED',
];

const NEXT: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  PENDING: ['RESERVED', 'FAILED_NO_STOCK', 'CANCELLED'],
  RESERVED: ['PAID', 'PAYMENT_FAILED', 'CANCELLED'],
  PAID: ['COMPLETED', 'REFUNDED'],
  COMPLETED: ['REFUNDED'],
  FAILED_NO_STOCK: [],
  PAYMENT_FAILED: [],
  CANCELLED: [],
  REFUNDED: [],
};

export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return NEXT[from].includes(to);
}

/** A cancel is accepted while the order can still reach CANCELLED or REFUNDED. */
export function isCancellable(status: OrderStatus): boolean {
  return NEXT[status].includes('CANCELLED') || NEXT[status].includes('REFUNDED');
}
