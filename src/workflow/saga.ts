import { RetryableError, TerminalError } from '../domain/errors.js';
import type { OrderEvent } from '../domain/events.js';
import type { Money } from '../domain/money.js';
import type { Order, TransitionPatch } from '../domain/order.js';
import type { OrderStatus } from '../domain/status.js';
import type { Clock } from '../ports/clock.js';
import type { EventLog, NewEvent } from '../ports/event-log.js';
import type { OrderStore } from '../ports/order-store.js';
import type { ChargeResult, PaymentGateway } from '../ports/payment-gateway.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import type { ReserveResult, StockStore } from '../ports/stock-store.js';
import { toLogEvent } from './log-event.js';
import { step } from './step.js';

export interface SagaDeps {
  readonly orders: OrderStore;
  readonly stock: StockStore;
  /**
   * Where an order that left the cache (past the order retention) is: such an order is
   * finished, so a late event of it (a redriven dead letter, say) neither recreates it nor
   * releases its reservation, which the sale already took.
   */
  readonly sot: Pick<SourceOfTruth, 'order'>;
  readonly payments: PaymentGateway;
  readonly log: EventLog;
  readonly clock: Clock;
  readonly reservationTtlMs: number;
  /** How long a provider may keep failing before an order gives up (PAYMENT_FAILED). */
  readonly paymentGiveUpMs: number;
  /** Told of every status an order reaches (metrics, logs). */
  readonly onStatus?: (order: Order) => void;
  /**
   * Counts the order's failed payment for the card-testing defence, awaited BEFORE the order
   * shows PAYMENT_FAILED: whoever sees the failure (the customer retrying at once, another
   * process) sees it counted, and a crash between the two cannot lose the count — the
   * redelivery counts again, which errs on the safe side of a limit.
   */
  readonly countDecline?: (order: Order) => Promise<void>;
  /** Named points between two steps, for fault injection (`after-reserve`, `payment-failed`). */
  readonly checkpoint?: (name: string) => void;
}

function statusChanged(orderId: string, status: OrderStatus, at: string): NewEvent {
  return toLogEvent({ type: 'OrderStatusChanged', orderId, status, at });
}

/** The saga's steps, each declared with its compensation (see the constructor). */
export const STEP_IDS = {
  reserveStock: 'reserve-stock',
  chargePayment: 'charge-payment',
  commitStock: 'commit-stock',
} as const;

/** What undoes each step: the hold released, the charge refunded, the sale's stock returned. */
export const COMPENSATION_IDS = {
  reserveStock: 'release-stock',
  chargePayment: 'refund-payment',
  commitStock: 'return-stock',
} as const;

/** Idempotency keys for the provider, derived from the order and the step. */
export const chargeKey = (orderId: string): string => `${orderId}:charge`;
export const refundKey = (orderId: string): string => `${orderId}:refund`;
export const cancelKey = (orderId: string): string => `${orderId}:cancel`;

/** What woke the saga besides the order's stored status. */
interface Trigger {
  /** The order as placed: recreates it if the store lost it (never one it abandoned). */
  readonly placed?: Order;
  /** The stock store said the hold expired: trusted over this process's clock. */
  readonly expired?: boolean;
}

/**
 * The order saga. It is driven by the order's stored status, not by the event that woke
 * it: any event of an order (placed, cancel requested, reservation expired, a
 * redelivery after a crash) makes it take the order from wherever it is to the next
 * stable point.
 *
 * Events of one order may be handled at once in two processes. What keeps that safe: a
 * status change is a compare-and-set and it DECIDES; stock and money follow the decided
 * status, idempotently (`settle`). No stock is given back before the order has moved to a
 * status that gives it back, and whoever loses a compare-and-set settles the status that
 * won — so a hold made by the loser is released too, and a charge the loser took for an
 * order that ended without it is refunded.
 */
export class OrderSaga {
  readonly reserveStock;
  readonly chargePayment;
  readonly commitStock;

