/**
 * The chaos run: two API and two worker processes and a scheduler on engines of this test's
 * own (Redis and NATS behind fault proxies, a private PostgreSQL), a Stripe-compatible
 * provider, and a mixed load of keyed orders — plain, declined, 3-D Secure completed by
 * webhook or left to expire, cancelled before or after payment — while a fault schedule kills
 * a worker, delays NATS acks past the publish timeout, cuts Redis for seconds and stops
 * PostgreSQL. Every client retries a 503 with its Idempotency-Key. After quiescence every
 * invariant of DESIGN.md is checked, and the counts are printed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DECLINED,
  errorCode,
  isTerminal,
  orderBody,
  totalOrders,
  VISA,
  type OrderView,
} from '../helpers/api.js';
import { FakeStripe, ledgerViolations } from '../helpers/fake-stripe.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { fetchOrders, soldQty, terminalOnceViolations } from '../helpers/invariants.js';
import {
  privateEnginesAvailable,
  startPrivateBackends,
  startServicesOn,
  type PrivateBackends,
} from '../helpers/private-engines.js';
import type { Service } from '../helpers/service.js';
import { sleep, waitFor } from '../helpers/wait.js';

const ORDERS = 2_000;
const CLIENTS = 16;
const API_KEY = 'sk_test_chaos';
const SECRET = 'whsec_chaos';
const AUTHENTICATION_REQUIRED = 'pm_card_authenticationRequired';
const STOCK = { A123: 1_600, B456: 250 } as const;
type Sku = keyof typeof STOCK;
const PRICES: Record<Sku, number> = { A123: 1999, B456: 4900 };

type Scenario = 'visa' | 'declined' | '3ds-completed' | '3ds-expired' | 'cancel';

interface Keyed {
  readonly key: string;
  readonly scenario: Scenario;
  readonly sku: Sku;
  /** The last answer's status; 202 once accepted. */
  status: number;
  error: string | undefined;
  orderId: string | undefined;
  retries: number;
  /** Its cancel was answered 202: it must end CANCELLED or REFUNDED. */
  cancelAccepted?: boolean;
}

function pick(): { scenario: Scenario; sku: Sku } {
  const roll = Math.random();
  const scenario: Scenario =
    roll < 0.6
      ? 'visa'
      : roll < 0.7
        ? 'declined'
        : roll < 0.78
          ? '3ds-completed'
          : roll < 0.85
            ? '3ds-expired'
            : 'cancel';
  return { scenario, sku: Math.random() < 0.7 ? 'A123' : 'B456' };
}

const paymentMethodOf = (scenario: Scenario): string =>
  scenario === 'declined' ? DECLINED : scenario.startsWith('3ds') ? AUTHENTICATION_REQUIRED : VISA;

