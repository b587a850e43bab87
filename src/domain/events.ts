import type { Money } from './money.js';
import type { Order } from './order.js';
import type { OrderStatus } from './status.js';

/**
 * Everything that happens to an order is one of these events on the log. Ids are
 * deterministic (order id + what happened), so a step that runs twice publishes once.
 */
export type OrderEvent =
  | {
      readonly type: 'OrderPlaced';
      readonly order: Order;
      /**
       * Set when a retry with the same Idempotency-Key finishes an attempt that failed
       * ambiguously: its own id, so the log takes it even if the first one landed.
       */
      readonly resumedAt?: number;
    }
  | {
      readonly type: 'OrderStatusChanged';
      readonly orderId: string;
      readonly status: OrderStatus;
      readonly at: string;
    }
  | { readonly type: 'CancelRequested'; readonly orderId: string; readonly at: string }
  | {
      /**
       * The stock store's word that the order's hold passed its expiry. A hold still there
       * is announced again later (`at` differs), so one lost announcement strands nothing.
       */
      readonly type: 'ReservationExpired';
      readonly orderId: string;
      readonly expiresAt: number;
      readonly at: string;
    }
  | {
      /** The provider's word on a payment that completed asynchronously (a webhook). */
      readonly type: 'PaymentConfirmed';
      readonly orderId: string;
      readonly paymentRef: string;
      readonly succeeded: boolean;
      /** What the provider captured (or was asked for, on a failure); checked against the order. */
      readonly amount?: Money;
      readonly reason?: string;
      readonly at: string;
    };

/** The event types the order saga is driven by (the `workflow` group). */
export const SAGA_EVENT_TYPES = [
  'OrderPlaced',
  'CancelRequested',
  'ReservationExpired',
  'PaymentConfirmed',
] as const satisfies readonly OrderEvent['type'][];

export function orderIdOf(event: OrderEvent): string {
  return event.type === 'OrderPlaced' ? event.order.orderId : event.orderId;
}

/** Deterministic event id: publishing the same fact twice is deduplicated by the log. */
export function eventIdOf(event: OrderEvent): string {
  const orderId = orderIdOf(event);
  switch (event.type) {
    case 'OrderPlaced':
      return event.resumedAt === undefined
        ? `${orderId}.placed`
        : `${orderId}.placed.${event.resumedAt}`;
    case 'OrderStatusChanged':
      return `${orderId}.status.${event.status}`;
    case 'CancelRequested':
      return `${orderId}.cancel`;
    case 'ReservationExpired':
      return `${orderId}.expired.${Date.parse(event.at)}`;
    case 'PaymentConfirmed':
      return `${orderId}.payment.${event.succeeded ? 'succeeded' : 'failed'}.${event.paymentRef}`;
  }
}

/**
 * The type an event is filed under on the log. Status changes are filed per status
 * (`OrderStatusChanged.COMPLETED`), so a consumer that wants two statuses is handed those
 * two and never the others.
 */
export function logTypeOf(event: OrderEvent): string {
  return event.type === 'OrderStatusChanged' ? statusChangeType(event.status) : event.type;
}

export function statusChangeType(status: OrderStatus): string {
  return `OrderStatusChanged.${status}`;
}

const ORDER_EVENT_TYPES: ReadonlySet<string> = new Set<OrderEvent['type']>([
  'OrderPlaced',
  'OrderStatusChanged',
  'CancelRequested',
  'ReservationExpired',
  'PaymentConfirmed',
]);

/**
 * An event's data as read from the log, checked to be an order event of a known type
 * naming its order; undefined for anything else (a foreign or corrupt payload).
 */
export function asOrderEvent(data: unknown): OrderEvent | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { type } = data as { type?: unknown };
  if (typeof type !== 'string' || !ORDER_EVENT_TYPES.has(type)) return undefined;
  const event = data as OrderEvent;
  const orderId =
    event.type === 'OrderPlaced'
      ? (event.order as { orderId?: unknown } | undefined)?.orderId
      : (event as { orderId?: unknown }).orderId;
  return typeof orderId === 'string' ? event : undefined;
}
