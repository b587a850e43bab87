import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChargeRequest, PaymentGateway } from '../../src/ports/payment-gateway.js';
import { systemClock, type Fixture, type FixtureFactory } from './fixture.js';

/** One order's charge; every test uses its own order ids. */
export function chargeOf(paymentMethod = 'pm_card_visa', amount = 1999): ChargeRequest {
  const orderId = randomUUID();
  return {
    orderId,
    amount: { amount, currency: 'USD' },
    paymentMethod,
    idempotencyKey: `${orderId}:charge`,
  };
}

const cancelOf = (request: ChargeRequest, paymentRef: string, attempt = 'cancel') => ({
  orderId: request.orderId,
  paymentRef,
  idempotencyKey: `${request.orderId}:${attempt}`,
});

/**
 * What every PaymentGateway must do with Stripe's test payment methods: `pm_card_visa`
 * captures, `pm_card_chargeDeclined` declines, `pm_card_authenticationRequired` waits for
 * the customer; a waiting payment can be cancelled (again and again), and `find` tells what
 * the provider holds for an order.
 */
export function describePaymentGatewayContract(
  name: string,
  factory: FixtureFactory<PaymentGateway>,
): void {
  describe(`${name} PaymentGateway`, () => {
    let fixture: Fixture<PaymentGateway>;
    let gateway: PaymentGateway;

    beforeEach(async () => {
      fixture = await factory();
      gateway = fixture.open(systemClock);
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('charges once per key and finds the capture with its amount', async () => {
      const request = chargeOf('pm_card_visa', 4321);
      const charged = await gateway.charge(request);
      if (charged.status !== 'succeeded') throw new Error(`charge ${charged.status}`);
      expect(await gateway.charge(request)).toEqual(charged);
      expect(await gateway.find(request.orderId)).toEqual({
        status: 'succeeded',
        paymentRef: charged.paymentRef,
        amount: { amount: 4321, currency: 'USD' },
      });
    });

    it('finds nothing for an order never charged, or only declined', async () => {
      expect(await gateway.find(randomUUID())).toEqual({ status: 'none' });
      const declined = chargeOf('pm_card_chargeDeclined');
      expect(await gateway.charge(declined)).toMatchObject({ status: 'declined' });
      expect(await gateway.find(declined.orderId)).toEqual({ status: 'none' });
    });

    it('cancels a payment waiting for 3-D Secure, safely again; its charge key then answers cancelled', async () => {
      const request = chargeOf('pm_card_authenticationRequired');
      const pending = await gateway.charge(request);
      if (pending.status !== 'pending') throw new Error(`charge ${pending.status}`);
      expect(await gateway.find(request.orderId)).toEqual({
        status: 'pending',
        paymentRef: pending.paymentRef,
      });

      const cancel = cancelOf(request, pending.paymentRef);
      expect(await gateway.cancel(cancel)).toEqual({ status: 'cancelled' });
      // The same key again (a redelivery), and another key (another process).
      expect(await gateway.cancel(cancel)).toEqual({ status: 'cancelled' });
      expect(await gateway.cancel(cancelOf(request, pending.paymentRef, 'cancel:2'))).toEqual({
        status: 'cancelled',
      });
      expect(await gateway.find(request.orderId)).toEqual({ status: 'none' });
      expect(await gateway.charge(request)).toEqual({ status: 'cancelled' });
    });

    it('a cancel of a payment that captured answers succeeded with what was captured', async () => {
      const request = chargeOf('pm_card_visa', 2500);
      const charged = await gateway.charge(request);
      if (charged.status !== 'succeeded') throw new Error(`charge ${charged.status}`);
      expect(await gateway.cancel(cancelOf(request, charged.paymentRef))).toEqual({
        status: 'succeeded',
        paymentRef: charged.paymentRef,
        amount: { amount: 2500, currency: 'USD' },
      });
      // Nothing was undone: the capture is still there.
      expect(await gateway.find(request.orderId)).toMatchObject({ status: 'succeeded' });
    });
  });
}
