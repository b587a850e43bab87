import { RetryableError } from '../domain/errors.js';
import type { Order, TransitionPatch } from '../domain/order.js';
import { isTerminal, type OrderStatus } from '../domain/status.js';
import type { Clock } from '../ports/clock.js';
import type { EventLog, NewEvent } from '../ports/event-log.js';
import type { OrderStore } from '../ports/order-store.js';
import type { ChargeResult, PaymentGateway } from '../ports/payment-gateway.js';
import type { ReserveResult, StockStore } from '../ports/stock-store.js';
import { toLogEvent } from './intake.js';
import { step } from './step.js';

export interface SagaDeps {
  readonly orders: OrderStore;
  readonly stock: StockStore;
  readonly payments: PaymentGateway;
  readonly log: EventLog;
  readonly clock: Clock;
  readonly reservationTtlMs: number;
  /** How long a provider may keep failing before an order gives up (PAYMENT_FAILED). */
  readonly paymentGiveUpMs: number;
  /** Told of every status an order reaches (metrics, decline counting). */
  readonly onStatus?: (order: Order) => void;
}

function statusChanged(orderId: string, status: OrderStatus, at: string): NewEvent {
  return toLogEvent({ type: 'OrderStatusChanged', orderId, status, at });
}

/** Idempotency keys for the provider, derived from the order and the step. */
export const chargeKey = (orderId: string): string => `${orderId}:charge`;
export const refundKey = (orderId: string): string => `${orderId}:refund`;

/**
 * The order saga. It is driven by the order's stored status, not by the event that woke
 * it: any event of an order (placed, cancel requested, reservation expired, a
 * redelivery after a crash) makes it take the order from wherever it is to the next
 * stable point. Every step is idempotent per order and every status change is a
 * compare-and-set, so running it twice, or in two processes, does the work once.
 */
export class OrderSaga {
  readonly reserveStock;
  readonly chargePayment;
  readonly commitStock;

  constructor(private readonly deps: SagaDeps) {
    const { stock, payments } = deps;
    this.reserveStock = step<Order & { reservedAt?: number }, ReserveResult>(
      'reserve-stock',
      (order) =>
        stock.reserve(
          order.orderId,
          order.items,
          (order.reservedAt ?? this.now()) + deps.reservationTtlMs,
        ),
      (order) => stock.release(order.orderId),
    );
    this.chargePayment = step<Order, ChargeResult>(
      'charge-payment',
      (order) =>
        payments.charge({
          orderId: order.orderId,
          amount: order.total,
          paymentMethod: order.paymentMethod,
          idempotencyKey: chargeKey(order.orderId),
        }),
      async (order) => {
        if (order.paymentRef === undefined) return;
        await payments.refund({
          orderId: order.orderId,
          paymentRef: order.paymentRef,
          amount: order.total,
          idempotencyKey: refundKey(order.orderId),
        });
      },
    );
    this.commitStock = step<Order, void>(
      'commit-stock',
      (order) => stock.commit(order.orderId),
      (order) => stock.release(order.orderId),
    );
  }

  /** Takes the order as far as it can go now. `placed` creates it if the store lost it. */
  async advance(orderId: string, placed?: Order): Promise<void> {
    let order = await this.deps.orders.get(orderId);
    if (!order && placed) {
      await this.deps.orders.create(placed);
      order = await this.deps.orders.get(orderId);
    }
    if (!order) return;
    // A crash may have come between a status change and its announcement.
    if (order.status !== 'PENDING') await this.announce(order);
    for (;;) {
      const next: Order | undefined = await this.next(order);
      if (!next) return;
      order = next;
    }
  }

  /** One step from the current status; undefined when the order is at a stable point. */
  private async next(order: Order): Promise<Order | undefined> {
    if (isTerminal(order.status) && !(order.status === 'COMPLETED' && order.cancelRequested)) {
      return undefined;
    }
    switch (order.status) {
      case 'PENDING':
        return this.fromPending(order);
      case 'RESERVED':
        return this.fromReserved(order);
      case 'PAID':
        return order.cancelRequested ? this.refund(order) : this.complete(order);
      case 'COMPLETED':
        return this.refund(order);
      default:
        return undefined;
    }
  }

  private async fromPending(order: Order): Promise<Order | undefined> {
    if (order.cancelRequested) return this.release(order, 'CANCELLED', 'cancelled by the customer');
    // The hold and the RESERVED status share one timestamp, so the saga's idea of when
    // the reservation expires is the stock store's.
    const reservedAt = this.now();
    const reserved = await this.reserveStock.invoke({ ...order, reservedAt });
    if (!reserved.ok) {
      return this.move(order, 'FAILED_NO_STOCK', {
        reason: `not enough stock: ${reserved.shortSkus.join(', ')}`,
      });
    }
    return this.move(order, 'RESERVED', {}, reservedAt);
  }

