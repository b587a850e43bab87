/**
 * `POST /v1/webhooks/stripe` in process (`inject`): the signature is checked by the Stripe
 * SDK itself over the raw body, a verified payment outcome is recorded once however often
 * it is delivered, and the saga applies it once. Payloads are signed with the SDK's own
 * `generateTestHeaderString`.
 */
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiErrorBody } from '../helpers/api.js';
import { SimulatedPayments } from '../../src/adapters/payments/simulated-payments.js';
import type { buildApp } from '../../src/http/app.js';
import { chargeKey, OrderSaga } from '../../src/workflow/saga.js';
import { AS, connectionRefused, orderBody, startTestService, type TestService } from './context.js';

const URL = '/v1/webhooks/stripe';
const SECRET = `whsec_${randomBytes(16).toString('hex')}`;
const AUTHENTICATION_REQUIRED = 'pm_card_authenticationRequired';

type ErrorReply = ApiErrorBody;

/**
 * The Stripe adapter's verifier (the SDK's `webhooks.constructEvent`). `verify` makes no
 * request, so the API URL points nowhere.
 */
/** A Stripe-compatible provider with webhooks, configured as a shop would (never called here). */
const WEBHOOKS_ENV = {
  ORDERFLOW_PAYMENTS_URL: 'http://127.0.0.1:9',
  ORDERFLOW_PAYMENTS_KEY: 'sk_test_webhooks',
  ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: SECRET,
};

let eventSeq = 0;

/** A Stripe event as the provider sends it, for a PaymentIntent of `orderId`. */
function intentEvent(
  type: string,
  intent: { id: string; orderId?: string; amount?: number; declineMessage?: string },
): string {
  const failed = type === 'payment_intent.payment_failed';
  return JSON.stringify({
    id: `evt_test_${++eventSeq}_${randomBytes(4).toString('hex')}`,
    object: 'event',
    api_version: '2025-01-27.acacia',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: {
      object: {
        id: intent.id,
        object: 'payment_intent',
        amount: intent.amount ?? 3998,
        amount_received: failed ? 0 : (intent.amount ?? 3998),
        currency: 'usd',
        status: failed ? 'requires_payment_method' : 'succeeded',
        metadata: intent.orderId === undefined ? {} : { order_id: intent.orderId },
        last_payment_error: failed
          ? { type: 'card_error', message: intent.declineMessage ?? 'Your card was declined.' }
          : null,
      },
    },
  });
}

function sign(payload: string, secret = SECRET, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret,
    ...(timestamp === undefined ? {} : { timestamp }),
  });
}

