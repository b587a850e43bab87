/**
 * Invariants 1, 2 and 5 across `kill -9`: the service runs as a child process under a
 * continuous load of orders, is SIGKILLed twice at random moments and restarted on the
 * same data dir. Afterwards every accepted order is terminal exactly once, no unit is
 * sold twice or lost, and the source of truth agrees.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, orderBody, totalOrders, VISA, type AcceptedOrder } from '../helpers/api.js';
import type { HttpResponse } from '../helpers/http.js';
import {
  checkStockConservation,
  terminalOnceViolations,
  waitForSotConsistent,
  watchStock,
} from '../helpers/invariants.js';
import { startService, stopAllServices, type ExitInfo, type Service } from '../helpers/service.js';
import { sotProduct } from '../helpers/sot.js';
import { sleep } from '../helpers/wait.js';

const SKU = 'CRASH-300';
const STOCK = 300;
const LOOPS = 3;
const KILLS = 2;

let svc: Service;

beforeAll(async () => {
  svc = await startService({
    env: {
      ORDERFLOW_RATE_LIMIT: '0',
      ORDERFLOW_DECLINE_LIMIT: '0',
      ORDERFLOW_SYNC_OUT_INTERVAL: '200ms',
    },
  });
});

afterAll(async () => {
  await stopAllServices();
});

function between(minMs: number, maxMs: number): number {
  return Math.round(minMs + Math.random() * (maxMs - minMs));
}

/**
 * Posts one order until it gets a definite answer, re-sending with the same
 * Idempotency-Key across connection errors, 409 in-flight and 503: an order whose 202 was
 * lost in a crash is then answered by the replay, so every order the service holds is known.
 */
async function placeUntilAnswered(
  body: ReturnType<typeof orderBody>,
  deadline: number,
): Promise<HttpResponse<AcceptedOrder> | undefined> {
  const key = randomUUID();
  while (Date.now() < deadline) {
    try {
      const res = await svc.placeOrder(body, {
        headers: { 'idempotency-key': key },
        timeoutMs: 10_000,
      });
      if (res.status !== 409 && res.status < 500) return res;
    } catch {
      // killed, restarting: try again with the same key
    }
    await sleep(100);
  }
  return undefined;
}

interface Load {
  readonly accepted: Set<string>;
  readonly refused: string[];
  inDoubt: number;
}

async function orderLoop(load: Load, loop: number, running: () => boolean): Promise<void> {
  for (let n = 1; running(); n++) {
    const paymentMethod = n % 5 === 0 ? DECLINED : VISA;
    const res = await placeUntilAnswered(
      orderBody({ sku: SKU, qty: 1, paymentMethod }),
      Date.now() + 90_000,
    );
    if (res === undefined) load.inDoubt++;
    else if (res.status === 202) load.accepted.add(res.json.orderId);
    else load.refused.push(`loop ${loop} #${n}: ${res.status} ${res.text}`);
    await sleep(30);
  }
}

describe('crash safety', () => {
  it(
    `keeps every invariant across ${KILLS} SIGKILLs under load`,
    { timeout: 420_000 },
    async () => {
      await svc.putProduct(SKU, {
        name: 'Crash-test dummy',
        price: { amount: 700, currency: 'USD' },
        onHand: STOCK,
      });

      const load: Load = { accepted: new Set(), refused: [], inDoubt: 0 };
      let loading = true;
      const loops = Array.from({ length: LOOPS }, (_, i) => orderLoop(load, i, () => loading));
      const watch = watchStock(svc, SKU);
      const kills: ExitInfo[] = [];
      const schedule: number[] = [];
      try {
        for (let k = 0; k < KILLS; k++) {
          const delay = between(800, 3000);
          schedule.push(delay);
          await sleep(delay);
          kills.push(await svc.kill('SIGKILL'));
          await sleep(between(50, 500));
          await svc.restart();
        }
        await sleep(2000);
      } finally {
        loading = false;
        await Promise.all(loops);
      }
      const negatives = await watch.stop();
      console.info(
        `crash test: kills after ${schedule.join(' ms, ')} ms; ${load.accepted.size} orders accepted`,
      );

      expect(kills.map((k) => k.signal)).toEqual(Array.from({ length: KILLS }, () => 'SIGKILL'));
      expect(load.inDoubt).toBe(0);
      expect(load.refused).toEqual([]);
      expect(load.accepted.size).toBeGreaterThan(0);

      // Invariant 1: every order answered 202 reaches exactly one terminal status.
      const orders = await svc.waitForAllTerminal([...load.accepted], 180_000);
      const views = [...orders.values()];
      expect(terminalOnceViolations(views)).toEqual([]);

      // No order the client never heard of: the service holds exactly the accepted ones.
      const stats = await svc.stats();
      expect(totalOrders(stats)).toBe(load.accepted.size);
      expect(stats.orders.COMPLETED ?? 0).toBe(
        views.filter((o) => o.status === 'COMPLETED').length,
      );

      // Invariant 2: no unit sold twice, none lost; available never below zero.
      const stock = await checkStockConservation(svc, SKU, STOCK, views);
      expect(stock.violations).toEqual([]);
      expect(stock.reserved).toBe(0);
      expect(negatives).toEqual([]);

      // Invariant 5: after sync-out the SoT holds each terminal order once and the same stock.
      expect(await waitForSotConsistent(svc, views, [SKU], { timeoutMs: 60_000 })).toEqual([]);
      expect(sotProduct(svc.dataDir, SKU)?.on_hand).toBe(STOCK - stock.sold);

      // And it still shuts down cleanly.
      expect(await svc.stop()).toEqual({ code: 0, signal: null });
    },
  );
});
