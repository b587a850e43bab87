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

/** The status machine: the statuses each status may change to in one step of the saga. */
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

/** A step of the machine, as `FROM>TO`. */
export type Transition = `${OrderStatus}>${OrderStatus}`;

/** Every step the machine allows, in the order of `ORDER_STATUSES`. */
export const TRANSITIONS: readonly Transition[] = ORDER_STATUSES.flatMap((from) =>
  NEXT[from].map((to): Transition => `${from}>${to}`),
);

export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Whether `to` may follow `from` in one step (one status change of the saga). */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return NEXT[from].includes(to);
}

/** Every status reachable from `status` in one or more steps (the machine has no cycles). */
function after(status: OrderStatus): OrderStatus[] {
  return NEXT[status].flatMap((next) => [next, ...after(next)]);
}

const LATER: ReadonlyMap<OrderStatus, ReadonlySet<OrderStatus>> = new Map(
  ORDER_STATUSES.map((status) => [status, new Set(after(status))]),
);

/**
 * Whether `to` may follow `from`, in one step or several: whether `to` is the newer of the
 * two. Readers of an order that see copies of it rather than each step (sync-out applying
 * terminal orders, a retried or reordered batch) go by this to move a record only forward:
 * a copy whose status does not follow the recorded one is stale and changes nothing. The
 * machine has no cycles, so no status follows itself and a redelivered copy is a no-op.
 */
export function leadsTo(from: OrderStatus, to: OrderStatus): boolean {
  return LATER.get(from)?.has(to) ?? false;
}

/** A cancel is accepted while the order can still reach CANCELLED or REFUNDED. */
export function isCancellable(status: OrderStatus): boolean {
  return NEXT[status].includes('CANCELLED') || NEXT[status].includes('REFUNDED');
}
