/**
 * The Stripe adapter against a Stripe-compatible server on a real socket: the answers it
 * maps, and that no retry, lost answer or rate limit ever charges or refunds twice.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import {
  StripePayments,
  type StripePaymentsOptions,
} from '../../src/adapters/payments/stripe-payments.js';
import { RetryableError, TerminalError } from '../../src/domain/errors.js';
import type { ChargeRequest } from '../../src/ports/payment-gateway.js';
import { FakeStripe, NO_FAULTS } from '../helpers/fake-stripe.js';
import { chargeOf } from './payment-gateway.contract.js';

const SECRET = 'whsec_contract';
const fake = new FakeStripe({ apiKey: 'sk_test_contract' });

beforeAll(() => fake.start());
afterAll(() => fake.stop());
afterEach(() => fake.setFaults(NO_FAULTS));

function adapter(options: Partial<StripePaymentsOptions> = {}): StripePayments {
  return new StripePayments({
    url: fake.url,
    apiKey: 'sk_test_contract',
    webhookSecret: SECRET,
    timeoutMs: 5_000,
    ...options,
  });
}

function refundOf(
  request: ChargeRequest,
  paymentRef: string,
  idempotencyKey = `${request.orderId}:refund`,
) {
  return { orderId: request.orderId, paymentRef, amount: request.amount, idempotencyKey };
}

async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

describe('Stripe payments: answers', () => {
  let stripe: StripePayments;
  beforeAll(() => {
    stripe = adapter();
  });

  it('a succeeded PaymentIntent is a capture, with the order id in its metadata', async () => {
    const request = chargeOf('pm_card_visa', 4321);
    const result = await stripe.charge(request);
    const [intent] = fake.intentsFor(request.orderId);
    expect(result).toEqual({ status: 'succeeded', paymentRef: intent?.id });
    expect(intent?.id).toMatch(/^pi_/);
    expect(intent).toMatchObject({ amount: 4321, currency: 'usd', status: 'succeeded' });
    expect(fake.capturedFor(request.orderId)).toBe(4321);
  });

  it('a card error (402) is a final decline with its message and card, nothing captured', async () => {
    const request = chargeOf('pm_card_chargeDeclined');
    const declined = await stripe.charge(request);
    expect(declined).toEqual({
      status: 'declined',
      reason: 'Your card was declined.',
      cardFingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) as unknown,
    });
    // Asked again (a redelivery), the provider replays the same decline.
    expect(await stripe.charge(request)).toEqual(declined);
    // Another order with the same card: the same fingerprint.
    expect(await stripe.charge(chargeOf('pm_card_chargeDeclined'))).toEqual(declined);
    expect(fake.capturedFor(request.orderId)).toBe(0);
    expect(fake.intentsFor(request.orderId)).toHaveLength(1);
  });

  it('a payment method the provider does not know is declined', async () => {
    const result = await stripe.charge(chargeOf('pm_card_nonsense'));
    expect(result.status).toBe('declined');
    expect(result.status === 'declined' && result.reason).toContain('pm_card_nonsense');
    expect(result).not.toHaveProperty('cardFingerprint');
  });

  it('3-D Secure is pending; after the customer completes it the same key answers succeeded', async () => {
    const request = chargeOf('pm_card_authenticationRequired');
    const pending = await stripe.charge(request);
    if (pending.status !== 'pending') throw new Error(`expected pending, got ${pending.status}`);
    expect(pending.paymentRef).toMatch(/^pi_/);
    expect(fake.intent(pending.paymentRef)?.status).toBe('requires_action');
    expect(fake.capturedFor(request.orderId)).toBe(0);
    expect(await stripe.charge(request)).toEqual(pending);

    const event = fake.completeAuthentication(pending.paymentRef);
    const webhook = fake.signedWebhook(event, SECRET);
    expect(stripe.verify(Buffer.from(webhook.body), webhook.signature)).toEqual({
      eventId: event.id,
      orderId: request.orderId,
      paymentRef: pending.paymentRef,
      succeeded: true,
      amount: { amount: 1999, currency: 'USD' },
    });
    expect(await stripe.charge(request)).toEqual({
      status: 'succeeded',
      paymentRef: pending.paymentRef,
    });
    expect(fake.chargesFor(request.orderId)).toBe(1);
  });

  it('a failed authentication arrives as payment_failed with its reason', async () => {
    const request = chargeOf('pm_card_authenticationRequired');
    const pending = await stripe.charge(request);
    if (pending.status !== 'pending') throw new Error(`expected pending, got ${pending.status}`);
    const event = fake.completeAuthentication(pending.paymentRef, false);
    const webhook = fake.signedWebhook(event, SECRET);
    const outcome = stripe.verify(Buffer.from(webhook.body), webhook.signature);
    expect(outcome).toMatchObject({
      eventId: event.id,
      orderId: request.orderId,
      paymentRef: pending.paymentRef,
      succeeded: false,
      amount: { amount: 1999, currency: 'USD' },
    });
    expect(outcome?.reason).toContain('authenticate');
    expect(await stripe.charge(request)).toMatchObject({ status: 'declined' });
  });

  it('webhooks: a bad signature is invalid_signature, other event types are ignored', () => {
    const request = chargeOf();
    const event = { ...fake.event('payment_intent.succeeded', fakeIntent(request.orderId)) };
    const forged = fake.signedWebhook(event, 'whsec_someone_else');
    const error = (() => {
      try {
        stripe.verify(Buffer.from(forged.body), forged.signature);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(TerminalError);
    expect(error).toMatchObject({ code: 'invalid_signature' });

    const signed = fake.signedWebhook(event, SECRET);
    expect(() => stripe.verify(Buffer.from(`${signed.body} `), signed.signature)).toThrow(
      TerminalError,
    );
    const other = fake.signedWebhook({ ...event, type: 'charge.refunded' }, SECRET);
    expect(stripe.verify(Buffer.from(other.body), other.signature)).toBeUndefined();
  });

  it('webhooks: the amount is what was captured, its currency upper-case; none is a validation error', () => {
    const request = chargeOf();
    const intent = { ...fakeIntent(request.orderId), amount: 5000, amount_received: 4000 };
    const partial = fake.signedWebhook(fake.event('payment_intent.succeeded', intent), SECRET);
    expect(stripe.verify(Buffer.from(partial.body), partial.signature)).toMatchObject({
      succeeded: true,
      amount: { amount: 4000, currency: 'USD' },
    });
    const event = fake.event('payment_intent.succeeded', intent);
    const withoutAmount: Partial<typeof event.data.object> = { ...event.data.object };
    delete withoutAmount.amount_received;
    const unpriced = fake.signedWebhook({ ...event, data: { object: withoutAmount } }, SECRET);
    const verifyUnpriced = () => stripe.verify(Buffer.from(unpriced.body), unpriced.signature);
    expect(verifyUnpriced).toThrow(TerminalError);
    expect(verifyUnpriced).toThrow(/no valid amount_received/);
  });

  it('a wrong API key is a terminal rejection, not a retry', async () => {
    const error = await failure(adapter({ apiKey: 'sk_test_wrong' }).charge(chargeOf()));
    expect(error).toBeInstanceOf(TerminalError);
    expect(error).toMatchObject({ code: 'payment_provider_rejected' });
  });
});

describe('Stripe payments: retries never charge twice', () => {
  it('the same key charged again answers the first charge', async () => {
    const stripe = adapter();
    const request = chargeOf();
    const first = await stripe.charge(request);
    const again = await adapter().charge(request);
    expect(again).toEqual(first);
    expect(fake.chargesFor(request.orderId)).toBe(1);
    expect(fake.capturedFor(request.orderId)).toBe(1999);
  });

  it('concurrent calls with one key: the second meets 409 in flight, is retried, gets the same answer', async () => {
    await fake.setFaults({ latencyMs: 1_000 });
    const request = chargeOf();
    const conflictsBefore = fake.stats.conflicts;
    const [a, b] = await Promise.all([adapter().charge(request), adapter().charge(request)]);
    expect(b).toEqual(a);
    expect(fake.stats.conflicts).toBeGreaterThan(conflictsBefore);
    expect(fake.chargesFor(request.orderId)).toBe(1);
  });

  it('409 while the first call is in flight, with no SDK retries left, is retryable', async () => {
    await fake.setFaults({ latencyMs: 2_000 });
    const request = chargeOf();
    const first = adapter().charge(request);
    await waitUntil(() => fake.inFlight(request.idempotencyKey));
    const error = await failure(adapter({ maxNetworkRetries: 0 }).charge(request));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: 'payment_provider_unavailable' });
    expect(await first).toMatchObject({ status: 'succeeded' });
    expect(fake.chargesFor(request.orderId)).toBe(1);
  });

  it('an answer lost after the charge: the SDK retries with the same key and gets the replay', async () => {
    await fake.setFaults({ loseAnswerAfterCharge: 1 });
    const request = chargeOf();
    const before = { ...fake.stats };
    const result = await adapter().charge(request);
    expect(result).toEqual({
      status: 'succeeded',
      paymentRef: fake.intentsFor(request.orderId)[0]?.id,
    });
    expect(fake.stats.lostAnswers - before.lostAnswers).toBe(1);
    expect(fake.stats.replays - before.replays).toBe(1);
    expect(fake.chargesFor(request.orderId)).toBe(1);
    expect(fake.capturedFor(request.orderId)).toBe(1999);
  });

  it('many answers lost at random: every charge made once', async () => {
    await fake.setFaults({ loseAnswerAfterCharge: 0.5 });
    const requests = Array.from({ length: 20 }, () => chargeOf());
    const stripe = adapter();
    const results = await Promise.all(requests.map((request) => stripe.charge(request)));
    expect(results.map((result) => result.status)).toEqual(requests.map(() => 'succeeded'));
    for (const request of requests) expect(fake.chargesFor(request.orderId)).toBe(1);
  });

  it('a timeout, then 409 while the slow call goes on: retryable; the slow call is the only charge', async () => {
    await fake.setFaults({ latencyMs: 3_000 });
    const request = chargeOf();
    const error = await failure(adapter({ timeoutMs: 200, maxNetworkRetries: 1 }).charge(request));
    expect(error).toBeInstanceOf(RetryableError);
    await fake.setFaults({ latencyMs: 0 });
    await waitUntil(() => fake.chargesFor(request.orderId) === 1);
    expect(await adapter().charge(request)).toMatchObject({ status: 'succeeded' });
    expect(fake.chargesFor(request.orderId)).toBe(1);
  });

  it('a connection reset before anything is done: retryable, nothing charged', async () => {
    await fake.setFaults({ resetConnection: 1 });
    const request = chargeOf();
    expect(await failure(adapter().charge(request))).toBeInstanceOf(RetryableError);
    expect(fake.intentsFor(request.orderId)).toHaveLength(0);
    await fake.setFaults({ resetConnection: 0 });
    expect(await adapter().charge(request)).toMatchObject({ status: 'succeeded' });
    expect(fake.chargesFor(request.orderId)).toBe(1);
  });

  it('429: retryable after the Retry-After the provider sent, nothing charged', async () => {
    await fake.setFaults({ rateLimit: 1, rateLimitRetryAfterS: 7 });
    const request = chargeOf();
    const error = await failure(adapter().charge(request));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: 'payment_provider_unavailable', retryAfterMs: 7_000 });
    expect(fake.intentsFor(request.orderId)).toHaveLength(0);
    await fake.setFaults({ rateLimit: 0 });
    expect(await adapter().charge(request)).toMatchObject({ status: 'succeeded' });
    expect(fake.chargesFor(request.orderId)).toBe(1);
  });

  it('the provider down (503, or refusing connections): retryable, nothing charged', async () => {
    const request = chargeOf();
    await fake.setFaults({ down: 'unavailable' });
    const unavailable = await failure(adapter({ maxNetworkRetries: 1 }).charge(request));
    expect(unavailable).toBeInstanceOf(RetryableError);
    expect(unavailable).toMatchObject({ code: 'payment_provider_unavailable' });
    await fake.setFaults({ down: 'refuse' });
    const refused = await failure(adapter({ maxNetworkRetries: 1 }).charge(request));
    expect(refused).toBeInstanceOf(RetryableError);
    await fake.setFaults({ down: false });
    expect(fake.intentsFor(request.orderId)).toHaveLength(0);
    expect(await adapter().charge(request)).toMatchObject({ status: 'succeeded' });
    expect(fake.chargesFor(request.orderId)).toBe(1);
  });
});

describe('Stripe payments: refunds', () => {
  it('refunds the whole charge once, however often it is asked', async () => {
    const stripe = adapter();
    const request = chargeOf('pm_card_visa', 2500);
    const charged = await stripe.charge(request);
    if (charged.status !== 'succeeded') throw new Error(`charge ${charged.status}`);
    await stripe.refund(refundOf(request, charged.paymentRef));
    await stripe.refund(refundOf(request, charged.paymentRef));
    // Another key (an operator, another process): already refunded in full counts as done.
    await stripe.refund(refundOf(request, charged.paymentRef, `${request.orderId}:refund:again`));
    expect(fake.refundedFor(request.orderId)).toBe(2500);
    expect(fake.refundsFor(request.orderId)).toBe(1);
    expect(fake.capturedFor(request.orderId) - fake.refundedFor(request.orderId)).toBe(0);
  });

  it('a refund whose answer is lost is retried by the SDK with its key and made once', async () => {
    const stripe = adapter();
    const request = chargeOf('pm_card_visa', 1200);
    const charged = await stripe.charge(request);
    if (charged.status !== 'succeeded') throw new Error(`charge ${charged.status}`);
    await fake.setFaults({ loseAnswerAfterRefund: 1 });
    const lostBefore = fake.stats.lostAnswers;
    await stripe.refund(refundOf(request, charged.paymentRef));
    expect(fake.stats.lostAnswers - lostBefore).toBe(1);
    await fake.setFaults({ loseAnswerAfterRefund: 0 });
    await stripe.refund(refundOf(request, charged.paymentRef));
    expect(fake.refundsFor(request.orderId)).toBe(1);
    expect(fake.refundedFor(request.orderId)).toBe(1200);
  });

  it('a refund of a payment the provider does not know is a terminal rejection', async () => {
    const request = chargeOf();
    const error = await failure(adapter().refund(refundOf(request, 'pi_unknown')));
    expect(error).toBeInstanceOf(TerminalError);
  });
});

describe('Stripe payments: cancel and find', () => {
  const cancelOf = (request: ChargeRequest, paymentRef: string) => ({
    orderId: request.orderId,
    paymentRef,
    idempotencyKey: `${request.orderId}:cancel`,
  });

  async function pendingCharge(stripe: StripePayments) {
    const request = chargeOf('pm_card_authenticationRequired');
    const pending = await stripe.charge(request);
    if (pending.status !== 'pending') throw new Error(`expected pending, got ${pending.status}`);
    return { request, paymentRef: pending.paymentRef };
  }

  it('cancels a 3-D Secure intent at the provider (requires_action → canceled), as abandoned', async () => {
    const stripe = adapter();
    const { request, paymentRef } = await pendingCharge(stripe);
    expect(await stripe.cancel(cancelOf(request, paymentRef))).toEqual({ status: 'cancelled' });
    expect(fake.intent(paymentRef)).toMatchObject({
      status: 'canceled',
      cancellation_reason: 'abandoned',
    });
    expect(() => fake.completeAuthentication(paymentRef)).toThrow();
    expect(fake.capturedFor(request.orderId)).toBe(0);
  });

  it('the customer completed 3-D Secure before the cancel: succeeded, with the amount captured', async () => {
    const stripe = adapter();
    const { request, paymentRef } = await pendingCharge(stripe);
    fake.completeAuthentication(paymentRef);
    expect(await stripe.cancel(cancelOf(request, paymentRef))).toEqual({
      status: 'succeeded',
      paymentRef,
      amount: { amount: 1999, currency: 'USD' },
    });
    expect(fake.intent(paymentRef)?.status).toBe('succeeded');
    expect(fake.chargesFor(request.orderId)).toBe(1);
  });

  it('a cancel whose answer is lost is retried with its key and answers cancelled', async () => {
    const stripe = adapter();
    const { request, paymentRef } = await pendingCharge(stripe);
    await fake.setFaults({ loseAnswerAfterCancel: 1 });
    const before = { ...fake.stats };
    expect(await stripe.cancel(cancelOf(request, paymentRef))).toEqual({ status: 'cancelled' });
    expect(fake.stats.lostAnswers - before.lostAnswers).toBe(1);
    expect(fake.stats.replays - before.replays).toBe(1);
  });

  it('a cancel of an intent the provider does not know is terminal; a 429 is retryable', async () => {
    const request = chargeOf();
    const unknown = await failure(adapter().cancel(cancelOf(request, 'pi_unknown')));
    expect(unknown).toBeInstanceOf(TerminalError);
    await fake.setFaults({ rateLimit: 1 });
    const limited = await failure(adapter().cancel(cancelOf(request, 'pi_unknown')));
    expect(limited).toBeInstanceOf(RetryableError);
  });

  it("finds an order's intents by metadata, quotes in the order id escaped", async () => {
    const stripe = adapter();
    const request = { ...chargeOf('pm_card_visa', 700), orderId: `it's\\odd-${randomUUID()}` };
    const charged = await stripe.charge(request);
    if (charged.status !== 'succeeded') throw new Error(`charge ${charged.status}`);
    expect(await stripe.find(request.orderId)).toEqual({
      status: 'succeeded',
      paymentRef: charged.paymentRef,
      amount: { amount: 700, currency: 'USD' },
    });
    expect(await stripe.find(`${request.orderId}x`)).toEqual({ status: 'none' });
  });

  it('a lost charge answer: find tells the capture the order never heard of', async () => {
    // The provider is slower than the caller waits: the caller gives up, the charge goes on.
    await fake.setFaults({ latencyMs: 1_000 });
    const request = chargeOf('pm_card_visa', 1500);
    const lost = await failure(adapter({ timeoutMs: 100, maxNetworkRetries: 0 }).charge(request));
    expect(lost).toBeInstanceOf(RetryableError);
    await waitUntil(() => fake.chargesFor(request.orderId) === 1);
    await fake.setFaults({ latencyMs: 0 });
    const [intent] = fake.intentsFor(request.orderId);
    expect(await adapter().find(request.orderId)).toEqual({
      status: 'succeeded',
      paymentRef: intent?.id,
      amount: { amount: 1500, currency: 'USD' },
    });
  });

  it('find while the provider fails is retryable', async () => {
    await fake.setFaults({ down: 'unavailable' });
    const error = await failure(adapter({ maxNetworkRetries: 0 }).find(randomUUID()));
    expect(error).toBeInstanceOf(RetryableError);
  });
});

/** A minimal succeeded intent for webhook bodies (not in the ledger). */
function fakeIntent(orderId: string) {
  return {
    id: 'pi_webhook_only',
    object: 'payment_intent' as const,
    amount: 100,
    amount_received: 100,
    currency: 'usd',
    status: 'succeeded' as const,
    metadata: { order_id: orderId },
    payment_method: 'pm_card_visa',
    capture_method: 'automatic' as const,
    confirmation_method: 'automatic' as const,
    client_secret: 'secret',
    created: 0,
    livemode: false as const,
    last_payment_error: null,
    next_action: null,
    latest_charge: 'ch_1',
    canceled_at: null,
    cancellation_reason: null,
  };
}

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  await waitFor(() => (condition() ? true : undefined), {
    timeoutMs,
    intervalMs: 10,
    what: 'condition',
  });
}
