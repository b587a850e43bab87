/**
 * Payments that complete asynchronously, end to end: a real service process, the
 * Stripe-compatible fake (test/helpers/fake-stripe.ts) as its provider, webhooks signed
 * with the provider's secret and posted over a real socket. A card that needs 3-D Secure
 * (`pm_card_authenticationRequired`) leaves the order RESERVED; the provider's webhook
 * settles it once however often it is delivered; without one, the reservation expires.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  errorCode,
  historyStatuses,
  orderBody,
  type AdminProductView,
  type OrderView,
} from '../helpers/api.js';
import type { HttpResponse } from '../helpers/http.js';
import { FakeStripe, type FakePaymentIntent, type SignedWebhook } from '../helpers/fake-stripe.js';
import { startService, stopAllServices, type Env, type Service } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';

const AUTHENTICATION_REQUIRED = 'pm_card_authenticationRequired';
const WEBHOOK_PATH = '/v1/webhooks/stripe';
const API_KEY = `sk_test_${randomBytes(8).toString('hex')}`;
const SECRET = `whsec_${randomBytes(16).toString('hex')}`;
/**
 * The holds' TTL in the expiry tests: long enough that a loaded machine charges well within
 * it (the 3-D Secure intent must exist before the hold expires), short enough to wait out.
 */
const TTL_MS = 5000;

let fake: FakeStripe;

beforeAll(async () => {
  fake = new FakeStripe({ apiKey: API_KEY });
  await fake.start();
});

afterAll(async () => {
  await stopAllServices();
  await fake.stop();
});

function withFakeStripe(env: Env = {}): Env {
  return {
    ORDERFLOW_PAYMENTS_URL: fake.url,
    ORDERFLOW_PAYMENTS_KEY: API_KEY,
    ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: SECRET,
    ORDERFLOW_DECLINE_LIMIT: '0',
    ...env,
  };
}

/** Posts a webhook as the provider does: no API key, the raw body, its signature. */
function postWebhook(svc: Service, webhook: SignedWebhook): Promise<HttpResponse> {
  return svc.request('POST', WEBHOOK_PATH, {
    key: 'none',
    raw: webhook.body,
    headers: webhook.headers,
  });
}

interface TimelineView {
  readonly events: {
    readonly type: string;
    readonly outcomes: Record<string, { readonly state: string; readonly attempts: number }>;
  }[];
}

async function timeline(svc: Service, orderId: string): Promise<TimelineView> {
  const res = await svc.request<TimelineView>(
    'GET',
    `/v1/admin/orders/${encodeURIComponent(orderId)}/timeline`,
    { key: 'admin' },
  );
  expect(res.status).toBe(200);
  return res.json;
}

/** How many events of `type` the order's timeline (the log) holds. */
async function timelineCount(svc: Service, orderId: string, type: string): Promise<number> {
  return (await timeline(svc, orderId)).events.filter((event) => event.type === type).length;
}

/**
 * Waits until the service is done with the order: every consumer group caught up (nothing
 * appended that it was not handed, nothing in flight) and each of the order's events acked
 * by every group that takes it (none pending, none waiting for a retry). What the service
 * would still do about the order by itself it has then done: the sentinel against which
 * "nothing moved" is checked, instead of a sleep.
 */
async function settled(svc: Service, orderId: string): Promise<void> {
  let last = 'not read yet';
  await waitFor(
    async () => {
      const { consumers } = await svc.stats();
      const busy = Object.entries(consumers)
        .filter(([, group]) => (group.lag ?? 0) > 0 || (group.inFlight ?? 0) > 0)
        .map(([name, group]) => `${name} ${JSON.stringify(group)}`);
      const open = (await timeline(svc, orderId)).events.flatMap((event) =>
        Object.entries(event.outcomes)
          .filter(([, outcome]) => outcome.state !== 'acked')
          .map(([group, outcome]) => `${event.type} for ${group}: ${outcome.state}`),
      );
      last = [...busy, ...open].join('; ');
      return busy.length === 0 && open.length === 0 ? true : undefined;
    },
    {
      timeoutMs: 15_000,
      what: `the service to be done with ${orderId}`,
      describe: () => `still open: ${last}`,
    },
  );
}

/** `available` and `reserved` of a product in the stock cache. */
async function stockOf(
  svc: Service,
  sku: string,
  want: Partial<AdminProductView> = {},
): Promise<Pick<AdminProductView, 'available' | 'reserved'>> {
  const { available, reserved } = await svc.productWhen(sku, want);
  return { available, reserved };
}

/**
 * Places an order with the card that needs 3-D Secure and waits until the provider holds
 * its PaymentIntent in `requires_action` and the order is RESERVED.
 */
async function awaitingAuthentication(
  svc: Service,
  qty: number,
): Promise<{ orderId: string; intent: FakePaymentIntent }> {
  const { orderId } = await svc.placeAccepted(
    orderBody({ sku: 'A123', qty, paymentMethod: AUTHENTICATION_REQUIRED }),
  );
  const intent = await waitFor(
    () => fake.intentsFor(orderId).find((candidate) => candidate.status === 'requires_action'),
    { timeoutMs: 15_000, what: `a PaymentIntent of ${orderId} in requires_action` },
  );
  await svc.waitForStatus(orderId, ['RESERVED']);
  return { orderId, intent };
}