  constructor(private readonly deps: SagaDeps) {
    const { stock, payments } = deps;
    this.reserveStock = step<Order, ReserveResult>(
      STEP_IDS.reserveStock,
      (order) => stock.reserve(order.orderId, order.items, this.now() + deps.reservationTtlMs),
      (order) => stock.release(order.orderId),
      COMPENSATION_IDS.reserveStock,
    );
    this.chargePayment = step<Order, ChargeResult>(
      STEP_IDS.chargePayment,
      (order) =>
        payments.charge({
          orderId: order.orderId,
          amount: order.total,
          paymentMethod: order.paymentMethod,
          idempotencyKey: chargeKey(order.orderId),
        }),
      async (order) => {
        if (order.paymentRef === undefined) return;
        await this.refundCaptured(order, order.paymentRef, order.total);
      },
      COMPENSATION_IDS.chargePayment,
    );
    this.commitStock = step<Order, void>(
      STEP_IDS.commitStock,
      (order) => stock.commit(order.orderId),
      (order) => stock.release(order.orderId),
      COMPENSATION_IDS.commitStock,
    );
  }

  /** Handles one event of the `workflow` group (see SAGA_EVENT_TYPES). */
  async handle(event: OrderEvent): Promise<void> {
    switch (event.type) {
      case 'OrderPlaced':
        return this.advance(event.order.orderId, { placed: event.order });
      case 'CancelRequested':
        // The log holds the request; marking the order is part of handling it, so a crash
        // of the intake between its two writes loses no cancel.
        await this.deps.orders.requestCancel(event.orderId);
        return this.advance(event.orderId);
      case 'ReservationExpired':
        return this.advance(event.orderId, { expired: true });
      case 'PaymentConfirmed':
        return this.confirmPayment(
          event.orderId,
          event.paymentRef,
          event.succeeded,
          event.reason,
          event.amount,
        );
      case 'OrderStatusChanged':
        return this.advance(event.orderId);
    }
  }

  /** Takes the order as far as it can go now. */
  async advance(orderId: string, trigger: Trigger = {}): Promise<void> {
    let order = await this.deps.orders.get(orderId);
    if (!order && (await this.archived(orderId))) return;
    if (!order && trigger.placed) {
      await this.deps.orders.create(trigger.placed);
      order = await this.deps.orders.get(orderId);
    }
    if (!order) {
      // Abandoned by the intake (its answer was a 503): nothing may stay held for it.
      await this.deps.stock.release(orderId);
      return;
    }
    if (order.status !== 'PENDING') {
      // A crash may have come between a status change and its announcement or its effects.
      await this.announce(order);
      await this.settle(order);
    }
    for (;;) {
      const next: Order | undefined = await this.next(order, trigger);
      if (!next) return;
      order = next;
    }
  }

  /**
   * Whether an order the cache does not have is one the source of truth holds (it left the
   * cache after the order retention) rather than one the intake abandoned. Asked only on a
   * cache miss; a source of truth that is down fails the delivery, which is retried.
   */
  private async archived(orderId: string): Promise<boolean> {
    return (await this.deps.sot.order(orderId)) !== undefined;
  }

  /**
   * The event could not be handled and goes to the dead-letter queue: the order must
   * still end, with its stock back and no money kept (PAYMENT_FAILED or CANCELLED with
   * the reason). A redrive of the letter later finds the order ended and settles it again.
   */
  async giveUp(orderId: string, reason: string): Promise<void> {
    const order = await this.deps.orders.get(orderId);
    if (!order) return;
    switch (order.status) {
      case 'PENDING':
        await this.release(order, 'CANCELLED', `could not be processed: ${reason}`);
        return;
      case 'RESERVED':
        await this.release(order, 'PAYMENT_FAILED', `could not be processed: ${reason}`, {
          chargeUnknown: true,
        });
        return;
      case 'PAID':
        await this.refund(order, `could not be completed: ${reason}`);
        return;
      default:
        await this.settle(order);
    }
  }

