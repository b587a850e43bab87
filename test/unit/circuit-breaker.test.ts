import { describe, expect, it } from 'vitest';
import { SimulatedPayments } from '../../src/adapters/payments/simulated-payments.js';
import { RetryableError, TerminalError } from '../../src/domain/errors.js';
import type {
  CancelRequest,
  CancelResult,
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  PaymentLookup,
  RefundRequest,
} from '../../src/ports/payment-gateway.js';
import { PaymentCircuitBreaker } from '../../src/runtime/circuit-breaker.js';

/** Time that moves only when the test says so. */
class ManualClock {
  constructor(private ms = 1_700_000_000_000) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/**
 * The simulated provider behind a switch: `failing` makes every call throw what a real
 * adapter throws during an outage; `holdNext` keeps the next call out until released.
 */
class FlakyProvider implements PaymentGateway {
  failing = false;
  calls = 0;
  private gate: Promise<void> | undefined;
  constructor(private readonly inner = new SimulatedPayments(0)) {}

  /** The next call waits (out, unanswered) until the returned function is called. */
  holdNext(): () => void {
    let release = (): void => undefined;
    this.gate = new Promise<void>((resolve) => (release = resolve));
    return release;
  }

  charge(request: ChargeRequest): Promise<ChargeResult> {
    return this.call(() => this.inner.charge(request));
  }
  refund(request: RefundRequest): Promise<void> {
    return this.call(() => this.inner.refund(request));
  }
  cancel(request: CancelRequest): Promise<CancelResult> {
    return this.call(() => this.inner.cancel(request));
  }
  find(orderId: string): Promise<PaymentLookup> {
    return this.call(() => this.inner.find(orderId));
  }

  private async call<T>(invoke: () => Promise<T>): Promise<T> {
    this.calls += 1;
    const gate = this.gate;
    this.gate = undefined;
    if (gate) await gate;
    if (this.failing) {
      throw new RetryableError('payment_provider_unavailable', 'charge: 503 unavailable');
    }
    return invoke();
  }
}

let seq = 0;
const charge = (paymentMethod = 'pm_card_visa'): ChargeRequest => {
  seq += 1;
  return {
    orderId: `o${seq}`,
    amount: { amount: 1999, currency: 'USD' },
    paymentMethod,
    idempotencyKey: `o${seq}:charge`,
  };
};

function setup(options: { failureThreshold?: number; openMs?: number; maxOpenMs?: number } = {}) {
  const clock = new ManualClock();
  const provider = new FlakyProvider();
  const breaker = new PaymentCircuitBreaker(provider, { clock, ...options });
  return { clock, provider, breaker };
}

/** Makes `n` calls that fail transiently. */
async function failTimes(breaker: PaymentGateway, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1) {
    await expect(breaker.charge(charge())).rejects.toMatchObject({
      code: 'payment_provider_unavailable',
    });
  }
}

async function openError(call: Promise<unknown>): Promise<RetryableError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RetryableError);
  expect(error).toMatchObject({ code: 'payment_circuit_open' });
  return error as RetryableError;
}