describe.skipIf(!privateEnginesAvailable())('chaos: 2 API + 2 workers under faults', () => {
  let backends: PrivateBackends;
  let natsProxy: FaultProxy;
  let redisProxy: FaultProxy;
  let fake: FakeStripe;
  let apis: Service[];
  let workers: Service[];
  let scheduler: Service;
  const faults: string[] = [];
  let webhooksSent = 0;
  let cancelsSent = 0;

  beforeAll(async () => {
    backends = await startPrivateBackends();
    natsProxy = await FaultProxy.start(backends.nats.url);
    redisProxy = await FaultProxy.start(backends.redis.url);
    fake = new FakeStripe({ apiKey: API_KEY });
    await fake.start();
    const services = await startServicesOn(
      backends,
      ['api', 'api', 'worker', 'worker', 'scheduler'],
      {
        ORDERFLOW_NATS_URL: natsProxy.url,
        ORDERFLOW_REDIS_URL: redisProxy.url,
        ORDERFLOW_PAYMENTS_URL: fake.url,
        ORDERFLOW_PAYMENTS_KEY: API_KEY,
        ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: SECRET,
        ORDERFLOW_RESERVATION_TTL: '3s',
        ORDERFLOW_SYNC_OUT_INTERVAL: '300ms',
      },
    );
    apis = services.slice(0, 2);
    workers = services.slice(2, 4);
    scheduler = services[4] as Service;
    for (const sku of Object.keys(STOCK) as Sku[]) {
      const put = await (apis[0] as Service).request('PUT', `/v1/admin/products/${sku}`, {
        key: 'admin',
        body: {
          name: sku,
          price: { amount: PRICES[sku], currency: 'USD' },
          onHand: STOCK[sku],
        },
      });
      expect(put.status).toBe(200);
    }
  }, 180_000);

  afterAll(async () => {
    for (const service of [...(apis ?? []), ...(workers ?? []), scheduler]) {
      await service?.stop(15_000).catch(() => service.killNow());
    }
    await fake?.stop();
    await natsProxy?.close();
    await redisProxy?.close();
    await backends?.dispose();
  });

  const api = (): Service => apis[Math.floor(Math.random() * apis.length)] as Service;

  /** Sends until a definite answer: 503 after its Retry-After, 409 and lost connections soon. */
  async function untilDefinite(
    send: () => Promise<{ status: number; json: unknown; retryAfter?: string }>,
    deadline: number,
    onRetry: () => void = () => undefined,
    retried: readonly number[] = [0, 409, 503],
  ): Promise<{ status: number; json: unknown }> {
    for (;;) {
      let answer: { status: number; json: unknown; retryAfter?: string };
      try {
        answer = await send();
      } catch {
        answer = { status: 0, json: undefined };
      }
      if (!retried.includes(answer.status) || Date.now() > deadline) return answer;
      onRetry();
      await sleep(answer.status === 503 ? Number(answer.retryAfter ?? 1) * 1000 : 100);
    }
  }

  async function placeKeyed(keyed: Keyed, deadline: number): Promise<void> {
    const body = orderBody({
      sku: keyed.sku,
      qty: 1 + Math.floor(Math.random() * 2),
      paymentMethod: paymentMethodOf(keyed.scenario),
    });
    const answer = await untilDefinite(
      async () => {
        const res = await api().placeOrder(body, {
          headers: { 'idempotency-key': keyed.key },
          timeoutMs: 10_000,
        });
        const retryAfter = res.headers['retry-after'];
        return {
          status: res.status,
          json: res.json,
          retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
        };
      },
      deadline,
      () => (keyed.retries += 1),
    );
    keyed.status = answer.status;
    keyed.error = errorCode(answer.json);
    if (answer.status === 202) keyed.orderId = (answer.json as { orderId: string }).orderId;
  }

  /** After the 202: a cancel, or the customer completing 3-D Secure (the provider's webhook). */
  async function followUp(keyed: Keyed, deadline: number): Promise<void> {
    const orderId = keyed.orderId;
    if (!orderId) return;
    if (keyed.scenario === 'cancel') {
      await sleep(Math.random() * 1_500);
      cancelsSent += 1;
      // A 409 here is `not_cancellable`: a definite answer.
      const answer = await untilDefinite(
        async () => {
          const res = await api().cancel(orderId);
          return { status: res.status, json: res.json };
        },
        deadline,
        undefined,
        [0, 503],
      );
      keyed.cancelAccepted = answer.status === 202;
    } else if (keyed.scenario === '3ds-completed') {
      // Until its PaymentIntent awaits the customer, or the order ended without one (no stock).
      const intent = await waitFor(
        async () => {
          const waiting = fake
            .intentsFor(orderId)
            .find((candidate) => candidate.status === 'requires_action');
          if (waiting) return waiting;
          const order = await api()
            .getOrder(orderId)
            .catch(() => undefined);
          return order && isTerminal(order.status) ? null : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: `the 3-D Secure payment of ${orderId}` },
      ).catch(() => null);
      if (!intent) return;
      await sleep(Math.random() * 2_000);
      let event;
      try {
        event = fake.completeAuthentication(intent.id);
      } catch {
        return; // cancelled at its expiry meanwhile: the customer is too late
      }
      const webhook = fake.signedWebhook(event, SECRET);
      webhooksSent += 1;
      await untilDefinite(async () => {
        const res = await api().request('POST', '/v1/webhooks/stripe', {
          key: 'none',
          raw: webhook.body,
          headers: webhook.headers,
        });
        return { status: res.status, json: res.json };
      }, deadline);
    }
  }

  async function faultSchedule(): Promise<void> {
    const worker = workers[0] as Service;
    await sleep(1_500);
    faults.push('SIGKILL worker');
    await worker.kill('SIGKILL');
    await sleep(2_000);
    await worker.restart();
    faults.push('NATS acks delayed 1.5 s');
    natsProxy.delay(1_500);
    await sleep(3_000);
    natsProxy.restore();
    await sleep(1_000);
    faults.push('Redis cut 3 s');
    redisProxy.cut();
    await sleep(3_000);
    redisProxy.restore();
    await sleep(1_000);
    faults.push('PostgreSQL stopped 5 s');
    await backends.postgres.stop();
    await sleep(5_000);
    await backends.postgres.start();
  }

  it('keeps every invariant', async () => {
    const keyed: Keyed[] = [];
    const deadline = Date.now() + 120_000;
    let issued = 0;
    const followUps: Promise<void>[] = [];
    const client = async (): Promise<void> => {
      while (issued < ORDERS) {
        issued += 1;
        const order: Keyed = {
          key: randomUUID(),
          ...pick(),
          status: 0,
          error: undefined,
          orderId: undefined,
          retries: 0,
        };
        keyed.push(order);
        await placeKeyed(order, deadline);
        followUps.push(followUp(order, deadline));
      }
    };
    const startedAt = Date.now();
    const schedule = faultSchedule();
    await Promise.all(Array.from({ length: CLIENTS }, client));
    await schedule;
    const loadMs = Date.now() - startedAt;
    await Promise.all(followUps);

    // Every client got a definite answer: a 202, or a refusal that made no order.
    const undecided = keyed.filter((order) => [0, 409, 503].includes(order.status));
    expect(undecided.map((order) => `${order.key}: ${order.status}`)).toEqual([]);
    const accepted = keyed.filter((order) => order.status === 202);
    const refused = keyed.filter((order) => order.status !== 202);
    const ids = accepted.map((order) => order.orderId as string);
    expect(new Set(ids).size).toBe(accepted.length);

    // Quiescence: every accepted order terminal (expiries, refunds of late cancels included).
    await sleep(4_000);
    await (apis[0] as Service).waitForAllTerminal(ids, 180_000);
    // A COMPLETED order with a cancel accepted goes on to REFUNDED: wait for those too,
    // then read every order as it finally is.
    const cancelled = accepted.filter((order) => order.cancelAccepted);
    await waitFor(
      async () => {
        const now = await fetchOrders(
          apis[0] as Service,
          cancelled.map((o) => o.orderId as string),
        );
        // Not COMPLETED (then it owes a refund); CANCELLED, REFUNDED, or ended before the
        // cancel could matter (no stock, declined).
        return [...now.values()].every(
          (view) => isTerminal(view.status) && view.status !== 'COMPLETED',
        )
          ? true
          : undefined;
      },
      { timeoutMs: 60_000, what: 'every accepted cancel to be carried out' },
    );
    const views: OrderView[] = [...(await fetchOrders(apis[0] as Service, ids)).values()];
    const byStatus: Record<string, number> = {};
    for (const view of views) byStatus[view.status] = (byStatus[view.status] ?? 0) + 1;
    const refusals: Record<string, number> = {};
    for (const order of refused) {
      const code = order.error ?? String(order.status);
      refusals[code] = (refusals[code] ?? 0) + 1;
    }
    console.log(
      [
        `chaos: ${keyed.length} keys, ${accepted.length} accepted, ${refused.length} refused ${JSON.stringify(refusals)}`,
        `retried ${keyed.reduce((sum, order) => sum + order.retries, 0)} times`,
        `orders by status ${JSON.stringify(byStatus)}`,
        `${webhooksSent} webhooks, ${cancelsSent} cancels`,
        `faults: ${faults.join(', ')}`,
        `load ${Math.round(loadMs / 1000)} s, follow-ups and quiet after ${Math.round((Date.now() - startedAt) / 1000)} s`,
      ].join('; '),
    );
    expect(terminalOnceViolations(views)).toEqual([]);

    // No order exists that its client was not told about (nor one twice).
    const stats = await (apis[0] as Service).stats();
    expect(totalOrders(stats)).toBe(accepted.length);

    // Stock: on hand = available + reserved + sold, nothing left held.
    for (const sku of Object.keys(STOCK) as Sku[]) {
      const product = await (apis[0] as Service).productWhen(sku, { reserved: 0 });
      expect(product.reserved, sku).toBe(0);
      expect(product.available + soldQty(views, sku), sku).toBe(STOCK[sku]);
    }

    // Money: captured − refunded = the order's total if COMPLETED, else 0; no charge twice.
    expect(ledgerViolations(fake, views)).toEqual([]);

    // The source of truth: every terminal order once, with its status; on_hand = stock − sold.
    let sotState = 'not read yet';
    await waitFor(
      async () => {
        const rows = await backends.postgres.sql<{ order_id: string; status: string }>(
          'SELECT order_id, status FROM orders',
        );
        const byId = new Map(rows.map((row) => [row.order_id, row.status]));
        const wrong = views.filter((view) => byId.get(view.orderId) !== view.status);
        sotState =
          `${rows.length} rows for ${views.length} orders; ${wrong.length} differ, e.g. ` +
          wrong
            .slice(0, 5)
            .map((view) => `${view.orderId} ${view.status} (SoT ${byId.get(view.orderId)})`)
            .join(', ');
        return rows.length === views.length && wrong.length === 0 ? true : undefined;
      },
      {
        timeoutMs: 60_000,
        what: 'the source of truth to hold every terminal order once',
        describe: () => sotState,
      },
    );
    for (const sku of Object.keys(STOCK) as Sku[]) {
      const [row] = await backends.postgres.sql<{ on_hand: number }>(
        'SELECT on_hand FROM products WHERE sku = $1',
        [sku],
      );
      expect(Number(row?.on_hand), `SoT on_hand of ${sku}`).toBe(STOCK[sku] - soldQty(views, sku));
    }
  }, 420_000);
});
