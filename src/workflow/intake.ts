import { ApiError } from '../domain/errors.js';
import { eventIdOf, logTypeOf, orderIdOf, type OrderEvent } from '../domain/events.js';
import { total } from '../domain/money.js';
import { isCancellable } from '../domain/status.js';
import { newOrder, quantitiesBySku, type Order, type OrderLine } from '../domain/order.js';
import type { Clock } from '../ports/clock.js';
import type { EventLog, NewEvent } from '../ports/event-log.js';
import type { OrderStore } from '../ports/order-store.js';
import type { PaymentOutcome } from '../ports/payment-gateway.js';
import type { StockStore } from '../ports/stock-store.js';
import type { DeclineGuard } from './decline-guard.js';

export interface PlaceOrderInput {
  readonly customerId: string;
  readonly email: string;
  readonly items: readonly { readonly sku: string; readonly qty: number }[];
  readonly paymentMethod: string;
}

export interface Caller {
  /** The API key id (or `anonymous`) that owns what it creates. */
  readonly owner: string;
  readonly ip: string;
}

export interface IntakeDeps {
  readonly orders: OrderStore;
  readonly stock: StockStore;
  readonly log: EventLog;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly declines?: DeclineGuard;
}

/** Turns an order event into the log's envelope. */
export function toLogEvent(event: OrderEvent): NewEvent {
  return { id: eventIdOf(event), type: logTypeOf(event), key: orderIdOf(event), data: event };
}

/**
 * The checkout's entry point. Prices come from the catalog, never from the client. The
 * order and its OrderPlaced event are written together, and `alsoWrite` (the idempotency
 * record) is issued in the same tick, so a group-committing store makes all of it one
 * durable write.
 */
export class Intake {
  constructor(private readonly deps: IntakeDeps) {}

  async place(
    input: PlaceOrderInput,
    caller: Caller,
    alsoWrite?: (order: Order) => Promise<void>,
  ): Promise<Order> {
    const { orders, stock, clock, newId, declines } = this.deps;
    if (declines?.blocked(input.customerId, caller.ip)) {
      throw new ApiError(
        'too_many_declines',
        'too many declined payments in the last hour; try again later',
        undefined,
        600,
      );
    }
    const quantities = quantitiesBySku(input.items);
    const catalog = await stock.items([...quantities.keys()]);
    const lines: OrderLine[] = [];
    const unknown: string[] = [];
    for (const [sku, qty] of quantities) {
      const item = catalog.get(sku);
      if (item) lines.push({ sku, qty, unitPrice: item.price });
      else unknown.push(sku);
    }
    if (unknown.length > 0) {
      throw new ApiError('unknown_sku', `unknown SKU: ${unknown.join(', ')}`, { skus: unknown });
    }
    let orderTotal;
    try {
      orderTotal = total(lines);
    } catch (error) {
      throw new ApiError('validation_error', 'the items of one order must share one currency', {
        reason: error instanceof Error ? error.message : String(error),
      });
    }
    const now = new Date(clock.now()).toISOString();
    const order = newOrder({
      orderId: newId(),
      customerId: input.customerId,
      email: input.email,
      items: lines,
      total: orderTotal,
      paymentMethod: input.paymentMethod,
      owner: caller.owner,
      clientIp: caller.ip,
      createdAt: now,
    });
    await Promise.all([
      orders.create(order, [toLogEvent({ type: 'OrderPlaced', order })]),
      alsoWrite?.(order),
    ]);
    return order;
  }

  /**
   * Records the provider's word on a payment (a verified webhook); the saga applies it.
   * The same provider event recorded twice is stored once.
   */
  async confirmPayment(outcome: PaymentOutcome): Promise<void> {
    const { log, clock } = this.deps;
    const at = new Date(clock.now()).toISOString();
    await log.append([
      toLogEvent({
        type: 'PaymentConfirmed',
        orderId: outcome.orderId,
        paymentRef: outcome.paymentRef,
        succeeded: outcome.succeeded,
        ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
        at,
      }),
    ]);
  }

  /** Asks for a cancel; the saga carries it out (release, or refund and release). */
  async cancel(orderId: string): Promise<Order | undefined> {
    const { orders, log, clock } = this.deps;
    const order = await orders.requestCancel(orderId);
    if (!order) return undefined;
    if (!order.cancelRequested || !isCancellable(order.status)) {
      throw new ApiError(
        'not_cancellable',
        `an order in status ${order.status} cannot be cancelled`,
        {
          status: order.status,
        },
      );
    }
    const at = new Date(clock.now()).toISOString();
    await log.append([toLogEvent({ type: 'CancelRequested', orderId, at })]);
    return order;
  }
}