describe('webhooks from a Stripe-compatible provider', () => {
  let svc: Service;

  beforeAll(async () => {
    svc = await startService({ env: withFakeStripe() });
  });

  it('pm_card_authenticationRequired stays RESERVED; its signed webhook, sent three times, completes it once', async () => {
    const before = await stockOf(svc, 'A123');
    const { orderId, intent } = await awaitingAuthentication(svc, 2);

    // Nothing moves while the customer has not authenticated.
    await settled(svc, orderId);
    const waiting = await svc.getOrder(orderId);
    expect(waiting.status).toBe('RESERVED');
    expect(await stockOf(svc, 'A123')).toEqual({
      available: before.available - 2,
      reserved: before.reserved + 2,
    });
    expect(fake.chargesFor(orderId)).toBe(0);

    const webhook = fake.signedWebhook(fake.completeAuthentication(intent.id), SECRET);
    const first = await postWebhook(svc, webhook);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ received: true });
    // The provider retries: once more after the first, then two at the same time.
    const again = await Promise.all([postWebhook(svc, webhook), postWebhook(svc, webhook)]);
    for (const res of again) expect(res.json).toEqual({ received: true });

    const order = await svc.waitForStatus(orderId, ['COMPLETED']);
    expect(historyStatuses(order)).toEqual(['PENDING', 'RESERVED', 'PAID', 'COMPLETED']);
    expect((await postWebhook(svc, webhook)).json).toEqual({ received: true });
    await settled(svc, orderId);
    expect(historyStatuses(await svc.getOrder(orderId))).toEqual([
      'PENDING',
      'RESERVED',
      'PAID',
      'COMPLETED',
    ]);
    expect(await timelineCount(svc, orderId, 'PaymentConfirmed')).toBe(1);
    expect(await timelineCount(svc, orderId, 'OrderStatusChanged.COMPLETED')).toBe(1);

    // The provider's ledger: one intent, captured once, for the order's total.
    expect(fake.intentsFor(orderId)).toHaveLength(1);
    expect(fake.chargesFor(orderId)).toBe(1);
    expect(fake.capturedFor(orderId)).toBe(order.total.amount);
    expect(fake.refundedFor(orderId)).toBe(0);
    // The held units are sold.
    expect(await stockOf(svc, 'A123')).toEqual({
      available: before.available - 2,
      reserved: before.reserved,
    });
  });

  it('payment_intent.payment_failed → PAYMENT_FAILED, its stock released, nothing captured', async () => {
    const before = await stockOf(svc, 'A123');
    const { orderId, intent } = await awaitingAuthentication(svc, 3);
    expect((await stockOf(svc, 'A123')).reserved).toBe(before.reserved + 3);

    const webhook = fake.signedWebhook(fake.completeAuthentication(intent.id, false), SECRET);
    for (let delivery = 0; delivery < 3; delivery++) {
      expect((await postWebhook(svc, webhook)).json).toEqual({ received: true });
    }
    const order = await svc.waitForStatus(orderId, ['PAYMENT_FAILED']);
    expect(historyStatuses(order)).toEqual(['PENDING', 'RESERVED', 'PAYMENT_FAILED']);
    expect((order as OrderView & { reason?: string }).reason).toMatch(/authenticate/);
    expect(await stockOf(svc, 'A123', before)).toEqual(before);
    expect(fake.capturedFor(orderId)).toBe(0);
    expect(await timelineCount(svc, orderId, 'PaymentConfirmed')).toBe(1);
  });

  it('a webhook whose signature does not verify is refused with 400 and changes nothing', async () => {
    const { orderId, intent } = await awaitingAuthentication(svc, 1);
    const event = fake.completeAuthentication(intent.id);
    const forged = fake.signedWebhook(event, `whsec_${randomBytes(16).toString('hex')}`);
    const genuine = fake.signedWebhook(event, SECRET);
    const tampered: SignedWebhook = {
      ...genuine,
      body: genuine.body.replace(`"order_id":"${orderId}"`, '"order_id":"someone-else"'),
    };
    expect(tampered.body).not.toBe(genuine.body);
    for (const webhook of [forged, tampered]) {
      const res = await postWebhook(svc, webhook);
      expect(res.status).toBe(400);
      expect(errorCode(res.json)).toBe('invalid_signature');
    }
    const unsigned = await svc.request('POST', WEBHOOK_PATH, {
      key: 'none',
      raw: genuine.body,
      contentType: 'application/json',
    });
    expect(unsigned.status).toBe(400);
    await settled(svc, orderId);
    expect((await svc.getOrder(orderId)).status).toBe('RESERVED');
    expect(await timelineCount(svc, orderId, 'PaymentConfirmed')).toBe(0);

    // The genuine one still settles it.
    expect((await postWebhook(svc, genuine)).status).toBe(200);
    await svc.waitForStatus(orderId, ['COMPLETED']);
  });
});

