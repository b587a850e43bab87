import type { Money } from '../domain/money.js';

/**
 * A payment provider. Every call carries an idempotency key derived from the order and
 * the step, so a retried call can never charge or refund twice. A transient failure
 * (rate limit, 5xx, timeout, lost answer) throws a RetryableError; a decline is an answer.
 */
export interface PaymentGateway {
  /** Charging the same key again answers what the provider answered the first time. */
  charge(request: ChargeRequest): Promise<ChargeResult>;
  refund(request: RefundRequest): Promise<void>;
  /**
   * Stops a payment that never completed (a 3-D Secure the customer abandoned), so that it
   * cannot capture after its order gave up. Safe to repeat; answers `succeeded` when the
   * payment captured in the meantime, so that the caller keeps or refunds that money.
   */
  cancel(request: CancelRequest): Promise<CancelResult>;
  /**
   * What the provider holds for an order, for when a charge's answer was lost and the order
   * gave up: whether money was captured after all. The provider's index may lag its writes
   * (Stripe's search: usually under a minute), so ask well after the last charge attempt.
   */
  find(orderId: string): Promise<PaymentLookup>;
}

export interface ChargeRequest {
  readonly orderId: string;
  readonly amount: Money;
  readonly paymentMethod: string;
  readonly idempotencyKey: string;
}

export type ChargeResult =
  /** Captured. */
  | { readonly status: 'succeeded'; readonly paymentRef: string }
  /**
   * Refused for good (a card error): the order fails, nothing is retried. `cardFingerprint`
   * identifies the card across payment methods, when the provider tells it (the card-testing
   * defence counts declines per card).
   */
  | { readonly status: 'declined'; readonly reason: string; readonly cardFingerprint?: string }
  /**
   * The customer must act (3-D Secure): the outcome arrives later as a webhook, and the
   * reservation waits for it until it expires.
   */
  | { readonly status: 'pending'; readonly paymentRef: string }
  /**
   * The payment was cancelled before it completed (by `cancel`, at its hold's expiry): a
   * charge retried after a crash between that cancel and the order's CANCELLED sees this.
   */
  | { readonly status: 'cancelled' };

export interface RefundRequest {
  readonly orderId: string;
  readonly paymentRef: string;
  readonly amount: Money;
  readonly idempotencyKey: string;
}

export interface CancelRequest {
  readonly orderId: string;
  /** The pending payment's id, as `charge` answered it. */
  readonly paymentRef: string;
  readonly idempotencyKey: string;
}

export type CancelResult =
  /** It can no longer capture (cancelled now, or before, or it had failed). */
  | { readonly status: 'cancelled' }
  /** It captured before the cancel arrived: `amount` is what the provider holds. */
  | { readonly status: 'succeeded'; readonly paymentRef: string; readonly amount: Money };

export type PaymentLookup =
  /** Money was captured for the order: `amount` as the provider recorded it. */
  | { readonly status: 'succeeded'; readonly paymentRef: string; readonly amount: Money }
  /** A payment waits for the customer or the provider; it may still capture (cancel it). */
  | { readonly status: 'pending'; readonly paymentRef: string }
  /** Nothing captured and nothing that can still capture. */
  | { readonly status: 'none' };

/**
 * The provider's signed notifications of payments that completed asynchronously. Only
 * providers with webhooks implement it.
 */
export interface PaymentWebhooks {
  /**
   * Checks the signature of a raw webhook body and reads what it says about a payment.
   * Throws a TerminalError `invalid_signature` when the signature does not verify, and
   * `validation_error` when a verified payment event lacks its amount or currency;
   * undefined for events that are not a payment's outcome.
   */
  verify(payload: Buffer, signature: string): PaymentOutcome | undefined;
}

/** What the provider says became of a payment. */
export interface PaymentOutcome {
  /** The provider's event id: the same event delivered again is applied once. */
  readonly eventId: string;
  readonly orderId: string;
  readonly paymentRef: string;
  readonly succeeded: boolean;
  /**
   * The money the event is about, so that it can be checked against the order's total:
   * when succeeded what was captured (Stripe `amount_received`), else what was asked
   * (`amount`). The currency is upper-case, as orderflow writes it.
   */
  readonly amount: Money;
  readonly reason?: string;
}
