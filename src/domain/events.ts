import type { Order } from './order.js';
import type { OrderStatus } from './status.js';

/**
 * Everything that happens to an order is one of these events on the log. Ids are
 * deterministic (order id + what happened), so a step that runs twice publishes once.
 */
export type OrderEvent =
  | { readonly type: 'OrderPlaced'; readonly order: Order }
  | {
      readonly type: 'OrderStatusChanged';
      readonly orderId: string;
      readonly status: OrderStatus;
      readonly at: string;
    }
  | { readonly type: 'CancelRequested'; readonly orderId: string; readonly at: string }
  | { readonly type: 'ReservationExpired'; readonly orderId: string; readonly at: string }
  | {
      /** The provider's word on a payment that completed asynchronously (a webhook). */
      readonly type: 'PaymentConfirmed';
      readonly orderId: string;
      readonly paymentRef: string;
      readonly succeeded: boolean;
      readonly reason?: string;
      readonly at: string;
    };

export function orderIdOf(event: OrderEvent): string {
  return event.type === 'OrderPlaced' ? event.order.orderId : event.orderId;
}

/** Deterministic event id: publishing the same fact twice is deduplicated by the log. */
export function eventIdOf(event: OrderEvent): string {
  const orderId = orderIdOf(event);
  switch (event.type) {
    case 'OrderPlaced':
      return `${orderId}.placed`;
    case 'OrderStatusChanged':
      return `${orderId}.status.${event.status}`;
    case 'CancelRequested':
      return `${orderId}.cancel`;
    case 'ReservationExpired':
      return `${orderId}.expired`;
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
