import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteBackend, type SqliteBackend } from '../../src/adapters/sqlite/sqlite-backend.js';
import type { Order } from '../../src/domain/order.js';
import type { SourceOfTruth } from '../../src/ports/source-of-truth.js';
import { SourceOfTruthSync } from '../../src/workflow/sync.js';
import { systemClock } from '../contract/fixture.js';
import { makeOrder } from '../contract/support.js';

const usd = (amount: number) => ({ amount, currency: 'USD' });

/** A source of truth whose applyOrders commits and then loses its answer, as a crash would. */
function losingAnswers(sot: SourceOfTruth): SourceOfTruth {
  return Object.assign(Object.create(sot) as SourceOfTruth, {
    applyOrders: async (orders: readonly Order[]) => {
      await sot.applyOrders(orders);
      throw new Error('connection lost after commit');
    },
  });
}

describe('source-of-truth sync', () => {
  let dir: string;
  let backend: SqliteBackend;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-sync-'));
    backend = openSqliteBackend(dir, systemClock);
  });
  afterEach(async () => {
    await backend.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const sold = async (qty: number): Promise<Order> => {
    const order = makeOrder({
      status: 'COMPLETED',
      items: [{ sku: 'X1', qty, unitPrice: usd(100) }],
      total: usd(100 * qty),
    });
    await backend.orders.create(order);
    expect(
      await backend.stock.reserve(order.orderId, order.items, Date.now() + 60_000),
    ).toMatchObject({
      ok: true,
    });
    await backend.stock.commit(order.orderId);
    await backend.outbox.add(order.orderId, 'COMPLETED');
    return order;
  };
  const available = async (): Promise<number | undefined> =>
    (await backend.stock.items(['X1'])).get('X1')?.available;

  it('sells nothing twice nor loses stock when a sync-out lost its answer after the SoT commit', async () => {
    const sync = new SourceOfTruthSync({ ...backend, clock: systemClock });
    await sync.putProduct({ sku: 'X1', name: 'x', price: usd(100), onHand: 10 });
    await sold(3);
    expect(await available()).toBe(7);

    const unlucky = new SourceOfTruthSync({
      ...backend,
      sot: losingAnswers(backend.sot),
      clock: systemClock,
    });
    await expect(unlucky.syncOut()).rejects.toThrow('connection lost');
    expect((await backend.sot.product('X1'))?.onHand).toBe(7); // committed, unmarked in the cache

    expect(await sync.syncIn()).toBe(1);
    expect(await available()).toBe(7);
    expect((await backend.sot.product('X1'))?.onHand).toBe(7);
    expect(await backend.outbox.size()).toBe(0);
  });

  it('reconciles a restock against orders sold but not yet synced', async () => {
    const sync = new SourceOfTruthSync({ ...backend, clock: systemClock });
    await sync.putProduct({ sku: 'X1', name: 'x', price: usd(100), onHand: 10 });
    await sold(4);
    const held = makeOrder({
      items: [{ sku: 'X1', qty: 2, unitPrice: usd(100) }],
      total: usd(200),
    });
    await backend.stock.reserve(held.orderId, held.items, Date.now() + 60_000);
    await sync.putProduct({ sku: 'X1', name: 'x', price: usd(100), onHand: 20 });
    // 20 on hand in the SoT (after the push of the sold 4: 20 is the admin's new count), 2 held.
    expect(await available()).toBe(18);
    expect(await sync.syncOut()).toBe(0);
    expect(await sync.syncIn()).toBe(1);
    expect(await available()).toBe(18);
  });

  it('lets an order leave the cache only once sync-out wrote it and the retention passed', async () => {
    await backend.close();
    backend = openSqliteBackend(dir, systemClock, {
      retention: { logMs: 0, orderMs: 100, deadLettersPerGroup: 10, logMaxBytes: 0 },
    });
    const sync = new SourceOfTruthSync({ ...backend, clock: systemClock });
    await sync.putProduct({ sku: 'X1', name: 'x', price: usd(100), onHand: 10 });
    const synced = await sold(1);
    await sync.syncOut();
    const waiting = await sold(2); // in the outbox, not yet in the SoT
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await backend.orders.evictSettled()).toBe(1);
    expect(await backend.orders.get(synced.orderId)).toBeUndefined();
    expect(await backend.sot.order(synced.orderId)).toMatchObject({
      orderId: synced.orderId,
      status: 'COMPLETED',
      archived: true,
    });
    expect(await backend.orders.get(waiting.orderId)).toBeDefined();
    // Synced now, but only just: it stays for the retention.
    await sync.syncOut();
    expect(await backend.orders.evictSettled()).toBe(0);
    expect(await backend.orders.get(waiting.orderId)).toBeDefined();
  });
});
