/**
 * One order's events handled at the same moment by two workers: JetStream hands an order's
 * events to any worker, so the saga must be right under any interleaving. Two sagas, each
 * on backends of its own (its own Redis and NATS connections, as two worker processes have),
 * race on many orders at once; afterwards every order is terminal and per SKU
 * `on_hand = available + reserved + Σ qty of COMPLETED orders`, with nothing left held.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedPayments } from '../../src/adapters/payments/simulated-payments.js';
import type { OrderEvent } from '../../src/domain/events.js';
import type { Order } from '../../src/domain/order.js';
import { openBackends } from '../../src/runtime/backends.js';
import { loadConfig } from '../../src/runtime/config.js';
import type { Backends } from '../../src/runtime/context.js';
import { Intake } from '../../src/workflow/intake.js';
import { OrderSaga } from '../../src/workflow/saga.js';
import { dropNamespace } from '../helpers/cluster.js';
import { ENGINES, enginesUp, randomNamespace } from '../helpers/engines.js';

const up = await enginesUp('redis', 'nats', 'postgres');
const ON_HAND = 10_000;
const ROUNDS = 80;
const clock = { now: () => Date.now() };

/** Starts `work` after 0–`spreadMs` ms, so the two workers' steps interleave every which way. */
function jittered(work: () => Promise<void>, spreadMs = 8): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * spreadMs)).then(work);
}

describe.skipIf(!up)('two workers racing one order', () => {
  const namespace = randomNamespace('race');
  const config = loadConfig({
    ORDERFLOW_REDIS_URL: ENGINES.redis,
    ORDERFLOW_NATS_URL: ENGINES.nats,
    ORDERFLOW_DATABASE_URL: ENGINES.postgres,
    ORDERFLOW_NAMESPACE: namespace,
  });
  const payments = new SimulatedPayments(0);
  let workers: { backends: Backends; saga: OrderSaga }[];
  let intake: Intake;
  let sku: string;

  beforeAll(async () => {
    workers = [];
    for (let i = 0; i < 2; i++) {
      const backends = await openBackends(config, clock);
      const saga = new OrderSaga({
        ...backends,
        payments,
        clock,
        reservationTtlMs: 60_000,
        paymentGiveUpMs: 3_600_000,
      });
      workers.push({ backends, saga });
    }
    const first = worker(0);
    intake = new Intake({ ...first.backends, clock, newId: randomUUID });
    sku = `R${randomUUID().slice(0, 8)}`;
    await first.backends.stock.reconcile([
      { sku, name: 'Racer', price: { amount: 500, currency: 'USD' }, onHand: ON_HAND },
    ]);
  }, 60_000);

  afterAll(async () => {
    for (const worker of workers ?? []) await worker.backends.close();
    await dropNamespace(namespace);
  });

  /** Orders sold by the earlier tests of this file. */
  let soldEarlier = 0;
  const worker = (index: number): { backends: Backends; saga: OrderSaga } => {
    const found = workers[index];
    if (!found) throw new Error('workers not open');
    return found;
  };
  const a = () => worker(0);
  const b = () => worker(1);

  const place = (paymentMethod: string, qty = 1): Promise<Order> =>
    intake.place(
      { customerId: 'racer', email: 'racer@example.com', items: [{ sku, qty }], paymentMethod },
      { owner: 'client', ip: '127.0.0.1' },
    );

  async function expectStockConserved(orders: readonly Order[]): Promise<void> {
    const finals = await Promise.all(orders.map((order) => a().backends.orders.get(order.orderId)));
    const sold = finals
      .filter((order) => order?.status === 'COMPLETED')
      .reduce((sum, order) => sum + (order?.items[0]?.qty ?? 0), 0);
    const item = (await a().backends.stock.items([sku])).get(sku);
    expect(item?.reserved).toBe(0);
    expect((item?.available ?? 0) + sold).toBe(ON_HAND - soldEarlier);
  }

  it('reservation expiry on one worker, the payment webhook on the other', async () => {
    const orders: Order[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = await place('pm_card_authenticationRequired');
      await a().saga.advance(order.orderId);
      const reserved = await a().backends.orders.get(order.orderId);
      expect(reserved?.status).toBe('RESERVED');
      orders.push(order);
    }
    const expired = (order: Order): OrderEvent => ({
      type: 'ReservationExpired',
      orderId: order.orderId,
      expiresAt: Date.now(),
      at: new Date().toISOString(),
    });
    await Promise.all(
      orders.map((order) =>
        Promise.all([
          jittered(() => a().saga.handle(expired(order))),
          jittered(() => b().saga.confirmPayment(order.orderId, `pi_race_${order.orderId}`, true)),
        ]),
      ),
    );
    const finals = await Promise.all(orders.map((order) => a().backends.orders.get(order.orderId)));
    const statuses = new Set(finals.map((order) => order?.status));
    for (const status of statuses) expect(['COMPLETED', 'CANCELLED']).toContain(status);
    await expectStockConserved(orders);
    soldEarlier += finals.filter((order) => order?.status === 'COMPLETED').length;
    console.log(
      `expiry vs webhook: ${finals.filter((o) => o?.status === 'COMPLETED').length} COMPLETED, ` +
        `${finals.filter((o) => o?.status === 'CANCELLED').length} CANCELLED`,
    );
  }, 120_000);

  it('a cancel on one worker while the other reserves', async () => {
    const orders: Order[] = [];
    for (let round = 0; round < ROUNDS; round++) orders.push(await place('pm_card_visa'));
    await Promise.all(
      orders.map((order) =>
        Promise.all([
          jittered(() => a().saga.handle({ type: 'OrderPlaced', order }), 2),
          jittered(
            () =>
              b().saga.handle({
                type: 'CancelRequested',
                orderId: order.orderId,
                at: new Date().toISOString(),
              }),
            2,
          ),
        ]),
      ),
    );
    const finals = await Promise.all(orders.map((order) => a().backends.orders.get(order.orderId)));
    for (const order of finals) expect(['CANCELLED', 'REFUNDED']).toContain(order?.status);
    await expectStockConserved(orders);
  }, 120_000);

  it('two workers handling the same OrderPlaced charge and sell once', async () => {
    const orders: Order[] = [];
    for (let round = 0; round < ROUNDS; round++) orders.push(await place('pm_card_visa', 2));
    await Promise.all(
      orders.map((order) =>
        Promise.all([
          jittered(() => a().saga.handle({ type: 'OrderPlaced', order })),
          jittered(() => b().saga.handle({ type: 'OrderPlaced', order })),
        ]),
      ),
    );
    const finals = await Promise.all(orders.map((order) => a().backends.orders.get(order.orderId)));
    for (const order of finals) {
      expect(order?.status).toBe('COMPLETED');
      expect(order?.history.map((entry) => entry.status)).toEqual([
        'PENDING',
        'RESERVED',
        'PAID',
        'COMPLETED',
      ]);
    }
    const item = (await a().backends.stock.items([sku])).get(sku);
    expect(item?.reserved).toBe(0);
    expect(item?.available).toBe(ON_HAND - soldEarlier - 2 * ROUNDS);
  }, 120_000);
});
