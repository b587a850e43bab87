/**
 * The dashboard's figures from what the stores hold: latency percentiles over the latest
 * orders, the hottest SKUs, the breakers summed up, and the rates from the shared counts —
 * the rates on a real SQLite order store, the clock moved by hand.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import { SqliteOrderStore } from '../../src/adapters/sqlite/sqlite-order-store.js';
import type { Order } from '../../src/domain/order.js';
import type { OrderStatus } from '../../src/domain/status.js';
import { RATE_HISTORY_S, RateHistory } from '../../src/workflow/dashboard-rates.js';
import { hottestSkus, latencyOf, summarize } from '../../src/workflow/dashboard-service.js';
import { ManualClock } from '../contract/fixture.js';

const START = Date.UTC(2030, 0, 1, 12);

function order(
  id: string,
  items: Order['items'],
  history: readonly [OrderStatus, number][],
): Order {
  const at = (ms: number) => new Date(START + ms).toISOString();
  return {
    orderId: id,
    status: history.at(-1)?.[0] ?? 'PENDING',
    customerId: 'c1',
    email: 'c1@example.com',
    items,
    total: { amount: 100, currency: 'USD' },
    paymentMethod: 'pm_card_visa',
    owner: 'test',
    clientIp: '127.0.0.1',
    history: history.map(([status, ms]) => ({ status, at: at(ms) })),
    createdAt: at(0),
    updatedAt: at(history.at(-1)?.[1] ?? 0),
  };
}

const line = (sku: string, qty: number) => ({
  sku,
  qty,
  unitPrice: { amount: 100, currency: 'USD' },
});

describe('dashboard figures', () => {
  it('latency: 202 to the first terminal status, nearest rank, over the ended orders only', () => {
    const orders = Array.from({ length: 100 }, (_, i) =>
      order(
        `o${i}`,
        [line('A', 1)],
        [
          ['PENDING', 0],
          ['RESERVED', 5],
          ['PAID', 10],
          ['COMPLETED', (i + 1) * 10],
          // A later refund does not move the order's latency.
          ...(i === 99 ? ([['REFUNDED', 1_000_000]] as [OrderStatus, number][]) : []),
        ],
      ),
    );
    orders.push(order('open', [line('A', 1)], [['PENDING', 0]]));
    expect(latencyOf(orders)).toEqual({ p50Ms: 500, p99Ms: 990, orders: 100 });
    expect(latencyOf([order('open', [line('A', 1)], [['PENDING', 0]])])).toBeNull();
  });

  it('hottest SKUs: by units ordered, ties by SKU', () => {
    const orders = [
      order('1', [line('B', 2), line('A', 1)], []),
      order('2', [line('C', 3)], []),
      order('3', [line('A', 1), line('D', 1)], []),
    ];
    expect(hottestSkus(orders, 3)).toEqual(['C', 'A', 'B']);
  });

  it('breakers: the worst state, how many processes and how many open; none without reports', () => {
    expect(summarize([])).toEqual({ state: 'none', processes: 0, open: 0 });
    expect(summarize(['closed', 'closed'])).toEqual({ state: 'closed', processes: 2, open: 0 });
    expect(summarize(['closed', 'half-open'])).toMatchObject({ state: 'half-open' });
    expect(summarize(['half-open', 'open', 'open'])).toEqual({
      state: 'open',
      processes: 3,
      open: 2,
    });
  });

  describe('rates from the order store’s counts', () => {
    let dir: string;
    let log: SqliteEventLog;
    let orders: SqliteOrderStore;
    let clock: ManualClock;

    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderflow-rates-'));
      clock = new ManualClock(START);
      const file = path.join(dir, 'orderflow.db');
      log = new SqliteEventLog(file, clock);
      orders = new SqliteOrderStore(file, log);
    });

    afterEach(async () => {
      await orders.close();
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const place = async (id: string) => {
      await orders.create(order(id, [line('A', 1)], [['PENDING', 0]]));
    };
    const complete = async (id: string) => {
      const at = new Date(clock.now()).toISOString();
      await orders.transition(id, 'PENDING', 'RESERVED', at);
      await orders.transition(id, 'RESERVED', 'PAID', at);
      await orders.transition(id, 'PAID', 'COMPLETED', at);
    };

    it('per second accepted and completed, over the time between two readings', async () => {
      const rates = new RateHistory(orders, clock);
      await rates.sample();
      expect(rates.history()).toEqual([]);
      for (const id of ['a', 'b', 'c']) await place(id);
      await complete('a');
      clock.advance(1_000);
      await rates.sample();
      expect(rates.history().at(-1)).toEqual({
        at: clock.now(),
        acceptedPerS: 3,
        completedPerS: 1,
      });
      expect(rates.latest()).toEqual({ acceptedPerS: 3, completedPerS: 1 });

      // Two seconds later, four more accepted and two completed: two and one a second.
      for (const id of ['d', 'e', 'f', 'g']) await place(id);
      await complete('b');
      await complete('c');
      clock.advance(2_000);
      await rates.sample();
      expect(rates.latest()).toMatchObject({ acceptedPerS: 2, completedPerS: 1 });
      expect(rates.history()).toHaveLength(2);
    });

    it('gives up a reading the store never answers, and samples again after it', async () => {
      let hang = true;
      const hanging = new Proxy(orders, {
        get(target, property) {
          if (property === 'countByStatus' && hang)
            return () => new Promise<never>(() => undefined);
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function'
            ? (value as (...args: unknown[]) => unknown).bind(target)
            : value;
        },
      });
      const rates = new RateHistory(hanging, clock, 50);
      await rates.sample();
      hang = false;
      await rates.sample();
      await place('a');
      clock.advance(1_000);
      await rates.sample();
      expect(rates.latest()).toMatchObject({ acceptedPerS: 1 });
    });

    it('keeps the last 15 minutes of samples', async () => {
      const rates = new RateHistory(orders, clock);
      for (let i = 0; i <= RATE_HISTORY_S + 5; i++) {
        await rates.sample();
        clock.advance(1_000);
      }
      const history = rates.history();
      expect(history).toHaveLength(RATE_HISTORY_S);
      expect(history.at(-1)?.at).toBe(clock.now() - 1_000);
    });
  });
});