  /**
   * The saga as a table: from each status it moves on from, the step it takes; a status
   * not here is a stable point (terminal, or COMPLETED without a cancel).
   */
  private readonly fromStatus: Partial<
    Record<OrderStatus, (order: Order, trigger: Trigger) => Promise<Order | undefined>>
  > = {
    PENDING: (order) => this.fromPending(order),
    RESERVED: (order, trigger) => this.fromReserved(order, trigger),
    PAID: (order) => (order.cancelRequested ? this.refund(order) : this.complete(order)),
    COMPLETED: (order) => (order.cancelRequested ? this.refund(order) : Promise.resolve(undefined)),
  };

  /**
   * What undoes what, by status: the compensations that make stock and money follow a
   * status once it is decided. Each is idempotent; statuses not here leave things as they are.
   */
  private readonly settlement: Partial<Record<OrderStatus, (order: Order) => Promise<void>>> = {
    CANCELLED: (order) => this.endWithoutSale(order),
    PAYMENT_FAILED: (order) => this.endWithoutSale(order),
    FAILED_NO_STOCK: (order) => this.endWithoutSale(order),
    REFUNDED: (order) => this.commitStock.compensate(order),
  };

  /** One step from the current status; undefined when the order is at a stable point. */
  private next(order: Order, trigger: Trigger): Promise<Order | undefined> {
    return this.fromStatus[order.status]?.(order, trigger) ?? Promise.resolve(undefined);
  }

  private async fromPending(order: Order): Promise<Order | undefined> {
    if (order.cancelRequested) return this.release(order, 'CANCELLED', 'cancelled by the customer');
    const reserved = await this.reserveStock.invoke(order);
    this.deps.checkpoint?.('after-reserve');
    if (!reserved.ok) {
      return this.move(order, 'FAILED_NO_STOCK', {
        reason: `not enough stock: ${reserved.shortSkus.join(', ')}`,
      });
    }
    // The order records the hold's own expiry: after a crash and a retried reserve it is
    // the first hold's, the one the expiry sweep goes by.
    return this.move(order, 'RESERVED', { reservedUntil: reserved.expiresAt });
  }

  /**
   * Charges first: a charge that succeeds takes the order on even past its reservation's
   * TTL (the hold is only ever released by the saga). A charge waiting for the customer
   * (3-D Secure) leaves the order RESERVED until the webhook or the reservation's expiry;
   * a provider that keeps failing leaves it RESERVED, retried, until the give-up horizon.
   * A provider that refuses the request for good (an amount it does not take, a revoked
   * key) fails the order at once.
   */
  private async fromReserved(order: Order, trigger: Trigger): Promise<Order | undefined> {
    if (order.cancelRequested) {
      // A charge may be under way (another worker, a lost answer): the provider is asked.
      return this.release(order, 'CANCELLED', 'cancelled by the customer', {
        chargeUnknown: true,
      });
    }
    let charged: ChargeResult;
    try {
      charged = await this.chargePayment.invoke(order);
    } catch (error) {
      if (error instanceof TerminalError) {
        return this.release(order, 'PAYMENT_FAILED', `payment refused: ${error.message}`);
      }
      if (!(error instanceof RetryableError) || !this.pastHorizon(order)) throw error;
      return this.release(
        order,
        'PAYMENT_FAILED',
        `payment provider unavailable for ${Math.round(this.deps.paymentGiveUpMs / 1000)} s: ${error.message}`,
        { chargeUnknown: true },
      );
    }
    switch (charged.status) {
      case 'declined':
        return this.release(order, 'PAYMENT_FAILED', charged.reason);
      case 'cancelled':
        // Cancelled at the hold's expiry, before a crash kept the order from CANCELLED.
        return this.release(order, 'CANCELLED', 'reservation expired before the payment completed');
      case 'pending':
        return trigger.expired || this.reservationExpired(order)
          ? this.expire(order, charged.paymentRef)
          : undefined;
      case 'succeeded':
        return this.paid(order, charged.paymentRef);
    }
  }

