/**
 * What a real `orderflow start` (embedded default, its pipeline process beside it) prints
 * at `info`, against a Stripe-compatible provider (the fake one, a real socket), with API
 * keys set: after a success, a decline, a cancel, a bad request and an unauthorized one,
 * no line holds an API key, the payments key or webhook secret, a payment method or a
 * customer's e-mail address; and every order's status changes are logged with its id.
 */
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, VISA, isTerminal, orderBody, type OrderView } from '../helpers/api.js';
import { FakeStripe } from '../helpers/fake-stripe.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { logLines } from '../helpers/log-lines.js';
import { waitFor } from '../helpers/wait.js';

const CLIENT_KEY = 'ck_hygiene_client_4f1d';
const ADMIN_KEY = 'ak_hygiene_admin_9b2e';
const WRONG_KEY = 'ck_hygiene_wrong_77aa';
const PAYMENTS_KEY = 'sk_test_hygiene_5c3a';
const WEBHOOK_SECRET = 'whsec_hygiene_e81f';
const EMAILS = ['jane.doe+vip@example.com', 'max.mustermann@example.org'];

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly orderId?: string;
  readonly status?: string;
  readonly from?: string;
}

const INFO = 30;

let fake: FakeStripe;
let service: Service;
const orders: Record<string, string> = {};
/** Every refusal's body: none may hold a key or a secret either. */
const errorBodies: string[] = [];

beforeAll(async () => {
  fake = new FakeStripe({ apiKey: PAYMENTS_KEY });
  await fake.start();
  service = await startService({
    env: {
      LOG_LEVEL: 'info',
      ORDERFLOW_API_KEYS: `client:${CLIENT_KEY},admin:${ADMIN_KEY}`,
      ORDERFLOW_PAYMENTS_URL: fake.url,
      ORDERFLOW_PAYMENTS_KEY: PAYMENTS_KEY,
      ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
      ORDERFLOW_RATE_LIMIT: '0',
      ORDERFLOW_DECLINE_LIMIT: '0',
    },
  });
}, 60_000);

afterAll(async () => {
  await stopAllServices();
  await fake?.stop();
});

const place = async (body: unknown, key = CLIENT_KEY) =>
  service.request<{ orderId: string }>('POST', '/v1/orders', { key, body });

const order = async (orderId: string): Promise<OrderView> => {
  const res = await service.request<OrderView>('GET', `/v1/orders/${orderId}`, { key: ADMIN_KEY });
  if (res.status !== 200) throw new Error(`GET order answered ${res.status}: ${res.text}`);
  return res.json;
};

const until = (orderId: string, done: (seen: OrderView) => boolean): Promise<OrderView> =>
  waitFor(
    async () => {
      const seen = await order(orderId);
      return done(seen) ? seen : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50, what: `order ${orderId}` },
  );

