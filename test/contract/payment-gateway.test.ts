/**
 * The PaymentGateway contract against both providers: the simulated one, and the Stripe
 * adapter (behind the circuit breaker, as the service wires it) against the
 * Stripe-compatible fake on a real socket.
 */
import { afterAll, beforeAll } from 'vitest';
import { SimulatedPayments } from '../../src/adapters/payments/simulated-payments.js';
import { StripePayments } from '../../src/adapters/payments/stripe-payments.js';
import { PaymentCircuitBreaker } from '../../src/runtime/circuit-breaker.js';
import { FakeStripe } from '../helpers/fake-stripe.js';
import { describePaymentGatewayContract } from './payment-gateway.contract.js';

const fake = new FakeStripe({ apiKey: 'sk_test_gateway' });
beforeAll(() => fake.start());
afterAll(() => fake.stop());

describePaymentGatewayContract('simulated', () =>
  Promise.resolve({
    open: () => new SimulatedPayments(0),
    dispose: () => Promise.resolve(),
  }),
);

describePaymentGatewayContract('Stripe-compatible', () =>
  Promise.resolve({
    open: (clock) =>
      new PaymentCircuitBreaker(
        new StripePayments({
          url: fake.url,
          apiKey: 'sk_test_gateway',
          webhookSecret: 'whsec_gateway',
          timeoutMs: 5_000,
        }),
        { clock },
      ),
    dispose: () => Promise.resolve(),
  }),
);
