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
 * Payments the simulated provider remembers. A real provider keeps its ledger on its side;
 * this one lives in the process, so it keeps the latest ones only: unbounded, it held every
 * order the process ever charged (about 2 MiB per 10,000 orders, read from heap snapshots).
 * Forgetting is nearly invisible: a charge is decided by its idempotency key, so a key
 * charged again after it was forgotten gets the same answer and payment id; only a pending
 * payment's cancel and the lookups of `find` and `cancel` are lost, and those come within
 * minutes of the charge (a reservation's life), not 100,000 payments later.
 */
export const LEDGER_CAPACITY = 100_000;

/** A Map that forgets its oldest entries beyond `capacity`. */
class Ledger<V> extends Map<string, V> {
  constructor(
    private readonly capacity: number,
    private readonly onForget: (key: string, value: V) => void = () => undefined,
  ) {
    super();
  }

  override set(key: string, value: V): this {
    super.delete(key);
    super.set(key, value);
    while (this.size > this.capacity) {
      const oldest = this.entries().next();
      if (oldest.done) break;
      super.delete(oldest.value[0]);
      this.onForget(oldest.value[0], oldest.value[1]);
    }
    return this;
  }
}

/**
 * The built-in provider: follows Stripe's test payment methods (`pm_card_visa` succeeds,
 * `pm_card_chargeDeclined` is declined, `pm_card_authenticationRequired` stays pending), adds random declines at
 * `failureRate`, and keeps a ledger (in this process, the latest `capacity` payments) so that
 * a key charged twice is charged once and a pending payment can be cancelled or found.
 */
export class SimulatedPayments implements PaymentGateway {
  private readonly charges: Ledger<ChargeResult>;
  private readonly payments: Ledger<Payment>;
  /** Payment ids by order, for `find`. */
  private readonly byOrder = new Map<string, Set<string>>();
  private readonly refunds: Ledger<true>;

  constructor(
    private readonly failureRate: number,
    capacity = LEDGER_CAPACITY,
  ) {
    this.charges = new Ledger(capacity);
    this.refunds = new Ledger(capacity);
    this.payments = new Ledger(capacity, (paymentRef, { orderId }) => {
      const refs = this.byOrder.get(orderId);
      refs?.delete(paymentRef);
      if (refs?.size === 0) this.byOrder.delete(orderId);
    });
  }

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
      const refs = this.byOrder.get(request.orderId) ?? new Set<string>();
      this.byOrder.set(request.orderId, refs.add(result.paymentRef));
    }
    return Promise.resolve(result);
  }

  refund(request: RefundRequest): Promise<void> {
    this.refunds.set(request.idempotencyKey, true);
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
    for (const paymentRef of this.byOrder.get(orderId) ?? []) {
      const payment = this.payments.get(paymentRef);
      if (!payment) continue;
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