  /**
   * The hold expired while the payment waits for the customer: the payment is cancelled at
   * the provider first, so it cannot capture later; if it captured meanwhile, the order is
   * paid after all (its stock is still held).
   */
  private async expire(order: Order, paymentRef: string): Promise<Order | undefined> {
    const cancelled = await this.deps.payments.cancel({
      orderId: order.orderId,
      paymentRef,
      idempotencyKey: cancelKey(order.orderId),
    });
    if (cancelled.status === 'succeeded') {
      if (sameMoney(cancelled.amount, order.total)) return this.paid(order, cancelled.paymentRef);
      return this.wrongAmount(order, cancelled.paymentRef, cancelled.amount);
    }
    return this.release(order, 'CANCELLED', 'reservation expired before the payment completed', {
      paymentRef,
    });
  }

  /**
   * The provider's word on a payment that completed later (a webhook). A success for an
   * order that has given up meanwhile is refunded; so is one for another amount than the
   * order's total, and the order fails.
   */
  async confirmPayment(
    orderId: string,
    paymentRef: string,
    succeeded: boolean,
    reason?: string,
    amount?: Money,
  ): Promise<void> {
    const order = await this.deps.orders.get(orderId);
    if (!order) return;
    if (succeeded && amount !== undefined && !sameMoney(amount, order.total)) {
      if (order.status === 'RESERVED') await this.wrongAmount(order, paymentRef, amount);
      else if (endedWithoutPayment(order.status))
        await this.refundCaptured(order, paymentRef, amount);
      return;
    }
    if (order.status === 'RESERVED') {
      const next = succeeded
        ? await this.paid(order, paymentRef)
        : await this.release(order, 'PAYMENT_FAILED', reason ?? 'the payment failed');
      if (next) await this.advance(orderId);
      return;
    }
    if (succeeded && endedWithoutPayment(order.status)) {
      await this.chargePayment.compensate({ ...order, paymentRef });
      return;
    }
    // Already past RESERVED (a redelivery after a crash at PAID, say): take it on from there.
    await this.advance(orderId);
  }

  private async paid(order: Order, paymentRef: string): Promise<Order | undefined> {
    const paid = await this.move(order, 'PAID', { paymentRef });
    if (!paid) {
      // Another process moved the order meanwhile. If it ended it without the money
      // (a cancel, an expiry), the charge must go back; if it took the payment too, the
      // provider answered both with the same charge and nothing is owed.
      const current = await this.deps.orders.get(order.orderId);
      if (current && endedWithoutPayment(current.status)) {
        await this.chargePayment.compensate({ ...order, paymentRef });
      }
    }
    return paid;
  }

  /** Captured, but not the order's total: the money goes back and the order fails. */
  private async wrongAmount(order: Order, paymentRef: string, amount: Money): Promise<undefined> {
    const moved = await this.release(
      order,
      'PAYMENT_FAILED',
      `the provider captured ${amount.amount} ${amount.currency}, the order is ${order.total.amount} ${order.total.currency}`,
    );
    const current = moved ?? (await this.deps.orders.get(order.orderId));
    if (current && endedWithoutPayment(current.status)) {
      await this.refundCaptured(order, paymentRef, amount);
    }
    return undefined;
  }

  /** Ends the order without a sale; its stock goes back once the status is decided. */
  private release(
    order: Order,
    to: OrderStatus,
    reason: string,
    patch: TransitionPatch = {},
  ): Promise<Order | undefined> {
    return this.move(order, to, { ...patch, reason });
  }

  private async complete(order: Order): Promise<Order | undefined> {
    await this.commitStock.invoke(order);
    return this.move(order, 'COMPLETED');
  }

  /**
   * Cancel after payment: the money back first (a cancelled PAID or COMPLETED order can
   * only end REFUNDED, so refunding before the status change is safe), then the status,
   * then the stock.
   */
  private async refund(
    order: Order,
    reason = 'cancelled by the customer',
  ): Promise<Order | undefined> {
    await this.chargePayment.compensate(order);
    return this.move(order, 'REFUNDED', { reason });
  }

