import { isArchived, type ArchivedOrder, type KnownOrder, type Order } from '../domain/order.js';
import type { IdempotencyStore, StoredResponse } from '../ports/idempotency-store.js';
import type { OrderStore } from '../ports/order-store.js';
import type { SourceOfTruth } from '../ports/source-of-truth.js';
import { TerminalError } from '../domain/errors.js';
import type { PaymentOutcome, PaymentWebhooks } from '../ports/payment-gateway.js';
import { findOrder } from './order-lookup.js';
import { runIdempotent, type IdempotentResult } from './idempotent.js';
import type { Caller, Intake, PlaceOrderInput } from './intake.js';

export interface OrdersServiceDeps {
  readonly orders: OrderStore;
  readonly idempotency: IdempotencyStore;
  readonly intake: Intake;
  /** Where an order is read once it has left the hot cache (past the order retention). */
  readonly sot: Pick<SourceOfTruth, 'order'>;
  /** The payment provider's webhooks, when it has them. */
  readonly webhooks?: PaymentWebhooks | undefined;
}

export interface PlaceRequest {
  readonly input: PlaceOrderInput;
  readonly caller: Caller;
  /** The request's `Idempotency-Key`: placed at most once per caller and key. */
  readonly key?: string;
  /** The answer a replay of the keyed request gets, rendered by the caller (the API). */
  readonly answer: (order: Order) => StoredResponse;
  /** A key that could not be freed or marked after a failure (it lapses by itself). */
  readonly onKeyNotFreed?: (error: unknown) => void;
}

/**
 * The orders use cases the API offers: placing (idempotent per key), reading, watching,
 * cancelling, and recording the provider's word on a payment. The API renders answers;
 * what they mean and what they write is decided here.
 */
export class OrdersService {
  constructor(private readonly deps: OrdersServiceDeps) {}

  /** Places the order; a keyed request runs once per (caller, key) and replays its answer. */
  async place(request: PlaceRequest): Promise<IdempotentResult> {
    const { intake, idempotency } = this.deps;
    const { input, caller, key, answer } = request;
    if (key === undefined) {
      return { response: answer(await intake.place(input, caller)), replayed: false };
    }
    return runIdempotent(
      idempotency,
      caller.owner,
      key,
      input,
      intake.newOrderId(),
      async ({ ref, resume, record, rebind }) => {
        let stored: StoredResponse | undefined;
        const order = await intake.place(input, caller, {
          orderId: ref,
          resume,
          rebind,
          record: (placed) => {
            stored = answer(placed);
            return record(stored);
          },
        });
        return stored ?? answer(order);
      },
      request.onKeyNotFreed ?? (() => undefined),
    );
  }

  /** The order from the cache, else the source of truth (see `findOrder`). */
  get(orderId: string): Promise<KnownOrder | undefined> {
    return findOrder(this.deps, orderId);
  }

  /** Tells `listener` of every change of the order (this process's and others'); returns the stop. */
  watch(orderId: string, listener: (order: Order) => void): () => void {
    return this.deps.orders.watch(orderId, listener);
  }

  /**
   * See `Intake.cancel`: `current` is the order as the caller read it. An archived order is
   * terminal and only in the source of truth: `not_cancellable`, saying why.
   */
  cancel(current: KnownOrder): Promise<Order | undefined> {
    if (isArchived(current)) return Promise.reject(archivedNotCancellable(current));
    return this.deps.intake.cancel(current);
  }

  confirmPayment(outcome: PaymentOutcome): Promise<void> {
    return this.deps.intake.confirmPayment(outcome);
  }

  /** Whether a payment provider with webhooks is configured. */
  get acceptsWebhooks(): boolean {
    return this.deps.webhooks !== undefined;
  }

  /**
   * The provider's signed word on a payment (its raw body and signature header): verified,
   * then recorded once however often it is delivered. Undefined for an event that says
   * nothing about a payment. `not_found` without webhooks; `invalid_signature` when the
   * signature does not verify; `validation_error` for a payment event without its amount.
   */
  async recordWebhook(payload: Buffer, signature: string): Promise<PaymentOutcome | undefined> {
    const { webhooks } = this.deps;
    if (!webhooks)
      throw new TerminalError('not_found', 'no payment provider with webhooks is configured');
    let outcome: PaymentOutcome | undefined;
    try {
      outcome = webhooks.verify(payload, signature);
    } catch (error) {
      if (!(error instanceof TerminalError)) throw error;
      throw new TerminalError(
        error.code === 'invalid_signature' ? 'invalid_signature' : 'validation_error',
        error.message,
        { cause: error },
      );
    }
    if (outcome) await this.confirmPayment(outcome);
    return outcome;
  }
}

function archivedNotCancellable(order: ArchivedOrder): TerminalError {
  return new TerminalError(
    'not_cancellable',
    `order ${order.orderId} is ${order.status} and past the order retention ` +
      '(ORDERFLOW_ORDER_RETENTION): it is kept only in the source of truth and cannot be cancelled',
    { details: { status: order.status, archived: true } },
  );
}