describe('payment circuit breaker', () => {
  it('passes calls and their answers through while closed, declines included', async () => {
    const { breaker, provider } = setup();
    expect(await breaker.charge(charge())).toMatchObject({ status: 'succeeded' });
    expect(await breaker.charge(charge('pm_card_chargeDeclined'))).toMatchObject({
      status: 'declined',
    });
    await breaker.refund({
      orderId: 'o1',
      paymentRef: 'pi_1',
      amount: { amount: 1999, currency: 'USD' },
      idempotencyKey: 'o1:refund',
    });
    expect(provider.calls).toBe(3);
    const request = charge('pm_card_authenticationRequired');
    const pending = await breaker.charge(request);
    if (pending.status !== 'pending') throw new Error(`charge ${pending.status}`);
    expect(await breaker.find(request.orderId)).toEqual(pending);
    expect(
      await breaker.cancel({
        orderId: request.orderId,
        paymentRef: pending.paymentRef,
        idempotencyKey: `${request.orderId}:cancel`,
      }),
    ).toEqual({ status: 'cancelled' });
    expect(provider.calls).toBe(6);
    expect(breaker.state).toBe('closed');
  });

  it('opens after N consecutive transient failures and then fails fast without the provider', async () => {
    const { breaker, provider, clock } = setup({ failureThreshold: 3, openMs: 5_000 });
    provider.failing = true;
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
    expect(provider.calls).toBe(3);

    const first = await openError(breaker.charge(charge()));
    expect(first.retryAfterMs).toBe(5_000);
    clock.advance(2_000);
    const later = await openError(
      breaker.refund({
        orderId: 'o1',
        paymentRef: 'pi_1',
        amount: { amount: 1, currency: 'USD' },
        idempotencyKey: 'o1:refund',
      }),
    );
    expect(later.retryAfterMs).toBe(3_000);
    const cancel = { orderId: 'o1', paymentRef: 'pi_1', idempotencyKey: 'o1:cancel' };
    expect((await openError(breaker.cancel(cancel))).retryAfterMs).toBe(3_000);
    expect((await openError(breaker.find('o1'))).retryAfterMs).toBe(3_000);
    expect(provider.calls).toBe(3);
  });

  it('counts only consecutive failures: an answer in between resets the count', async () => {
    const { breaker, provider } = setup({ failureThreshold: 3 });
    provider.failing = true;
    await failTimes(breaker, 2);
    provider.failing = false;
    expect(await breaker.charge(charge('pm_card_chargeDeclined'))).toMatchObject({
      status: 'declined',
    });
    provider.failing = true;
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('closed');
  });

  it('does not count errors that are not transient', async () => {
    const rejecting: PaymentGateway = {
      charge: () => Promise.reject(new TerminalError('payment_provider_rejected', '401')),
      refund: () => Promise.resolve(),
      cancel: () => Promise.resolve({ status: 'cancelled' }),
      find: () => Promise.resolve({ status: 'none' }),
    };
    const strict = new PaymentCircuitBreaker(rejecting, {
      clock: new ManualClock(),
      failureThreshold: 2,
    });
    for (let i = 0; i < 3; i += 1) {
      await expect(strict.charge(charge())).rejects.toBeInstanceOf(TerminalError);
    }
    expect(strict.state).toBe('closed');
  });

  it('half-open: lets one trial through, fails the others fast, and closes on success', async () => {
    const { breaker, provider, clock } = setup({ failureThreshold: 2, openMs: 5_000 });
    provider.failing = true;
    await failTimes(breaker, 2);
    clock.advance(5_000);
    expect(breaker.state).toBe('half-open');

    provider.failing = false;
    const release = provider.holdNext();
    const trial = breaker.charge(charge());
    const other = await openError(breaker.charge(charge()));
    expect(other.retryAfterMs).toBeGreaterThan(0);
    expect(provider.calls).toBe(3);
    release();
    expect(await trial).toMatchObject({ status: 'succeeded' });

    expect(breaker.state).toBe('closed');
    expect(await breaker.charge(charge())).toMatchObject({ status: 'succeeded' });
    expect(provider.calls).toBe(4);
  });

  it('re-opens when the trial fails, doubling the open time up to the maximum', async () => {
    const { breaker, provider, clock } = setup({
      failureThreshold: 1,
      openMs: 5_000,
      maxOpenMs: 15_000,
    });
    provider.failing = true;
    await failTimes(breaker, 1);
    const waits: number[] = [];
    for (let round = 0; round < 4; round += 1) {
      const error = await openError(breaker.charge(charge()));
      waits.push(error.retryAfterMs ?? -1);
      clock.advance(error.retryAfterMs ?? 0);
      expect(breaker.state).toBe('half-open');
      await failTimes(breaker, 1); // the trial reaches the provider and fails
    }
    expect(waits).toEqual([5_000, 10_000, 15_000, 15_000]);

    // Recovery resets the open time to its start.
    clock.advance(15_000);
    provider.failing = false;
    expect(await breaker.charge(charge())).toMatchObject({ status: 'succeeded' });
    provider.failing = true;
    await failTimes(breaker, 1);
    expect((await openError(breaker.charge(charge()))).retryAfterMs).toBe(5_000);
  });

  it('a failure of a call that was out before the circuit opened changes nothing', async () => {
    const { breaker, provider, clock } = setup({ failureThreshold: 2, openMs: 5_000 });
    provider.failing = true;
    const release = provider.holdNext();
    const late = breaker.charge(charge());
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('open');
    clock.advance(1_000);
    release();
    await expect(late).rejects.toMatchObject({ code: 'payment_provider_unavailable' });
    expect((await openError(breaker.charge(charge()))).retryAfterMs).toBe(4_000);
  });

  it('a decline from the trial closes the circuit: declines are answers', async () => {
    const { breaker, provider, clock } = setup({ failureThreshold: 1, openMs: 1_000 });
    provider.failing = true;
    await failTimes(breaker, 1);
    clock.advance(1_000);
    provider.failing = false;
    expect(await breaker.charge(charge('pm_card_chargeDeclined'))).toMatchObject({
      status: 'declined',
    });
    expect(breaker.state).toBe('closed');
  });
});
