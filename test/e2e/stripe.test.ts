/**
 * The service (a real process) against a Stripe-compatible provider (a real socket) that
 * loses answers, rate-limits and goes down: every order ends once, money and stock add
 * up at the provider and in the stock cache, and an outage dead-letters nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, VISA, isTerminal, orderBody, type OrderView } from '../helpers/api.js';
import { FakeStripe, ledgerViolations } from '../helpers/fake-stripe.js';
import {
  checkStockConservation,
  fetchOrders,
  terminalOnceViolations,
  waitForSotConsistent,
} from '../helpers/invariants.js';
import { startService, stopAllServices, type Env, type Service } from '../helpers/service.js';
import { mapLimit, sleep, waitFor } from '../helpers/wait.js';

const SECRET = 'whsec_test';
const PRICE = { amount: 1250, currency: 'USD' };

function stripeEnv(fake: FakeStripe, extra: Env = {}): Env {
  return {
    ORDERFLOW_PAYMENTS_URL: fake.url,
    ORDERFLOW_PAYMENTS_KEY: 'sk_test_x',
    ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: SECRET,
    ORDERFLOW_RATE_LIMIT: '0',
    ORDERFLOW_DECLINE_LIMIT: '0',
    ORDERFLOW_SYNC_OUT_INTERVAL: '200ms',
    ...extra,
  };
}

interface DeadLetter {
  readonly consumer: string;
  readonly lastError: string;
  readonly event: { readonly key: string };
}

async function deadLetters(svc: Service): Promise<DeadLetter[]> {
  const res = await svc.request<{ deadLetters: DeadLetter[] }>('GET', '/v1/admin/dlq', {
    key: 'admin',
  });
  if (res.status !== 200) throw new Error(`GET /v1/admin/dlq answered ${res.status}: ${res.text}`);
  return res.json.deadLetters;
}

function count(orders: Iterable<OrderView>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const order of orders) counts[order.status] = (counts[order.status] ?? 0) + 1;
  return counts;
}

const fakes: FakeStripe[] = [];

async function startFake(faults: ConstructorParameters<typeof FakeStripe>[0] = {}) {
  const fake = new FakeStripe({ apiKey: 'sk_test_x', ...faults });
  await fake.start();
  fakes.push(fake);
  return fake;
}

afterAll(async () => {
  await stopAllServices();
  await Promise.all(fakes.map((fake) => fake.stop()));
});

describe('Stripe-compatible provider losing answers and rate-limiting', () => {
  const SKU = 'STRIPE-LOSSY';
  const STOCK = 10_000;
  const ORDERS = 300;
  let fake: FakeStripe;
  let svc: Service;
  let ids: string[] = [];
  let completed: OrderView[] = [];

  beforeAll(async () => {
    fake = await startFake({
      faults: {
        loseAnswerAfterCharge: 0.1,
        loseAnswerAfterRefund: 0.1,
        rateLimit: 0.1,
        rateLimitRetryAfterS: 1,
      },
    });
    svc = await startService({ env: stripeEnv(fake) });
    await svc.putProduct(SKU, { name: 'Lossy widget', price: PRICE, onHand: STOCK });
  });

  it(
    `${ORDERS} orders (one in six declined): every order ends once, money and stock add up`,
    { timeout: 300_000 },
    async () => {
      const bodies = Array.from({ length: ORDERS }, (_, i) =>
        orderBody({ sku: SKU, qty: 1 + (i % 3), paymentMethod: i % 6 === 5 ? DECLINED : VISA }),
      );
      const accepted = await mapLimit(bodies, 32, (body) =>
        svc.placeAccepted(body, { timeoutMs: 60_000 }),
      );
      ids = accepted.map((order) => order.orderId);
      const final = await svc.waitForAllTerminal(ids, 240_000);
      const views = ids.map((id) => final.get(id) as OrderView);

      expect(terminalOnceViolations(views)).toEqual([]);
      const expected = bodies.map((body) =>
        body.paymentMethod === DECLINED ? 'PAYMENT_FAILED' : 'COMPLETED',
      );
      expect(views.map((view) => view.status)).toEqual(expected);
      expect(ledgerViolations(fake, views)).toEqual([]);
      for (const view of views.filter((v) => v.status === 'COMPLETED')) {
        expect(fake.chargesFor(view.orderId)).toBe(1);
      }
      // The faults really struck (and were absorbed).
      expect(fake.stats.lostAnswers).toBeGreaterThan(0);
      expect(fake.stats.rateLimited).toBeGreaterThan(0);
      expect(fake.stats.replays).toBeGreaterThan(0);

      const stock = await checkStockConservation(svc, SKU, STOCK, views);
      expect(stock.violations).toEqual([]);
      expect(stock.reserved).toBe(0);
      expect(await deadLetters(svc)).toEqual([]);
      completed = views.filter((view) => view.status === 'COMPLETED');
    },
  );

  it(
    'cancelling 20 COMPLETED orders refunds each once at the provider and returns the stock',
    { timeout: 180_000 },
    async () => {
      expect(completed.length).toBeGreaterThanOrEqual(20);
      const cancelled = completed.slice(0, 20);
      const before = await svc.adminProduct(SKU);
      for (const order of cancelled) {
        const res = await svc.cancel(order.orderId);
        expect(res.status, res.text).toBe(202);
      }
      const refunded = await mapLimit(cancelled, 8, (order) =>
        svc.waitForStatus(order.orderId, (view) => view.status !== 'COMPLETED', 120_000),
      );
      expect(refunded.map((view) => view.status)).toEqual(cancelled.map(() => 'REFUNDED'));
      for (const view of refunded) {
        expect(fake.refundsFor(view.orderId)).toBe(1);
        expect(fake.refundedFor(view.orderId)).toBe(view.total.amount);
      }

      const all = await fetchOrders(svc, [...completed.map((o) => o.orderId)]);
      expect(ledgerViolations(fake, all.values())).toEqual([]);
      expect(terminalOnceViolations(refunded)).toEqual([]);
      const returned = cancelled.reduce((sum, order) => sum + (order.items[0]?.qty ?? 0), 0);
      const after = await svc.productWhen(SKU, { available: before.available + returned });
      expect(after.available).toBe(before.available + returned);
      expect(after.reserved).toBe(0);
      expect(await deadLetters(svc)).toEqual([]);
    },
  );

  it('the source of truth agrees once sync-out has caught up', { timeout: 120_000 }, async () => {
    expect(ids).toHaveLength(ORDERS);
    const views = await fetchOrders(svc, ids);
    expect(await waitForSotConsistent(svc, views.values(), [SKU], { timeoutMs: 60_000 })).toEqual(
      [],
    );
  });
});

describe('the provider down for 30 s under load', () => {
  const SKU = 'STRIPE-OUTAGE';
  const STOCK = 10_000;
  const OUTAGE_MS = 30_000;
  let fake: FakeStripe;
  let svc: Service;

  beforeAll(async () => {
    fake = await startFake();
    svc = await startService({ env: stripeEnv(fake) });
    await svc.putProduct(SKU, { name: 'Outage widget', price: PRICE, onHand: STOCK });
  });

  it(
    'orders wait RESERVED, nothing is dead-lettered, all complete after',
    { timeout: 300_000 },
    async () => {
      const place = async (): Promise<string> =>
        (await svc.placeAccepted(orderBody({ sku: SKU, qty: 1 }), { timeoutMs: 30_000 })).orderId;
      const warm = await mapLimit(Array.from({ length: 20 }), 10, place);
      await svc.waitForAllTerminal(warm, 60_000);

      await fake.setFaults({ down: 'unavailable' });
      const downAt = Date.now();
      const requestsAtDown = fake.stats.requests;
      const during: string[] = [];
      // Load while the provider is down: an order every 150 ms for most of the outage.
      while (Date.now() - downAt < OUTAGE_MS - 5_000) {
        during.push(await place());
        await sleep(150);
      }
      // Every order placed in the outage is visible as RESERVED (none failed, none paid).
      const seen = await mapLimit(during, 16, (orderId) =>
        svc.waitForStatus(orderId, (view) => view.status !== 'PENDING', 30_000),
      );
      expect(count(seen)).toEqual({ RESERVED: during.length });
      const stats = await svc.stats();
      expect(stats.orders.RESERVED).toBe(during.length);
      expect(await deadLetters(svc)).toEqual([]);
      const left = OUTAGE_MS - (Date.now() - downAt);
      if (left > 0) await sleep(left);
      const duringOutage = fake.stats.requests - requestsAtDown;
      await fake.setFaults({ down: false });

      // The breaker kept the work away from the failing provider. Without it every waiting
      // order would have reached it at least once, with three requests (the SDK's own
      // retries), and again on each backoff; with it, a few calls and one trial per period.
      expect(fake.stats.unavailable).toBe(duringOutage);
      expect(duringOutage).toBeLessThan(2 * during.length);

      const ids = [...warm, ...during];
      const final = await svc.waitForAllTerminal(ids, 180_000);
      const views = ids.map((id) => final.get(id) as OrderView);
      expect(count(views)).toEqual({ COMPLETED: ids.length });
      expect(terminalOnceViolations(views)).toEqual([]);
      expect(ledgerViolations(fake, views)).toEqual([]);
      expect(await deadLetters(svc)).toEqual([]);
      const stock = await checkStockConservation(svc, SKU, STOCK, views);
      expect(stock.violations).toEqual([]);
      expect(stock.reserved).toBe(0);
    },
  );
});

describe('the give-up horizon', () => {
  const SKU = 'STRIPE-GIVE-UP';
  let fake: FakeStripe;
  let svc: Service;

  beforeAll(async () => {
    fake = await startFake();
    await fake.setFaults({ down: 'refuse' });
    svc = await startService({
      env: stripeEnv(fake, { ORDERFLOW_PAYMENTS_GIVE_UP_AFTER: '3s' }),
    });
    await svc.putProduct(SKU, { name: 'Patient widget', price: PRICE, onHand: 10 });
  });

  it(
    'a provider down past the horizon: PAYMENT_FAILED with the reason, the stock released',
    { timeout: 120_000 },
    async () => {
      const { orderId } = await svc.placeAccepted(orderBody({ sku: SKU, qty: 3 }));
      const final = await svc.waitForTerminal(orderId, 90_000);
      expect(final.status).toBe('PAYMENT_FAILED');
      expect(final.history.map((entry) => entry.status)).toEqual([
        'PENDING',
        'RESERVED',
        'PAYMENT_FAILED',
      ]);
      const { reason } = final as OrderView & { reason?: string };
      expect(reason).toMatch(/payment provider unavailable/);
      expect(await svc.productWhen(SKU, { available: 10, reserved: 0 })).toMatchObject({
        available: 10,
        reserved: 0,
      });
      expect(fake.intentsFor(orderId)).toEqual([]);
      expect(await deadLetters(svc)).toEqual([]);
      expect(isTerminal(final.status)).toBe(true);
    },
  );

  it(
    'a charge that captured but whose answers were all lost: after the horizon it is found and refunded',
    { timeout: 120_000 },
    async () => {
      // The charge captures, its answer is lost, and the provider is gone before any retry.
      await fake.setFaults({ down: false, loseAnswerAfterCharge: 1 });
      const { orderId } = await svc.placeAccepted(orderBody({ sku: SKU, qty: 2 }));
      await waitFor(() => (fake.chargesFor(orderId) > 0 ? true : undefined), {
        timeoutMs: 15_000,
        intervalMs: 2,
        what: `the charge of ${orderId} to reach the provider`,
      });
      await fake.setFaults({ down: 'refuse', loseAnswerAfterCharge: 0 });
      const final = await svc.waitForTerminal(orderId, 90_000);
      expect(final.status).toBe('PAYMENT_FAILED');
      expect(fake.capturedFor(orderId)).toBe(2 * PRICE.amount);
      // The provider is back: what it holds for the order is found and refunded.
      await fake.setFaults({ down: false });
      await waitFor(() => (fake.refundedFor(orderId) > 0 ? true : undefined), {
        timeoutMs: 30_000,
        what: `the captured charge of ${orderId} to be found and refunded`,
      });
      expect(fake.capturedFor(orderId)).toBe(2 * PRICE.amount);
      expect(fake.refundedFor(orderId)).toBe(2 * PRICE.amount);
      expect(fake.refundsFor(orderId)).toBe(1);
      expect(await svc.productWhen(SKU, { available: 10, reserved: 0 })).toMatchObject({
        available: 10,
        reserved: 0,
      });
    },
  );
});
