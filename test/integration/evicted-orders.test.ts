/**
 * An order that left the cache (past the order retention, the SoT holding it) is finished:
 * a late event of it — a dead-lettered OrderPlaced redriven, a status change replayed —
 * must neither place it again (a second charge, a second sale) nor give its sold stock back.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedPayments } from '../../src/adapters/payments/simulated-payments.js';
import { openSqliteBackend, type SqliteBackend } from '../../src/adapters/sqlite/sqlite-backend.js';
import type { Order } from '../../src/domain/order.js';
import { Intake } from '../../src/workflow/intake.js';
import { OrderSaga } from '../../src/workflow/saga.js';
import { SourceOfTruthSync } from '../../src/workflow/sync.js';
import { systemClock } from '../contract/fixture.js';

const RETENTION = { logMs: 0, orderMs: 100, deadLettersPerGroup: 10, logMaxBytes: 0 };

describe('an order evicted from the cache', () => {
  let dir: string;
  let backend: SqliteBackend;
  let saga: OrderSaga;
  let payments: SimulatedPayments;
  let order: Order;

  const available = async (): Promise<number | undefined> =>
    (await backend.stock.items(['X1'])).get('X1')?.available;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-evicted-'));
    backend = openSqliteBackend(dir, systemClock, { retention: RETENTION });
    payments = new SimulatedPayments(0);
    saga = new OrderSaga({
      ...backend,
      payments,
      clock: systemClock,
      reservationTtlMs: 60_000,
      paymentGiveUpMs: 60_000,
    });
    const sync = new SourceOfTruthSync({ ...backend, clock: systemClock });
    await sync.putProduct({
      sku: 'X1',
      name: 'x',
      price: { amount: 500, currency: 'USD' },
      onHand: 10,
    });
    const intake = new Intake({ ...backend, clock: systemClock, newId: randomUUID });
    const placed = await intake.place(
      {
        customerId: 'cus_1',
        email: 'buyer@example.com',
        items: [{ sku: 'X1', qty: 1 }],
        paymentMethod: 'pm_card_visa',
      },
      { owner: 'client', ip: '127.0.0.1' },
    );
    await saga.advance(placed.orderId, { placed });
    order = (await backend.orders.get(placed.orderId)) ?? placed;
    expect(order.status).toBe('COMPLETED');
    await backend.outbox.add(order.orderId, 'COMPLETED');
    await sync.syncOut();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await backend.orders.evictSettled()).toBe(1);
    expect(await available()).toBe(9);
  });

  afterEach(async () => {
    await backend.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is not placed again by its OrderPlaced redriven', async () => {
    const placedCopy = { ...order, status: 'PENDING' as const, history: [order.history[0]!] };
    await saga.advance(order.orderId, { placed: placedCopy });
    expect(await backend.orders.get(order.orderId)).toBeUndefined();
    expect(await available()).toBe(9);
    expect((await backend.sot.order(order.orderId))?.status).toBe('COMPLETED');
  });

  it('keeps its sold stock when a late event of it arrives', async () => {
    await saga.advance(order.orderId);
    expect(await available()).toBe(9);
    expect((await backend.stock.items(['X1'])).get('X1')?.reserved ?? 0).toBe(0);
  });
});
