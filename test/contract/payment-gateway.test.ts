/**
 * The PaymentGateway contract against every provider the service can be wired with: the
 * simulated one, and the Stripe adapter against the Stripe-compatible fake on a real socket,
 * alone and behind the circuit breaker (as `openPayments` wires it).
 */
import { afterAll, beforeAll } from 'vitest';
import { SimulatedPayments } from '../../src/adapters/payments/simulated-payments.js';
import { StripePayments } from '../../src/adapters/payments/stripe-payments.js';
import type { Clock } from '../../src/ports/clock.js';
import type { PaymentGateway } from '../../src/ports/payment-gateway.js';
import { PaymentCircuitBreaker } from '../../src/runtime/circuit-breaker.js';
import { FakeStripe } from '../helpers/fake-stripe.js';
import type { FixtureFactory } from './fixture.js';
import { describePaymentGatewayContract } from './payment-gateway.contract.js';

const API_KEY = 'sk_test_gateway';
const fake = new FakeStripe({ apiKey: API_KEY });
beforeAll(() => fake.start());
afterAll(() => fake.stop());

/** A gateway without storage of its own: every test gets a new one (the fake is shared). */
const fresh =
  (open: (clock: Clock) => PaymentGateway): FixtureFactory<PaymentGateway> =>
  () =>
    Promise.resolve({ open, dispose: () => Promise.resolve() });

const stripe = (): StripePayments =>
  new StripePayments({
    url: fake.url,
    apiKey: API_KEY,
    webhookSecret: 'whsec_gateway',
    timeoutMs: 5_000,
  });

const GATEWAYS: readonly { name: string; factory: FixtureFactory<PaymentGateway> }[] = [
  { name: 'simulated', factory: fresh(() => new SimulatedPayments(0)) },
  { name: 'Stripe-compatible', factory: fresh(stripe) },
  {
    name: 'Stripe-compatible behind the circuit breaker',
    factory: fresh((clock) => new PaymentCircuitBreaker(stripe(), { clock })),
  },
];

for (const gateway of GATEWAYS) describePaymentGatewayContract(gateway.name, gateway.factory);