describe('POST /v1/webhooks/stripe', () => {
  let service: TestService;
  let app: Awaited<ReturnType<typeof buildApp>>;
  const payments = new SimulatedPayments(0);
  let saga: OrderSaga;

  const deliver = (payload: string, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: URL,
      headers: {
        'content-type': 'application/json',
        'stripe-signature': sign(payload),
        ...headers,
      },
      payload,
    });

  /** Every PaymentConfirmed event the log holds for the order. */
  const confirmations = async (orderId: string) =>
    (await service.backends.log.trace(orderId))
      .map((trace) => trace.event)
      .filter((event) => event.type === 'PaymentConfirmed');

  const statusChanges = async (orderId: string, status: string) =>
    (await service.backends.log.trace(orderId)).filter(
      (trace) => trace.event.type === `OrderStatusChanged.${status}`,
    ).length;

  const widget = async () => (await service.backends.stock.items(['A123'])).get('A123');

  /**
   * An order placed over HTTP with a card that needs 3-D Secure, taken by the real saga
   * to RESERVED with its charge pending; answers its id and the PaymentIntent's id.
   */
  async function reservedAwaitingPayment(): Promise<{ orderId: string; paymentRef: string }> {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: AS.client,
      payload: orderBody({ paymentMethod: AUTHENTICATION_REQUIRED }),
    });
    expect(res.statusCode).toBe(202);
    const { orderId } = res.json<{ orderId: string }>();
    await saga.advance(orderId);
    expect((await service.backends.orders.get(orderId))?.status).toBe('RESERVED');
    const order = await service.backends.orders.get(orderId);
    if (!order) throw new Error(`order ${orderId} vanished`);
    // The simulated provider answers a charge with the same key the same way.
    const charge = await payments.charge({
      orderId,
      amount: order.total,
      paymentMethod: order.paymentMethod,
      idempotencyKey: chargeKey(orderId),
    });
    expect(charge.status).toBe('pending');
    if (charge.status !== 'pending') throw new Error('the charge did not wait for the customer');
    return { orderId, paymentRef: charge.paymentRef };
  }

  /** What the workflow consumer does with each PaymentConfirmed on the log, `times` times over. */
  async function applyConfirmations(orderId: string, times: number): Promise<void> {
    for (let round = 0; round < times; round++) {
      for (const event of await confirmations(orderId)) {
        const data = event.data as { paymentRef: string; succeeded: boolean; reason?: string };
        await saga.confirmPayment(orderId, data.paymentRef, data.succeeded, data.reason);
      }
    }
  }

  beforeAll(async () => {
    service = await startTestService({ env: WEBHOOKS_ENV });
    app = service.app;
    saga = new OrderSaga({
      ...service.backends,
      payments,
      clock: service.ctx.clock,
      reservationTtlMs: 15 * 60_000,
      paymentGiveUpMs: 60 * 60_000,
    });
  });
  afterAll(() => service.close());

  it('takes an order left at PAID by a crash on to COMPLETED when its confirmation comes again', async () => {
    const before = await widget();
    const { orderId, paymentRef } = await reservedAwaitingPayment();
    // What a crash right after the webhook's PAID leaves behind.
    const paid = await service.backends.orders.transition(
      orderId,
      'RESERVED',
      'PAID',
      new Date().toISOString(),
      { paymentRef },
    );
    expect(paid?.status).toBe('PAID');
    await saga.confirmPayment(orderId, paymentRef, true);
    const order = await service.backends.orders.get(orderId);
    expect(order?.status).toBe('COMPLETED');
    const qty = order?.items.reduce((sum, line) => sum + line.qty, 0) ?? 0;
    const after = await widget();
    expect(after?.reserved).toBe(before?.reserved);
    expect(after?.available).toBe((before?.available ?? 0) - qty);
  });

  it('fails the order and gives its stock back when the provider captured another amount', async () => {
    const before = await widget();
    const { orderId, paymentRef } = await reservedAwaitingPayment();
    await saga.confirmPayment(orderId, paymentRef, true, undefined, { amount: 1, currency: 'USD' });
    const order = await service.backends.orders.get(orderId);
    expect(order?.status).toBe('PAYMENT_FAILED');
    expect(order?.reason).toMatch(/captured 1 USD/);
    expect(await widget()).toEqual(before);
  });

  it('records a payment_intent.succeeded sent three times once; the saga completes the order once', async () => {
    const { orderId, paymentRef } = await reservedAwaitingPayment();
    const before = await widget();
    const payload = intentEvent('payment_intent.succeeded', { id: paymentRef, orderId });
    for (let delivery = 0; delivery < 3; delivery++) {
      const res = await deliver(payload);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ received: true });
    }
    const recorded = await confirmations(orderId);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.data).toMatchObject({
      type: 'PaymentConfirmed',
      orderId,
      paymentRef,
      succeeded: true,
    });

    await applyConfirmations(orderId, 3);
    const order = await service.backends.orders.get(orderId);
    expect(order?.status).toBe('COMPLETED');
    expect(order?.paymentRef).toBe(paymentRef);
    expect(order?.history.map((entry) => entry.status)).toEqual([
      'PENDING',
      'RESERVED',
      'PAID',
      'COMPLETED',
    ]);
    expect(await statusChanges(orderId, 'COMPLETED')).toBe(1);
    // The held stock is sold: it leaves `reserved`, `available` does not come back.
    expect(await widget()).toMatchObject({
      available: before?.available,
      reserved: (before?.reserved ?? 0) - 2,
    });
  });

  it('a payment_intent.payment_failed fails the order and releases its stock', async () => {
    const { orderId, paymentRef } = await reservedAwaitingPayment();
    const before = await widget();
    const payload = intentEvent('payment_intent.payment_failed', {
      id: paymentRef,
      orderId,
      declineMessage: 'Authentication failed.',
    });
    for (let delivery = 0; delivery < 2; delivery++) {
      expect((await deliver(payload)).json()).toEqual({ received: true });
    }
    expect(await confirmations(orderId)).toHaveLength(1);
    await applyConfirmations(orderId, 2);
    const order = await service.backends.orders.get(orderId);
    expect(order?.status).toBe('PAYMENT_FAILED');
    expect(order?.reason).toBe('Authentication failed.');
    expect(await widget()).toMatchObject({
      available: (before?.available ?? 0) + 2,
      reserved: (before?.reserved ?? 0) - 2,
    });
  });

  it('refuses a bad signature with 400 invalid_signature and records nothing', async () => {
    const { orderId, paymentRef } = await reservedAwaitingPayment();
    const payload = intentEvent('payment_intent.succeeded', { id: paymentRef, orderId });
    const attempts = [
      // Signed with another secret.
      { payload, signature: sign(payload, `whsec_${randomBytes(16).toString('hex')}`) },
      // The body changed after signing (one byte of the amount).
      { payload: payload.replace('"amount":3998', '"amount":3999'), signature: sign(payload) },
      // Signed too long ago: a replayed capture (the SDK's tolerance is 300 s).
      { payload, signature: sign(payload, SECRET, Math.floor(Date.now() / 1000) - 3600) },
      // Not a signature at all.
      { payload, signature: 'garbage' },
    ];
    for (const attempt of attempts) {
      const res = await deliver(attempt.payload, { 'stripe-signature': attempt.signature });
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorReply>().error.code).toBe('invalid_signature');
    }
    expect(await confirmations(orderId)).toHaveLength(0);
    expect((await service.backends.orders.get(orderId))?.status).toBe('RESERVED');
  });

  it('refuses a verified payment event without its amount with 400 validation_error, records nothing', async () => {
    const { orderId, paymentRef } = await reservedAwaitingPayment();
    const event = JSON.parse(
      intentEvent('payment_intent.succeeded', { id: paymentRef, orderId }),
    ) as { data: { object: Record<string, unknown> } };
    delete event.data.object['amount_received'];
    const res = await deliver(JSON.stringify(event));
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorReply>().error.code).toBe('validation_error');
    expect(await confirmations(orderId)).toHaveLength(0);
  });

  it('refuses a missing Stripe-Signature with 400 validation_error', async () => {
    const payload = intentEvent('payment_intent.succeeded', { id: 'pi_x', orderId: 'o-missing' });
    const res = await app.inject({
      method: 'POST',
      url: URL,
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorReply>().error).toMatchObject({
      code: 'validation_error',
      message: expect.stringContaining('Stripe-Signature') as unknown,
    });
    expect(await confirmations('o-missing')).toHaveLength(0);
  });

  it('refuses a body that is not JSON with 415, and one over 1 MiB with 413', async () => {
    const text = await app.inject({
      method: 'POST',
      url: URL,
      headers: { 'content-type': 'text/plain', 'stripe-signature': sign('hello') },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json<ErrorReply>().error.code).toBe('unsupported_media_type');

    const form = await app.inject({
      method: 'POST',
      url: URL,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'stripe-signature': sign('a=1'),
      },
      payload: 'a=1',
    });
    expect(form.statusCode).toBe(415);

    const huge = JSON.stringify({ id: 'evt_huge', pad: 'x'.repeat(1_100_000) });
    const tooLarge = await deliver(huge);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json<ErrorReply>().error.code).toBe('payload_too_large');
  });

  it('acknowledges a verified event that is not a payment outcome and records nothing', async () => {
    const { orderId, paymentRef } = await reservedAwaitingPayment();
    const others = [
      intentEvent('payment_intent.created', { id: paymentRef, orderId }),
      intentEvent('payment_intent.requires_action', { id: paymentRef, orderId }),
      JSON.stringify({
        id: 'evt_test_customer',
        object: 'event',
        type: 'customer.created',
        data: { object: { id: 'cus_1', object: 'customer', metadata: {} } },
      }),
    ];
    for (const payload of others) {
      const res = await deliver(payload);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ received: true, ignored: true });
    }
    expect(await confirmations(orderId)).toHaveLength(0);
  });

  it('ignores a payment outcome of a PaymentIntent that is not an order of ours', async () => {
    const res = await deliver(intentEvent('payment_intent.succeeded', { id: 'pi_other_system' }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ received: true, ignored: true });
  });

  it('needs no API key; the raw-body parser stays scoped to this route', async () => {
    const { orderId, paymentRef } = await reservedAwaitingPayment();
    const payload = intentEvent('payment_intent.succeeded', { id: paymentRef, orderId });
    expect((await deliver(payload)).statusCode).toBe(200);
    expect((await deliver(payload, { authorization: 'Bearer not-a-key' })).statusCode).toBe(200);
    expect(await confirmations(orderId)).toHaveLength(1);

    // The other routes still need a key, and still parse JSON with the app's parser.
    const post = (headers: Record<string, string>, payload: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: { 'content-type': 'application/json', ...headers },
        payload,
      });
    expect((await post({}, JSON.stringify(orderBody()))).statusCode).toBe(401);
    const placed = await post(
      AS.client,
      JSON.stringify(orderBody({ items: [{ sku: 'A123', qty: 3 }] })),
    );
    expect(placed.statusCode).toBe(202);
    const stored = await service.backends.orders.get(placed.json<{ orderId: string }>().orderId);
    expect(stored?.items.map(({ sku, qty }) => ({ sku, qty }))).toEqual([{ sku: 'A123', qty: 3 }]);
    const poisoned = await post(
      AS.client,
      JSON.stringify(orderBody()).replace('{', '{"__proto__":{"admin":true},'),
    );
    expect(poisoned.statusCode).toBe(400);
  });

  it('is described in the OpenAPI document without a security requirement', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{
      paths: Record<
        string,
        Record<
          string,
          {
            security?: unknown;
            requestBody?: { content?: Record<string, unknown> };
            parameters?: { name: string; in: string; required?: boolean }[];
            responses?: Record<string, unknown>;
          }
        >
      >;
    }>();
    const operation = doc.paths[URL]?.post;
    expect(operation).toBeDefined();
    expect(operation?.security).toEqual([]);
    expect(Object.keys(operation?.requestBody?.content ?? {})).toContain('application/json');
    expect(operation?.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'stripe-signature', in: 'header', required: true }),
      ]),
    );
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(['200']));
  });
});