describe('a webhook that never arrives (Stripe-compatible provider)', () => {
  let svc: Service;

  beforeAll(async () => {
    svc = await startService({ env: withFakeStripe({ ORDERFLOW_RESERVATION_TTL: `${TTL_MS}ms` }) });
  });

  it('the order is CANCELLED after the reservation TTL, its stock released, its payment cancelled at the provider', async () => {
    const before = await stockOf(svc, 'A123');
    const { orderId, intent } = await awaitingAuthentication(svc, 2);
    const order = await svc.waitForStatus(orderId, ['CANCELLED'], 20_000);
    expect(historyStatuses(order)).toEqual(['PENDING', 'RESERVED', 'CANCELLED']);
    const reservedAt = Date.parse(order.history[1]?.at ?? '');
    const cancelledAt = Date.parse(order.history[2]?.at ?? '');
    expect(cancelledAt - reservedAt).toBeGreaterThanOrEqual(TTL_MS);
    expect(await stockOf(svc, 'A123', before)).toEqual(before);
    expect(fake.capturedFor(orderId)).toBe(0);
    // The customer cannot pay a cancelled order any more: the intent is cancelled.
    expect(fake.intent(intent.id)?.status).toBe('canceled');
    expect(() => fake.completeAuthentication(intent.id)).toThrow();
  });

  it('a charge the provider refuses for good (under its minimum amount) fails the order, stock back, no dead letter', async () => {
    await svc.putProduct('CHEAP', {
      name: 'Sticker',
      price: { amount: 10, currency: 'USD' },
      onHand: 5,
    });
    const { orderId } = await svc.placeAccepted(orderBody({ sku: 'CHEAP', qty: 1 }));
    const order = await svc.waitForStatus(orderId, ['PAYMENT_FAILED'], 20_000);
    expect(order.reason).toMatch(/payment refused/);
    expect((await stockOf(svc, 'CHEAP', { available: 5 })).available).toBe(5);
    expect(fake.capturedFor(orderId)).toBe(0);
    const dlq = await svc.request<{ deadLetters: unknown[] }>('GET', '/v1/admin/dlq', {
      key: 'admin',
    });
    expect(dlq.status).toBe(200);
    expect(dlq.json.deadLetters).toEqual([]);
  });

  it('a payment the customer completed just as the hold expired is kept: COMPLETED', async () => {
    const before = await stockOf(svc, 'A123');
    const { orderId, intent } = await awaitingAuthentication(svc, 1);
    // Authenticated at the provider, its webhook not (yet) delivered when the hold expires:
    // the expiry looks at the payment first, finds it captured, and the order takes it.
    fake.completeAuthentication(intent.id);
    const order = await svc.waitForStatus(orderId, ['COMPLETED', 'CANCELLED'], 20_000);
    expect(order.status).toBe('COMPLETED');
    expect(fake.capturedFor(orderId)).toBe(order.total.amount);
    expect(fake.refundedFor(orderId)).toBe(0);
    expect((await stockOf(svc, 'A123')).available).toBe(before.available - 1);
  });
});

describe('the embedded simulated provider', () => {
  let svc: Service;

  beforeAll(async () => {
    svc = await startService({
      env: { ORDERFLOW_RESERVATION_TTL: `${TTL_MS}ms`, ORDERFLOW_DECLINE_LIMIT: '0' },
    });
  });

  it('answers pm_card_authenticationRequired with pending: CANCELLED after the TTL, stock released', async () => {
    const before = await stockOf(svc, 'A123');
    const { orderId } = await svc.placeAccepted(
      orderBody({ sku: 'A123', qty: 4, paymentMethod: AUTHENTICATION_REQUIRED }),
    );
    const reserved = await svc.waitForStatus(orderId, ['RESERVED', 'CANCELLED']);
    if (reserved.status === 'RESERVED') {
      expect((await stockOf(svc, 'A123')).reserved).toBe(before.reserved + 4);
    }
    const order = await svc.waitForStatus(orderId, ['CANCELLED'], 20_000);
    expect(historyStatuses(order)).toEqual(['PENDING', 'RESERVED', 'CANCELLED']);
    const reservedAt = Date.parse(order.history[1]?.at ?? '');
    const cancelledAt = Date.parse(order.history[2]?.at ?? '');
    expect(cancelledAt - reservedAt).toBeGreaterThanOrEqual(TTL_MS);
    expect(await stockOf(svc, 'A123', before)).toEqual(before);
  });

  it('has no webhook endpoint: 404 not_found', async () => {
    const res = await svc.request('POST', WEBHOOK_PATH, {
      key: 'none',
      body: { id: 'evt_1', object: 'event', type: 'payment_intent.succeeded' },
      headers: { 'stripe-signature': 't=1,v1=00' },
    });
    expect(res.status).toBe(404);
    expect(errorCode(res.json)).toBe('not_found');
  });
});
