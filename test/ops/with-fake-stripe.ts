import { FakeStripe } from '../helpers/fake-stripe.js';
import { startInProcess, type InProcessService } from '../helpers/in-process.js';

/** The service in this process with a Stripe-compatible provider (a fake one), so that its circuit breaker exists. */
export async function startWithFakeStripe(
  env: Record<string, string> = {},
): Promise<{ fake: FakeStripe; service: InProcessService }> {
  const fake = new FakeStripe({ apiKey: 'sk_test_x' });
  await fake.start();
  const service = await startInProcess({
    env: {
      ORDERFLOW_PAYMENTS_URL: fake.url,
      ORDERFLOW_PAYMENTS_KEY: 'sk_test_x',
      ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: 'whsec_test',
      ...env,
    },
  });
  return { fake, service };
}