describe('log hygiene', () => {
  it('places, declines, cancels and refuses orders', async () => {
    const success = await place(orderBody({ email: EMAILS[0], paymentMethod: VISA }));
    const decline = await place(orderBody({ email: EMAILS[1], paymentMethod: DECLINED }));
    const cancel = await place(orderBody({ email: EMAILS[0], paymentMethod: VISA }));
    for (const res of [success, decline, cancel]) expect(res.status).toBe(202);
    orders['success'] = success.json.orderId;
    orders['decline'] = decline.json.orderId;
    orders['cancel'] = cancel.json.orderId;
    const cancelled = await service.request('POST', `/v1/orders/${orders['cancel']}/cancel`, {
      key: CLIENT_KEY,
    });
    expect(cancelled.status).toBe(202);

    const bad = await place({
      ...orderBody({ email: EMAILS[1] }),
      items: [{ sku: 'A123', qty: 0 }],
    });
    expect(bad.status).toBe(400);
    const unknownSku = await place(orderBody({ email: EMAILS[1], sku: 'NO-SUCH-SKU' }));
    expect(unknownSku.status).toBe(422);
    const unauthorized = await place(orderBody({ email: EMAILS[0] }), WRONG_KEY);
    expect(unauthorized.status).toBe(401);
    // A webhook signed with the right secret an hour ago (a replay), and one with a wrong one.
    const event = JSON.stringify({ id: 'evt_hygiene', type: 'payment_intent.succeeded', data: {} });
    const webhook = (signature: string) =>
      service.request('POST', '/v1/webhooks/stripe', {
        key: 'none',
        headers: { 'stripe-signature': signature, 'content-type': 'application/json' },
        raw: event,
      });
    const old = await webhook(
      Stripe.webhooks.generateTestHeaderString({
        payload: event,
        secret: WEBHOOK_SECRET,
        timestamp: Math.floor(Date.now() / 1000) - 3600,
      }),
    );
    expect(old.status).toBe(400);
    expect((old.json as { error: { code: string } }).error.code).toBe('invalid_signature');
    const forged = await webhook(
      Stripe.webhooks.generateTestHeaderString({ payload: event, secret: `${WEBHOOK_SECRET}x` }),
    );
    expect(forged.status).toBe(400);
    errorBodies.push(bad.text, unknownSku.text, unauthorized.text, old.text, forged.text);

    expect((await until(orders['success'], (seen) => isTerminal(seen.status))).status).toBe(
      'COMPLETED',
    );
    expect((await until(orders['decline'], (seen) => isTerminal(seen.status))).status).toBe(
      'PAYMENT_FAILED',
    );
    // A cancel before payment ends CANCELLED; after it, REFUNDED.
    const ended = await until(
      orders['cancel'],
      (seen) => seen.status === 'CANCELLED' || seen.status === 'REFUNDED',
    );
    expect(['CANCELLED', 'REFUNDED']).toContain(ended.status);
    // Every mail sent (the notifications consumer caught up), then a graceful stop: all is printed.
    await waitFor(
      async () => {
        const res = await service.request<{
          consumers: Record<string, { lag: number; inFlight: number }>;
        }>('GET', '/v1/admin/stats', { key: ADMIN_KEY });
        const group = res.json.consumers['notifications'];
        return group && group.lag === 0 && group.inFlight === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, what: 'the notifications to be sent' },
    );
    expect(await service.stop()).toEqual({ code: 0, signal: null });
  });

  it('prints no key, secret, payment method or e-mail address', () => {
    const lines = service.logs().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    const leaks: string[] = [];
    for (const line of lines) {
      for (const secret of [CLIENT_KEY, ADMIN_KEY, WRONG_KEY, PAYMENTS_KEY, WEBHOOK_SECRET]) {
        if (line.includes(secret)) leaks.push(`a key: ${line}`);
      }
      if (/pm_card_\w+/.test(line)) leaks.push(`a payment method: ${line}`);
      for (const email of EMAILS) {
        if (line.toLowerCase().includes(email)) leaks.push(`an e-mail address: ${line}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('answers no refusal with a key or a secret in its body', () => {
    expect(errorBodies.length).toBeGreaterThan(0);
    for (const body of errorBodies) {
      for (const secret of [CLIENT_KEY, ADMIN_KEY, WRONG_KEY, PAYMENTS_KEY, WEBHOOK_SECRET]) {
        expect(body).not.toContain(secret);
      }
    }
  });

  it('logs every status change at info with the order id, the status and the one before', () => {
    const changes = logLines<LogLine>(service.logs()).filter(
      (line) => line.msg === 'order status changed',
    );
    for (const line of changes) {
      expect(line.level).toBe(INFO);
      expect(line.orderId).toMatch(/\S/);
      expect(line.status).toMatch(/^[A-Z_]+$/);
    }
    const of = (orderId: string | undefined) =>
      changes
        .filter((line) => line.orderId === orderId)
        .map((line) => `${line.from ?? '-'}>${line.status ?? '-'}`);
    expect(of(orders['success'])).toEqual(['PENDING>RESERVED', 'RESERVED>PAID', 'PAID>COMPLETED']);
    expect(of(orders['decline'])).toEqual(['PENDING>RESERVED', 'RESERVED>PAYMENT_FAILED']);
    expect(of(orders['cancel']).at(-1)).toMatch(/>(CANCELLED|REFUNDED)$/);
  });
});
