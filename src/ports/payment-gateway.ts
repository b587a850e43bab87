import type { Money } from '../domain/money.js';

/**
 * A payment provider. Every call carries an idempotency key derived from the order and
 * the step, so a retried call can never charge or refund twice. A transient failure
 * (rate limit, 5xx, timeout, lost answer) throws a RetryableError; a decline is an answer.
 */
export interface PaymentGateway {
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
  | { readonly ok: true; readonly paymentRef: string }
  | { readonly ok: false; readonly reason: string };

export interface RefundRequest {
  readonly orderId: string;
  readonly paymentRef: string;
  readonly amount: Money;
  readonly idempotencyKey: string;
}
