import { TerminalError } from '../domain/errors.js';
import type { OrderEvent } from '../domain/events.js';
import { total } from '../domain/money.js';
import { isCancellable } from '../domain/status.js';
import { newOrder, quantitiesBySku, type Order, type OrderLine } from '../domain/order.js';
import type { Clock } from '../ports/clock.js';
import type { EventLog } from '../ports/event-log.js';
import type { OrderStore } from '../ports/order-store.js';
import type { PaymentOutcome } from '../ports/payment-gateway.js';
import type { StockStore } from '../ports/stock-store.js';
import type { DeclineGuard } from './decline-guard.js';
import { toLogEvent } from './log-event.js';

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
  /** Named points between two writes, for fault injection (`cancel-logged`). */
  readonly checkpoint?: (name: string) => void;
}

/** How one attempt at placing an order goes (see `IdempotencyStore.begin`). */
export interface PlaceAttempt {
  /** The order id this attempt creates (bound to the request's Idempotency-Key). */
  readonly orderId?: string;
  /** An earlier attempt for this id ended without an answer: finish it. */
  readonly resume?: boolean;
  /** Writes the record that must exist exactly when the order does (the stored answer). */
  readonly record?: (order: Order) => Promise<void>;
  /** Binds the request to a new order id, when the one resumed is dead for good. */
  readonly rebind?: (orderId: string) => Promise<void>;
}

/**
 * The checkout's entry point. Prices come from the catalog, never from the client. The
 * order and its OrderPlaced event are written together. The record of the answer (the
 * idempotency record) is issued in the same tick when the order store commits with the
 * log, so both are one durable write; otherwise only once the order is there for good, so
 * that no answer ever names an order the store then abandoned.
 */
export class Intake {
  constructor(private readonly deps: IntakeDeps) {}

  /** A fresh order id, for a request that binds it to its Idempotency-Key before placing. */
  newOrderId(): string {
    return this.deps.newId();
  }

  async place(input: PlaceOrderInput, caller: Caller, attempt: PlaceAttempt = {}): Promise<Order> {
    const { orders, stock, clock, newId, declines } = this.deps;
    const subject = {
      customerId: input.customerId,
      paymentMethod: input.paymentMethod,
      ip: caller.ip,
    };
    if (await declines?.blocked(subject)) {
      throw new TerminalError(
        'too_many_declines',
        'too many declined payments in the last hour; try again later',
        { retryAfterMs: 600_000 },
      );
    }
    let orderId = attempt.orderId ?? newId();
    if (attempt.resume) {
      const earlier = await this.resume(orderId, attempt);
      if (earlier) return earlier;
      // The earlier attempt's order never came to be (or was abandoned): a new one.
      orderId = newId();
      await attempt.rebind?.(orderId);
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
      throw new TerminalError('unknown_sku', `unknown SKU: ${unknown.join(', ')}`, {
        details: { skus: unknown },
      });
    }
    let orderTotal;
    try {
      orderTotal = total(lines);
    } catch (error) {
      throw new TerminalError(
        'validation_error',
        'the items of one order must share one currency',
        {
          details: { reason: error instanceof Error ? error.message : String(error) },
        },
      );
    }
    const now = new Date(clock.now()).toISOString();
    const order = newOrder({
      orderId,
      customerId: input.customerId,
      email: input.email,
      items: lines,
      total: orderTotal,
      paymentMethod: input.paymentMethod,
      owner: caller.owner,
      clientIp: caller.ip,
      createdAt: now,
    });
    const placed: OrderEvent = { type: 'OrderPlaced', order };
    if (orders.commitsWithLog) {
      await Promise.all([orders.create(order, [toLogEvent(placed)]), attempt.record?.(order)]);
    } else {
      await orders.create(order, [toLogEvent(placed)]);
      await attempt.record?.(order);
    }
    return order;
  }

  /**
   * Finishes an earlier attempt of a keyed request: its order, if it exists, with its
   * OrderPlaced published (again) under an id of its own (the saga handles an order's
   * OrderPlaced twice as once); undefined once the id is dead for good.
   */
  private async resume(orderId: string, attempt: PlaceAttempt): Promise<Order | undefined> {
    const { orders, log, clock } = this.deps;
    for (;;) {
      const earlier = await orders.get(orderId);
      if (earlier) {
        if (!orders.commitsWithLog) {
          const placed: OrderEvent = {
            type: 'OrderPlaced',
            order: earlier,
            resumedAt: clock.now(),
          };
          await log.append([toLogEvent(placed)]);
        }
        await attempt.record?.(earlier);
        return earlier;
      }
      // Absent now: dead for good unless the earlier attempt creates it this very moment.
      if (await orders.abandon(orderId)) return undefined;
    }
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
        amount: outcome.amount,
        ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
        at,
      }),
    ]);
  }

  /**
   * Asks for a cancel; the saga carries it out (release, or refund and release). The
   * request goes on the log first: a crash before the order is marked loses nothing, the
   * saga marks it when it handles the request. The mark decides the answer. `current` is the
   * order as the caller just read it (to check who may cancel it).
   */
  async cancel(current: Order): Promise<Order | undefined> {
    const { orders, log, clock } = this.deps;
    const { orderId } = current;
    if (!current.cancelRequested) {
      if (!isCancellable(current.status)) throw notCancellable(current);
      const at = new Date(clock.now()).toISOString();
      await log.append([toLogEvent({ type: 'CancelRequested', orderId, at })]);
      this.deps.checkpoint?.('cancel-logged');
    }
    const order = await orders.requestCancel(orderId);
    if (!order) return undefined;
    if (!order.cancelRequested || !isCancellable(order.status)) throw notCancellable(order);
    return order;
  }
}

function notCancellable(order: Order): TerminalError {
  return new TerminalError(
    'not_cancellable',
    `an order in status ${order.status} cannot be cancelled`,
    { details: { status: order.status } },
  );
}