  /**
   * Makes stock follow the status: an order that ended without a sale holds nothing, a
   * refunded one has its sale returned. Idempotent; a no-op for other statuses.
   */
  private async settle(order: Order): Promise<void> {
    await this.settlement[order.status]?.(order);
  }

  /** No sale: the hold goes back, and whatever a charge of unknown outcome took. */
  private async endWithoutSale(order: Order): Promise<void> {
    await this.reserveStock.compensate(order);
    if (order.chargeUnknown) await this.recoverCharge(order);
  }

  /**
   * An order that ended while its charge's outcome was unknown: whatever the provider holds
   * for it is stopped or refunded. (A success the provider reports later by webhook is
   * refunded by `confirmPayment`.)
   */
  private async recoverCharge(order: Order): Promise<void> {
    const { payments } = this.deps;
    const held = await payments.find(order.orderId);
    if (held.status === 'succeeded') {
      await this.refundCaptured(order, held.paymentRef, held.amount);
    } else if (held.status === 'pending') {
      const cancelled = await payments.cancel({
        orderId: order.orderId,
        paymentRef: held.paymentRef,
        idempotencyKey: cancelKey(order.orderId),
      });
      if (cancelled.status === 'succeeded') {
        await this.refundCaptured(order, cancelled.paymentRef, cancelled.amount);
      }
    }
  }

  private refundCaptured(order: Order, paymentRef: string, amount: Money): Promise<void> {
    return this.deps.payments.refund({
      orderId: order.orderId,
      paymentRef,
      amount,
      idempotencyKey: refundKey(order.orderId),
    });
  }

  private async move(
    order: Order,
    to: OrderStatus,
    patch?: TransitionPatch,
    atMs = this.now(),
  ): Promise<Order | undefined> {
    const at = new Date(atMs).toISOString();
    // Built here, not in the store's write: the event carries this step's trace context.
    const emitted = [statusChanged(order.orderId, to, at)];
    if (to === 'PAYMENT_FAILED') await this.deps.countDecline?.(order);
    const moved = await this.deps.orders.transition(
      order.orderId,
      order.status,
      to,
      at,
      patch,
      () => emitted,
    );
    if (!moved) {
      // Lost a compare-and-set: whoever moved the order drives it on from there, and what
      // this process did meanwhile (a hold) follows the status that won.
      const current = await this.deps.orders.get(order.orderId);
      if (!current) {
        if (!(await this.archived(order.orderId))) await this.deps.stock.release(order.orderId);
        return undefined;
      }
      if (current.status !== order.status) {
        await this.settle(current);
        return undefined;
      }
      throw new RetryableError(
        'transition_conflict',
        `order ${order.orderId} did not move to ${to}`,
      );
    }
    if (to === 'PAYMENT_FAILED') this.deps.checkpoint?.('payment-failed');
    await this.settle(moved);
    this.deps.onStatus?.(moved);
    return moved;
  }

  /** Publishes the current status again: a no-op unless a crash lost it. */
  private async announce(order: Order): Promise<void> {
    const change = order.history.findLast((entry) => entry.status === order.status);
    await this.deps.log.append([
      statusChanged(order.orderId, order.status, change?.at ?? order.updatedAt),
    ]);
  }

  private pastHorizon(order: Order): boolean {
    const reservedAt = order.history.findLast((entry) => entry.status === 'RESERVED')?.at;
    return (
      reservedAt !== undefined && Date.parse(reservedAt) + this.deps.paymentGiveUpMs <= this.now()
    );
  }

  private reservationExpired(order: Order): boolean {
    return order.reservedUntil !== undefined && order.reservedUntil <= this.now();
  }

  private now(): number {
    return this.deps.clock.now();
  }
}

function sameMoney(a: Money, b: Money): boolean {
  return a.amount === b.amount && a.currency === b.currency;
}

/** Statuses an order reaches without keeping a payment. */
function endedWithoutPayment(status: OrderStatus): boolean {
  return status === 'CANCELLED' || status === 'PAYMENT_FAILED' || status === 'FAILED_NO_STOCK';
}
