import { createHash } from 'node:crypto';
import { TerminalError } from '../../domain/errors.js';
import type { Money } from '../../domain/money.js';
import type {
  CancelRequest,
  CancelResult,
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  PaymentLookup,
  RefundRequest,
} from '../../ports/payment-gateway.js';

/**
 * Stripe's card that needs 3-D Secure: the simulated customer never completes it, so the
 * order waits until its reservation expires.
 */
const AUTHENTICATION_REQUIRED = 'pm_card_authenticationRequired';

/** Stripe's test payment methods that succeed; `pm_card_chargeDeclined` and the rest decline. */
const SUCCEEDING = new Set([
  'pm_card_visa',
  'pm_card_visa_debit',
  'pm_card_mastercard',
  'pm_card_amex',
  'pm_card_discover',
  AUTHENTICATION_REQUIRED,
]);

const DECLINES: Record<string, string> = {
  pm_card_chargeDeclined: 'Your card was declined.',
  pm_card_chargeDeclinedInsufficientFunds: 'Your card has insufficient funds.',
  pm_card_chargeDeclinedExpiredCard: 'Your card has expired.',
  pm_card_chargeDeclinedFraudulent: 'Your card was declined.',
};

/** A uniform number in [0, 1) fixed by `text`: a retried charge gets the same answer. */
function unitHash(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32;
}

/** A payment the simulated provider made, as it stands now. */
interface Payment {
  readonly orderId: string;
  readonly amount: Money;
  status: 'succeeded' | 'pending' | 'cancelled';
}

/**
 * The built-in provider: follows Stripe's test payment methods (`pm_card_visa` succeeds,
 * `pm_card_chargeDeclined` is declined, `pm_card_authenticationRequired` stays pending), adds random declines at
 * `failureRate`, and keeps a ledger (in this process) so that a key charged twice is charged
 * once and a pending payment can be cancelled or found.
 */
export class SimulatedPayments implements PaymentGateway {
  private readonly charges = new Map<string, ChargeResult>();
  private readonly payments = new Map<string, Payment>();
  private readonly refunds = new Set<string>();

  constructor(private readonly failureRate: number) {}

  charge(request: ChargeRequest): Promise<ChargeResult> {
    const known = this.charges.get(request.idempotencyKey);
    if (known) return Promise.resolve(this.current(known));
    const result = this.decide(request);
    this.charges.set(request.idempotencyKey, result);
    if (result.status === 'succeeded' || result.status === 'pending') {
      this.payments.set(result.paymentRef, {
        orderId: request.orderId,
        amount: request.amount,
        status: result.status,
      });
    }
    return Promise.resolve(result);
  }

  refund(request: RefundRequest): Promise<void> {
    this.refunds.add(request.idempotencyKey);
    return Promise.resolve();
  }

  cancel(request: CancelRequest): Promise<CancelResult> {
    const payment = this.payments.get(request.paymentRef);
    if (!payment) {
      return Promise.reject(
        new TerminalError(
          'payment_provider_rejected',
          `cancel payment ${request.paymentRef} of ${request.orderId}: no such payment`,
        ),
      );
    }
    if (payment.status === 'succeeded') {
      return Promise.resolve({
        status: 'succeeded',
        paymentRef: request.paymentRef,
        amount: payment.amount,
      });
    }
    payment.status = 'cancelled';
    return Promise.resolve({ status: 'cancelled' });
  }

  find(orderId: string): Promise<PaymentLookup> {
    let pending: string | undefined;
    for (const [paymentRef, payment] of this.payments) {
      if (payment.orderId !== orderId) continue;
      if (payment.status === 'succeeded') {
        return Promise.resolve({ status: 'succeeded', paymentRef, amount: payment.amount });
      }
      if (payment.status === 'pending') pending ??= paymentRef;
    }
    return Promise.resolve(
      pending === undefined ? { status: 'none' } : { status: 'pending', paymentRef: pending },
    );
  }

  /** A replayed pending answer reads the payment again, as the Stripe adapter does. */
  private current(known: ChargeResult): ChargeResult {
    if (known.status !== 'pending') return known;
    const payment = this.payments.get(known.paymentRef);
    if (payment?.status === 'cancelled') {
      return { status: 'cancelled' };
    }
    return known;
  }

  private decide({ paymentMethod, idempotencyKey }: ChargeRequest): ChargeResult {
    const decline = DECLINES[paymentMethod];
    if (decline !== undefined) return { status: 'declined', reason: decline };
    if (!SUCCEEDING.has(paymentMethod)) {
      return { status: 'declined', reason: `Unknown payment method ${paymentMethod}.` };
    }
    if (this.failureRate > 0 && unitHash(idempotencyKey) < this.failureRate) {
      return { status: 'declined', reason: 'Your card was declined.' };
    }
    const ref = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24);
    if (paymentMethod === AUTHENTICATION_REQUIRED)
      return { status: 'pending', paymentRef: `pi_sim_${ref}` };
    return { status: 'succeeded', paymentRef: `pi_sim_${ref}` };
  }
}