  /**
   * Charges first: a charge that succeeds takes the order on even past its reservation's
   * TTL (the hold is only ever released by the saga). A charge waiting for the customer
   * (3-D Secure) leaves the order RESERVED until the webhook or the reservation's expiry;
   * a provider that keeps failing leaves it RESERVED, retried, until the give-up horizon.
   */
  private async fromReserved(order: Order): Promise<Order | undefined> {
    if (order.cancelRequested) return this.release(order, 'CANCELLED', 'cancelled by the customer');
    let charged: ChargeResult;
    try {
      charged = await this.chargePayment.invoke(order);
    } catch (error) {
      if (!(error instanceof RetryableError) || !this.pastHorizon(order)) throw error;
      return this.release(
        order,
        'PAYMENT_FAILED',
        `payment provider unavailable for ${Math.round(this.deps.paymentGiveUpMs / 1000)} s: ${error.message}`,
      );
    }
    switch (charged.status) {
      case 'declined':
        return this.release(order, 'PAYMENT_FAILED', charged.reason);
      case 'pending':
        return this.reservationExpired(order)
          ? this.release(order, 'CANCELLED', 'reservation expired before the payment completed')
          : undefined;
      case 'succeeded':
        return this.paid(order, charged.paymentRef);
    }
  }

  /**
   * The provider's word on a payment that completed later (a webhook). A success for an
   * order that has given up meanwhile is refunded.
   */
  async confirmPayment(
    orderId: string,
    paymentRef: string,
    succeeded: boolean,
    reason?: string,
  ): Promise<void> {
    const order = await this.deps.orders.get(orderId);
    if (!order) return;
    if (order.status === 'RESERVED') {
      const next = succeeded
        ? await this.paid(order, paymentRef)
        : await this.release(order, 'PAYMENT_FAILED', reason ?? 'the payment failed');
      if (next) await this.advance(orderId);
      return;
    }
    const gaveUp =
      order.status === 'CANCELLED' ||
      order.status === 'PAYMENT_FAILED' ||
      order.status === 'FAILED_NO_STOCK';
    if (succeeded && gaveUp) await this.chargePayment.compensate({ ...order, paymentRef });
  }

  private async paid(order: Order, paymentRef: string): Promise<Order | undefined> {
    const paid = await this.move(order, 'PAID', { paymentRef });
    if (!paid) {
      // Another process moved the order meanwhile. If it ended it without the money
      // (a cancel, an expiry), the charge must go back; if it took the payment too, the
      // provider answered both with the same charge and nothing is owed.
      const current = await this.deps.orders.get(order.orderId);
      if (current?.status === 'CANCELLED' || current?.status === 'PAYMENT_FAILED') {
        await this.chargePayment.compensate({ ...order, paymentRef });
      }
    }
    return paid;
  }

  /** Gives the held stock back and ends the order. */
  private async release(order: Order, to: OrderStatus, reason: string): Promise<Order | undefined> {
    await this.reserveStock.compensate(order);
    return this.move(order, to, { reason });
  }

  private async complete(order: Order): Promise<Order | undefined> {
    await this.commitStock.invoke(order);
    return this.move(order, 'COMPLETED');
  }

  /** Cancel after payment: the money back, then the stock back. */
  private async refund(order: Order): Promise<Order | undefined> {
    await this.chargePayment.compensate(order);
    await this.commitStock.compensate(order);
    return this.move(order, 'REFUNDED', { reason: 'cancelled by the customer' });
  }

  private async move(
    order: Order,
    to: OrderStatus,
    patch?: TransitionPatch,
    atMs = this.now(),
  ): Promise<Order | undefined> {
    const at = new Date(atMs).toISOString();
    const moved = await this.deps.orders.transition(
      order.orderId,
      order.status,
      to,
      at,
      patch,
      () => [statusChanged(order.orderId, to, at)],
    );
    if (!moved) {
      // Lost a compare-and-set: whoever moved the order drives it on from there.
      const current = await this.deps.orders.get(order.orderId);
      if (current && current.status !== order.status) return undefined;
      throw new RetryableError(
        'transition_conflict',
        `order ${order.orderId} did not move to ${to}`,
      );
    }
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
    const reservedAt = order.history.findLast((entry) => entry.status === 'RESERVED')?.at;
    return (
      reservedAt !== undefined && Date.parse(reservedAt) + this.deps.reservationTtlMs <= this.now()
    );
  }

  private now(): number {
    return this.deps.clock.now();
  }
}