describe('POST /v1/webhooks/stripe without a provider that has webhooks', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.close());

  it('answers 404 not_found, before reading the body', async () => {
    const payload = intentEvent('payment_intent.succeeded', { id: 'pi_1', orderId: 'o-1' });
    for (const contentType of ['application/json', 'text/plain']) {
      const res = await service.app.inject({
        method: 'POST',
        url: URL,
        headers: { 'content-type': contentType, 'stripe-signature': sign(payload) },
        payload,
      });
      expect(res.statusCode).toBe(404);
      expect(res.json<ErrorReply>().error.code).toBe('not_found');
    }
    expect(await service.backends.log.trace('o-1')).toHaveLength(0);
  });
});

describe('POST /v1/webhooks/stripe with a backend down', () => {
  let service: TestService;
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    service = await startTestService({
      env: WEBHOOKS_ENV,
      override: (real) => ({
        log: Object.assign(Object.create(real.log) as typeof real.log, {
          append: () => Promise.reject(connectionRefused()),
        }),
      }),
    });
    app = service.app;
  });
  afterAll(() => service.close());

  it('answers 503 with Retry-After, so that the provider delivers it again', async () => {
    const payload = intentEvent('payment_intent.succeeded', { id: 'pi_down', orderId: 'o-down' });
    const res = await app.inject({
      method: 'POST',
      url: URL,
      headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload) },
      payload,
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json<ErrorReply>().error.code).toBe('service_unavailable');
  });
});

describe('POST /v1/webhooks/stripe rate limit', () => {
  let service: TestService;
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    service = await startTestService({ env: { ...WEBHOOKS_ENV, ORDERFLOW_RATE_LIMIT: '1' } });
    app = service.app;
  });
  afterAll(() => service.close());

  it('is limited per IP like every other route (burst 2× the rate)', async () => {
    const payload = intentEvent('customer.created', { id: 'pi_rl' });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({
        method: 'POST',
        url: URL,
        remoteAddress: '203.0.113.9',
        headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload) },
        payload,
      });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) expect(res.headers['retry-after']).toBeDefined();
    }
    expect(statuses).toEqual([200, 200, 429]);
  });
});
