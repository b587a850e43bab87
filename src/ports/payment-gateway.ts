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
  /** Refused for good (a card error): the order fails, nothing is retried. */
  | { readonly status: 'declined'; readonly reason: string }
  /**
   * The customer must act (3-D Secure): the outcome arrives later as a webhook, and the
   * reservation waits for it until it expires.
   */
  | { readonly status: 'pending'; readonly paymentRef: string };

export interface RefundRequest {
  readonly orderId: string;
  readonly paymentRef: string;
  readonly amount: Money;
  readonly idempotencyKey: string;
}

/**
 * The provider's signed notifications of payments that completed asynchronously. Only
 * providers with webhooks implement it.
 */
export interface PaymentWebhooks {
  /**
   * Checks the signature of a raw webhook body and reads what it says about a payment.
   * Throws a TerminalError `invalid_signature` when the signature does not verify;
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
  readonly reason?: string;
}
